"""Edit-loop benchmark: from a saved file to the new content served by the running app.

In a sandbox started with ``--run-apps``, a template is launched and downloaded; then, each
round, one file is saved with a new marker and the clock runs until the app's page serves it:

1. ``sync``: ``client.applications.sync(app, folder)`` called right after the save;
2. ``watch``: ``sync(app, folder, watch=True)`` running in a thread, nothing called;
3. the obvious way (what ``drapps`` does): a new version holding the whole folder, the app
   patched onto it, its status polled once a second.

    .venv/bin/python benchmarks/edit_loop.py [--rounds 5] [--templates "Flask App Base"]

A Streamlit page is drawn over a websocket, so its HTML never holds the marker: for it the
clock stops when the application runs a version other than the one before the save and its
health check (``_stcore/health``) answers 200 (Streamlit runs the new script for the next
session from then on).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import requests

from dr_notebook.client import Client
from dr_notebook.models import Application
from dr_notebook.resources.sync import SyncResult
from dr_notebook.sandbox.testing import start_sandbox

#: Per template: the file edited, and how a marker goes into it.
EDITS: dict[str, tuple[str, Callable[[str, str], str]]] = {
    "Flask App Base": (
        "templates/index.html",
        lambda text, m: text.replace("<h1>", f"<h1>{m} ", 1),
    ),
    "Streamlit App Base": ("app.py", lambda text, m: text + f"\nst.caption('{m}')\n"),
}


def served(
    client: Client, app: Application, template: str, marker: str, before: str | None
) -> float:
    """Poll every 20 ms until the app serves the edit (see the module's docstring); when."""
    deadline = time.perf_counter() + 60.0
    url = app.application_url or ""
    while time.perf_counter() < deadline:
        try:
            if template.startswith("Streamlit"):
                now = client.applications.get(app.id)
                moved = now.running and now.source_version_id != before
                if moved and requests.get(url + "_stcore/health", timeout=5).ok:
                    return time.perf_counter()
            elif marker in requests.get(url, timeout=5).text:
                return time.perf_counter()
        except requests.RequestException:
            pass  # restarting
        time.sleep(0.02)
    raise SystemExit(f"{marker} was not served within 60 s")


def version_of(client: Client, app: Application) -> str | None:
    """The version the application runs now."""
    return client.applications.get(app.id).source_version_id


def save(folder: Path, template: str, marker: str) -> float:
    """Write the edit; the time the file was saved."""
    path, edit = EDITS[template]
    target = folder / path
    original = target.with_suffix(target.suffix + ".orig")
    if not original.exists():
        original.write_text(target.read_text())
    target.write_text(edit(original.read_text(), marker))
    return time.perf_counter()


def full_upload(client: Client, app: Application, folder: Path) -> None:
    """drapps' way: a version with every file, the app patched onto it, polled once a second."""
    version = client.app_sources.new_version(app.source_id or "", folder, base_version=None)
    client.applications.update(app, source_version=version, wait=False)
    while True:
        now = client.applications.get(app.id)
        if now.running and now.source_version_id == version.id:
            return
        time.sleep(1.0)


def bench(client: Client, template: str, rounds: int) -> dict[str, list[float]]:
    app = client.launch(template, name=f"edit {uuid.uuid4().hex[:6]}")
    times: dict[str, list[float]] = {"sync": [], "watch": [], "full upload": []}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "app"
        client.app_sources.download(app.source_id or "", folder)
        (folder / ".dr_apps_ignore").write_text("*.orig\n")
        client.applications.sync(app, folder)  # the ignore file: no change to the app
        for _i in range(rounds):
            marker, before = f"m{uuid.uuid4().hex[:8]}", version_of(client, app)
            saved = save(folder, template, marker)
            client.applications.sync(app, folder)
            times["sync"].append(served(client, app, template, marker, before) - saved)

        stop = threading.Event()
        rolled = threading.Event()

        def on_sync(_: SyncResult) -> None:
            rolled.set()

        watcher = threading.Thread(
            target=client.applications.sync,
            args=(app, folder),
            kwargs={"watch": True, "stop": stop, "on_sync": on_sync},
        )
        watcher.start()
        time.sleep(1.0)  # the watch is set up
        for _i in range(rounds):
            rolled.clear()
            marker, before = f"w{uuid.uuid4().hex[:8]}", version_of(client, app)
            saved = save(folder, template, marker)
            times["watch"].append(served(client, app, template, marker, before) - saved)
            rolled.wait(30)
            time.sleep(0.3)  # let the watch settle before the next save
        stop.set()
        watcher.join(30)

        for _i in range(rounds):
            marker, before = f"f{uuid.uuid4().hex[:8]}", version_of(client, app)
            saved = save(folder, template, marker)
            full_upload(client, app, folder)
            times["full upload"].append(served(client, app, template, marker, before) - saved)
    client.applications.delete(app)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--templates", default="Flask App Base")
    args = parser.parse_args(argv)
    with start_sandbox(run_apps=True) as sb:
        client = Client(sb.endpoint, sb.token, progress=False)
        for template in [t.strip() for t in args.templates.split(",") if t.strip()]:
            times = bench(client, template, args.rounds)
            ours = statistics.median(times["sync"])
            print(f"'{template}': saved file -> new content served, median of {args.rounds}:")
            for way, seconds in times.items():
                median = statistics.median(seconds)
                print(
                    f"  {way:<12} {median * 1000:7.0f} ms  (max {max(seconds) * 1000:5.0f})"
                    f"  {median / ours:5.1f}x sync"
                )
        client.close()
    print(f"load average while running: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
