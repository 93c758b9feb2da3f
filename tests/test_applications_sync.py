"""client.applications.sync and watch against the sandbox (simulated applications): nothing
changed sends nothing, one version holds exactly the changes, ignore rules, watch stops."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Any

import pytest

import dr_notebook as drn
from dr_notebook.resources.sync import SyncResult, ignored
from dr_notebook.sandbox.testing import start_sandbox

FILES = {
    "start-app.sh": '#!/usr/bin/env bash\nexec python -m http.server "$PORT" --bind 127.0.0.1\n',
    "app.py": "print('one')\n",
    "notes.txt": "remove me\n",
    "static/logo.png": b"\x89PNG\r\n\x1a\n\x00\xff",
}


@pytest.fixture(scope="module")
def sb() -> Any:
    with start_sandbox(demo=False) as server:
        yield server


@pytest.fixture(scope="module")
def client(sb: Any) -> drn.Client:
    return drn.Client(sb.endpoint, sb.token, progress=False)


@pytest.fixture
def app_and_folder(client: drn.Client, tmp_path: Path) -> Any:
    source = client.app_sources.create(f"Sync {uuid.uuid4().hex[:6]}")
    client.app_sources.new_version(source, FILES, base_version=None)
    app = client.applications.create(source, name=f"sync-{uuid.uuid4().hex[:6]}")
    folder = tmp_path / "app"
    client.app_sources.download(source, folder, version=app.source_version_id or "latest")
    yield app, folder
    client.applications.delete(app)


def writes(sb: Any) -> list[str]:
    return [
        f"{r['method']} {r['path']}"
        for r in sb.stats()["requests"]
        if r["method"] not in ("GET", "HEAD")
    ]


def test_nothing_changed_sends_nothing(client: drn.Client, sb: Any, app_and_folder: Any) -> None:
    app, folder = app_and_folder
    (folder / ".env").write_text("DATAROBOT_API_TOKEN=local\n")  # never uploaded
    sb.reset_stats()
    result = client.applications.sync(app, folder)
    assert not result.changed_anything and result.version is None
    assert (result.added, result.changed, result.deleted) == ((), (), ())
    assert writes(sb) == [] and str(result).endswith("no change")


def test_one_version_holds_the_changed_added_and_deleted_files(
    client: drn.Client, sb: Any, app_and_folder: Any
) -> None:
    app, folder = app_and_folder
    (folder / "app.py").write_text("print('two')\n")
    (folder / "templates").mkdir()
    (folder / "templates" / "index.html").write_text("<h1>new</h1>")
    (folder / "notes.txt").unlink()
    (folder / ".dr_apps_ignore").write_text("# local only\nscratch/\n*.log\n")
    (folder / "scratch").mkdir()
    (folder / "scratch" / "big.csv").write_text("a,b\n")
    (folder / "debug.log").write_text("noise")
    sb.reset_stats()
    result = client.applications.sync(app, folder)
    assert result.added == ("templates/index.html",) and result.changed == ("app.py",)
    assert result.deleted == ("notes.txt",) and result.version is not None
    assert result.application.running
    assert result.application.source_version_id == result.version.id
    assert sorted(result.version.paths) == [
        "app.py", "start-app.sh", "static/logo.png", "templates/index.html",
    ]  # fmt: skip
    sent = writes(sb)
    assert sent[0].startswith("POST customApplicationSources/")
    assert sum(w.startswith("PATCH customApplications/") for w in sent) == 1
    assert len(sent) == 4  # the version, its deletion, its files, the application
    content = client.app_sources.content(app.source_id or "", result.version, "app.py")
    assert content == b"print('two')\n"
    line = str(result)
    assert "1 changed, 1 added, 1 deleted" in line and "running" in line
    sb.reset_stats()
    again = client.applications.sync(app, folder)
    assert not again.changed_anything and writes(sb) == []


def test_watch_syncs_a_save_and_stops_when_told(client: drn.Client, app_and_folder: Any) -> None:
    app, folder = app_and_folder
    stop = threading.Event()
    rolled: list[SyncResult] = []
    seen = threading.Event()

    def on_sync(result: SyncResult) -> None:
        rolled.append(result)
        seen.set()

    returned: list[list[SyncResult]] = []
    watching = threading.Event()
    watcher = threading.Thread(
        target=lambda: returned.append(
            client.applications.sync(
                app, folder, watch=True, stop=stop, on_sync=on_sync, on_watching=watching.set
            )
        )
    )
    watcher.start()
    try:
        assert watching.wait(30), "the watch did not start"  # its first sync found nothing
        (folder / "app.py").write_text("print('saved')\n")
        assert seen.wait(30), "the save was not synced"
    finally:
        stop.set()
        watcher.join(10)
    assert not watcher.is_alive()
    assert [r.changed for r in rolled] == [("app.py",)]
    assert returned == [rolled]


def test_ignore_rules() -> None:
    patterns = ["scratch/", "*.log", "docs/draft.md"]
    assert ignored("scratch/a.csv", patterns) and ignored("sub/x.log", patterns)
    assert ignored("docs/draft.md", patterns) and ignored(".dr_apps_ignore", [])
    assert not ignored("docs/final.md", patterns) and not ignored("app.py", patterns)
