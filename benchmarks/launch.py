"""Launch and listing benchmark for applications.

1. From ``%dr_new_app`` to ``running`` in a sandbox started with ``--run-apps`` ("Flask App
   Base"), split into source, build and start from the launch's own events, next to a plain
   ``requests`` script doing the same calls and polling once a second (the obvious script).
2. Per framework (Flask, Streamlit, Dash templates of the demo catalogue): the first launch,
   which builds the application's environment with uv (cold), a second launch of the same
   template, which reuses it (warm), each split into build, start and total, and warm/cold.
3. "Flask reused": a launch of "Flask App Base" that reuses the environment its first launch
   built, timed as ``client.launch`` sees it (polling as it does) and as the sandbox reaches
   ``running`` (a 20 ms poll), with the sandbox's own stages (first seen in its build log).
4. ``%dr_apps`` over 1,000 applications (simulated sandbox, 50 ms per request) against a
   sequential ``requests`` loop following ``next`` into a DataFrame, and DataRobot's official
   client, ``datarobot.CustomApplication.list()``.

    .venv/bin/python benchmarks/launch.py [--launches 3] [--apps 1000] [--latency-ms 50]
        [--frameworks-only] [--reused-only] [--empty-uv-cache]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pandas as pd
import requests
from IPython.core.interactiveshell import InteractiveShell
from IPython.testing import globalipapp

from dr_notebook.client import Client
from dr_notebook.models import LaunchStep
from dr_notebook.sandbox.testing import start_sandbox

START = '#!/usr/bin/env bash\nexec python -m http.server "$PORT" --bind 127.0.0.1\n'


def split(steps: list[LaunchStep]) -> dict[str, float]:
    """Seconds in each stage: source (until the first build step), build, start, and total."""
    first = {}
    for step in steps:
        first.setdefault(step.stage, step.elapsed)
    end = first["running"]
    build = first.get("build", end)
    start = first.get("start", end)
    return {"source": build, "build": start - build, "start": end - start, "total": end}


def magic_launch(shell: Any, name: str) -> float:
    """Seconds ``%dr_new_app Flask App Base --name NAME`` takes, up to the running app."""
    started = time.perf_counter()
    app = shell.run_line_magic("dr_new_app", f"Flask App Base --name '{name}'")
    seconds = time.perf_counter() - started
    if not app.running:
        raise SystemExit(f"{name} is {app.status}")
    return seconds


def script_launch(endpoint: str, token: str, template_id: str, name: str) -> float:
    """The same calls as a plain script makes them: source, application, poll every second."""
    started = time.perf_counter()
    with requests.Session() as s:
        s.headers["Authorization"] = f"Bearer {token}"
        source = s.post(f"{endpoint}/customApplicationSources/fromCustomTemplate/",
                        json={"customTemplateId": template_id}, timeout=60).json()  # fmt: skip
        body = {"name": name, "applicationSourceId": source["id"]}
        app = s.post(f"{endpoint}/customApplications/", json=body, timeout=60).json()
        while app["status"] != "running":
            if app["status"] == "failed":
                raise SystemExit(f"{name} failed: {app.get('buildError')}")
            time.sleep(1.0)
            app = s.get(f"{endpoint}/customApplications/{app['id']}/", timeout=60).json()
    return time.perf_counter() - started


def ipython_shell() -> InteractiveShell:
    """The process's IPython shell, started on first use."""
    shell = globalipapp.start_ipython() or globalipapp.get_ipython()
    assert shell is not None
    return shell


def listed_by_magic(shell: InteractiveShell) -> int:
    """How many applications ``%dr_apps`` lists."""
    frame = shell.run_line_magic("dr_apps", "")
    assert frame is not None
    return len(frame)


def bench_launch(launches: int) -> None:
    with start_sandbox(run_apps=True) as sb:
        os.environ.update(sb.env())
        shell = ipython_shell()
        shell.run_line_magic("load_ext", "dr_notebook")
        shell.run_line_magic("config", "DataRobotMagics.progress = False")
        client = Client(sb.endpoint, sb.token, progress=False)
        template = client.templates.resolve("Flask App Base")
        splits, magic, script = [], [], []
        for _ in range(launches):
            steps: list[LaunchStep] = []
            client.launch(template, name=f"split {uuid.uuid4().hex[:6]}", on_status=steps.append)
            splits.append(split(steps))
            magic.append(magic_launch(shell, f"magic {uuid.uuid4().hex[:6]}"))
            script.append(script_launch(sb.endpoint, sb.token, template.id, f"s {uuid.uuid4()}"))
        for app in client.applications.list():
            client.applications.delete(app)
        shell.run_line_magic("unload_ext", "dr_notebook")
        client.close()
    print(f"Launch of 'Flask App Base' with --run-apps, median of {launches}:")
    for stage in ("source", "build", "start", "total"):
        median = statistics.median(s[stage] for s in splits)
        print(f"  client.launch  {stage:<6} {median * 1000:8.0f} ms")
    ours, theirs = statistics.median(magic), statistics.median(script)
    print(f"  %dr_new_app to running     {ours * 1000:8.0f} ms")
    print(f"  requests script, 1 s polls {theirs * 1000:8.0f} ms   {theirs / ours:5.1f}x ours")


FRAMEWORKS = {
    "Flask": "Flask App Base",
    "Streamlit": "Streamlit App Base",
    "Dash": "Model Monitoring Dashboard",
}


def launch_split(client: Client, template: Any) -> dict[str, float]:
    """One launch of ``template`` to running, split by its own events (see :func:`split`)."""
    steps: list[LaunchStep] = []
    app = client.launch(template, name=f"bench {uuid.uuid4().hex[:6]}", on_status=steps.append)
    if not app.running:
        raise SystemExit(f"{template.name} is {app.status}: {app.build_error}")
    return split(steps)


def bench_frameworks(empty_uv_cache: bool) -> None:
    """Cold (environment built) and warm (reused) launches per framework, in a new sandbox."""
    cache = None
    if empty_uv_cache:  # downloads included: what a machine that never ran uv sees
        import tempfile

        cache = tempfile.mkdtemp(prefix="uv-cache-")
        os.environ["UV_CACHE_DIR"] = cache
    rows = []
    with start_sandbox(run_apps=True) as sb:
        client = Client(sb.endpoint, sb.token, progress=False)
        for framework, name in FRAMEWORKS.items():
            template = client.templates.resolve(name)
            cold = launch_split(client, template)
            warm = launch_split(client, template)
            rows.append((framework, name, cold, warm))
            for app in client.applications.list():
                client.applications.delete(app)
        client.close()
    if cache is not None:
        import shutil

        shutil.rmtree(cache, ignore_errors=True)
    where = "an empty uv cache" if empty_uv_cache else "uv's cache as it is"
    print(f"Launch per framework with --run-apps, a new sandbox, {where} (seconds):")
    print(f"  {'framework':<10} {'cold build':>10} {'warm build':>10} {'start':>6} "
          f"{'cold total':>10} {'warm total':>10} {'warm/cold':>9}")  # fmt: skip
    for framework, _, cold, warm in rows:
        print(f"  {framework:<10} {cold['build']:10.1f} {warm['build']:10.1f} {warm['start']:6.1f} "
              f"{cold['total']:10.1f} {warm['total']:10.1f} "
              f"{warm['total'] / cold['total']:9.2f}")  # fmt: skip


def reused_timeline(sb: Any, source_id: str) -> tuple[float, list[tuple[float, str]]]:
    """One launch from ``source_id`` polled every 20 ms: seconds to ``running``, and when each
    build-log line was first seen (its first words)."""
    started = time.perf_counter()
    app = sb.api("POST", "customApplications/", json={"applicationSourceId": source_id}).json()
    seen: dict[str, float] = {}
    while True:
        now = time.perf_counter() - started
        status = sb.api("GET", f"customApplications/{app['id']}/").json()["status"]
        log = sb.api("GET", f"customApplications/{app['id']}/logs/").json()["buildLog"] or ""
        for line in log.splitlines():
            seen.setdefault(" ".join(line.split()[:5]), now)
        if status in ("running", "failed"):
            if status == "failed":
                raise SystemExit(f"the reused launch failed: {log[-2000:]}")
            sb.api("DELETE", f"customApplications/{app['id']}/")
            return now, sorted((t, line) for line, t in seen.items())
        time.sleep(0.02)


def bench_reused(launches: int) -> None:
    """Flask reused: the second and later launches of "Flask App Base" (environment built)."""
    with start_sandbox(run_apps=True) as sb:
        client = Client(sb.endpoint, sb.token, progress=False)
        template = client.templates.resolve("Flask App Base")
        first = launch_split(client, template)  # builds (or finds) the environment
        seen_by_client = [launch_split(client, template)["total"] for _ in range(launches)]
        source = client.app_sources.create_from_template(template)
        timelines = [reused_timeline(sb, source.id) for _ in range(launches)]
        for app in client.applications.list():
            client.applications.delete(app)
        client.close()
    print(f"Flask reused launch, median of {launches} (first launch {first['total']:.1f} s):")
    print(f"  client.launch to running          {statistics.median(seen_by_client):6.2f} s")
    server = statistics.median(t for t, _ in timelines)
    print(f"  POST to running (20 ms polls)     {server:6.2f} s")
    print("  the sandbox's stages (one launch, first seen in its build log):")
    for at, line in timelines[len(timelines) // 2][1]:
        print(f"    {at:5.2f} s  {line}")


def make_apps(sb: Any, count: int) -> None:
    """``count`` simulated applications from one runnable source (8 requests at a time)."""
    source = sb.api("POST", "customApplicationSources/", json={"name": "bench"}).json()
    version = source["latestVersion"]["id"]
    sb.api("PATCH", f"customApplicationSources/{source['id']}/versions/{version}/",
           files=[("file", ("start-app.sh", START.encode()))],
           data=[("filePath", "start-app.sh")])  # fmt: skip

    def one(i: int) -> None:
        body = {"name": f"app {i:04}", "applicationSourceId": source["id"]}
        response = requests.post(f"{sb.endpoint}/customApplications/", json=body,
                                 headers=sb.auth_headers(), timeout=60)  # fmt: skip
        response.raise_for_status()

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(count)))


def sequential_frame(endpoint: str, token: str) -> int:
    """The obvious way: one page after another following ``next``, then a DataFrame."""
    rows: list[dict[str, Any]] = []
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {token}"
        url: str | None = f"{endpoint}/customApplications/?limit=100"
        while url:
            body = session.get(url, timeout=60).json()
            rows += body["data"]
            url = body.get("next")
    return len(pd.DataFrame(rows))


def official_list(endpoint: str, token: str) -> Callable[[], int]:
    from datarobot.client import Client as OfficialClient
    from datarobot.models.custom_application import CustomApplication

    warnings.filterwarnings("ignore", category=FutureWarning, module="datarobot")
    OfficialClient(endpoint=endpoint, token=token)
    return lambda: len(CustomApplication.list())


def bench_listing(count: int, latency_ms: int, repeat: int, official: bool) -> None:
    with start_sandbox(demo=False) as sb:
        make_apps(sb, count)
        sb.configure(latency_ms=latency_ms)
        os.environ.update(sb.env())
        shell = ipython_shell()
        shell.run_line_magic("load_ext", "dr_notebook")
        shell.run_line_magic("config", "DataRobotMagics.progress = False")
        ways: dict[str, Callable[[], int]] = {
            "%dr_apps": lambda: listed_by_magic(shell),
            "loop": lambda: sequential_frame(sb.endpoint, sb.token),
        }
        if official:
            ways["official"] = official_list(sb.endpoint, sb.token)
        runs: dict[str, list[float]] = {name: [] for name in ways}
        for _ in range(repeat):  # interleaved: a busy moment hits every way alike
            for name, fn in ways.items():
                started = time.perf_counter()
                got = fn()
                runs[name].append(time.perf_counter() - started)
                if got != count:
                    raise SystemExit(f"{name} listed {got} applications, not {count}")
        shell.run_line_magic("unload_ext", "dr_notebook")
    ours = statistics.median(runs["%dr_apps"])
    print(f"{count} applications, {latency_ms} ms per request, median of {repeat}:")
    labels = {
        "%dr_apps": "%dr_apps (DataFrame)",
        "loop": "sequential requests loop + DataFrame",
        "official": "datarobot CustomApplication.list()",
    }
    for name, seconds in runs.items():
        median = statistics.median(seconds)
        print(f"  {labels[name]:<38} {median * 1000:8.0f} ms   {median / ours:5.1f}x ours")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--launches", type=int, default=3)
    parser.add_argument("--apps", type=int, default=1000)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-official", action="store_true", help="leave out datarobot")
    parser.add_argument("--frameworks-only", action="store_true", help="only the per-framework")
    parser.add_argument("--empty-uv-cache", action="store_true", help="cold builds download")
    parser.add_argument("--reused-only", action="store_true", help="only Flask reused")
    args = parser.parse_args(argv)
    if args.reused_only:
        bench_reused(args.launches)
        return 0
    bench_frameworks(args.empty_uv_cache)
    if args.frameworks_only:
        return 0
    bench_launch(args.launches)
    bench_listing(args.apps, args.latency_ms, args.repeat, not args.skip_official)
    print(f"load average while running: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
