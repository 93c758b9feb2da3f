"""Apps run as DataRobot runs them: built environments, port 8080, a network of their own."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from dr_notebook.sandbox.runtime import isolation, network
from dr_notebook.sandbox.runtime.interpreters import default
from dr_notebook.sandbox.testing import SandboxServer, processes_in, start_sandbox

pytestmark = [pytest.mark.slow, pytest.mark.skipif(os.name != "posix", reason="POSIX only")]
NAMESPACES = network.unavailable_reason(isolation.namespace_prefix()) is None
needs_namespaces = pytest.mark.skipif(not NAMESPACES, reason="no network namespaces here")

# As DataRobot's public examples are written: 8080 hardcoded, all interfaces. It answers with
# what DataRobot gives an application, and whether it reached the API through its endpoint.
ENV_APP = b"""import json, os, urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
NAMES = ("APPLICATION_ID", "DATAROBOT_ENDPOINT", "SCRIPT_NAME", "DR_CUSTOM_APP_EXTERNAL_URL",
         "PORT", "TOKEN_IS_SET", "API", "USER_AGENT")

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        seen = {name: os.environ.get(name) for name in NAMES}
        seen["TOKEN_IS_SET"] = bool(os.environ.get("DATAROBOT_API_TOKEN"))
        request = urllib.request.Request(os.environ["DATAROBOT_ENDPOINT"] + "/version/",
            headers={"Authorization": "Bearer " + os.environ["DATAROBOT_API_TOKEN"]})
        seen["API"] = json.load(urllib.request.urlopen(request, timeout=10)).get("versionString")
        seen["USER_AGENT"] = PROBES[0] if PROBES else None
        body = json.dumps(seen).encode()
        self.send_response(200)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        PROBES.append(self.headers.get("User-Agent"))

PROBES = []
ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
"""
HARDCODED_8080 = b"#!/usr/bin/env bash\nexec python app.py\n"
STREAMLIT = (
    b"#!/usr/bin/env bash\nexec streamlit run --server.port 8080 --server.headless true app.py\n"
)


@pytest.fixture(scope="module")
def envs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One environments folder for the module's sandboxes: later ones reuse the builds."""
    return tmp_path_factory.mktemp("envs")


@pytest.fixture(scope="module")
def sb(envs: Path) -> Iterator[SandboxServer]:
    with start_sandbox(run_apps=True, demo=False, envs_dir=envs) as server:
        yield server
    assert processes_in(server.apps_dir) == []
    assert isolation.marked(f"{server.apps_dir.resolve()}/") == []  # the socat doors too


def launch(sb: SandboxServer, files: dict[str, bytes], name: str) -> dict:
    source = sb.api("POST", "customApplicationSources/", json={"name": name}).json()
    version = source["latestVersion"]["id"]
    response = sb.api(
        "PATCH", f"customApplicationSources/{source['id']}/versions/{version}/",
        files=[("file", (p, d)) for p, d in files.items()],
        data=[("filePath", p) for p in files],
    )  # fmt: skip
    assert response.status_code == 200, response.text
    body = {"name": name, "applicationSourceId": source["id"]}
    created = sb.api("POST", "customApplications/", json=body, allow_redirects=False)
    assert created.status_code == 202, created.text
    return created.json()


def wait_until(sb: SandboxServer, app_id: str, timeout: float = 240.0) -> dict:
    deadline = time.monotonic() + timeout
    app: dict = {}
    while time.monotonic() < deadline:
        app = sb.api("GET", f"customApplications/{app_id}/").json()
        if app["status"] in ("running", "failed"):
            return app
        time.sleep(0.25)
    raise AssertionError(f"{app_id} stayed {app['status']}: {logs(sb, app_id)}")


def logs(sb: SandboxServer, app_id: str) -> dict:
    return sb.api("GET", f"customApplications/{app_id}/logs/").json()


def uv_resolutions(build_log: str) -> int:
    """How many times uv resolved packages in a build (its "Resolved N packages" lines)."""
    return len(re.findall(r"^Resolved \d+ packages? in ", build_log, re.MULTILINE))


@needs_namespaces
def test_two_apps_on_8080_at_once_with_what_datarobot_gives(sb):
    apps = [launch(sb, {"start-app.sh": HARDCODED_8080, "app.py": ENV_APP}, f"env {i}")
            for i in range(2)]  # fmt: skip
    running = [wait_until(sb, app["id"]) for app in apps]
    assert [app["status"] for app in running] == ["running", "running"], running
    seen = [requests.get(app["applicationUrl"], timeout=30).json() for app in running]
    for app, env in zip(running, seen, strict=True):
        assert env["APPLICATION_ID"] == app["id"] and env["PORT"] == "8080"
        assert env["DATAROBOT_ENDPOINT"] == sb.endpoint and env["TOKEN_IS_SET"] is True
        assert env["API"]  # it reached the sandbox from its own network, with its token
        assert env["DR_CUSTOM_APP_EXTERNAL_URL"] == app["applicationUrl"]
        assert env["SCRIPT_NAME"] == ""
        assert env["USER_AGENT"].startswith("kube-probe/")  # the health check, as DataRobot's
    build_log = logs(sb, running[0]["id"])["buildLog"]
    assert "runs in a network of its own and listens on port 8080" in build_log
    doors = isolation.marked(f"{sb.apps_dir.resolve()}/doors/")  # outside socats carry the mark
    assert len(doors) >= 3  # the door to the sandbox, and each app's port
    assert sb.token not in json.dumps(seen)
    for app in running:
        assert sb.api("DELETE", f"customApplications/{app['id']}/").status_code == 204
        assert processes_in(sb.apps_dir / app["id"]) == []


@needs_namespaces
def test_a_streamlit_app_without_requirements_runs_on_the_base(sb):
    files = {"start-app.sh": STREAMLIT, "app.py": b"import streamlit as st\nst.title('Hi')\n"}
    app = wait_until(sb, launch(sb, files, "streamlit")["id"])
    assert app["status"] == "running", app["buildError"]
    build_log = logs(sb, app["id"])["buildLog"]
    assert "Installing requirements.txt" not in build_log  # streamlit came with the base
    assert f"Execution environment: {default().name}." in build_log or default().name in build_log
    page = requests.get(app["applicationUrl"], timeout=30)
    assert page.status_code == 200 and "<title>Streamlit</title>" in page.text
    sb.api("DELETE", f"customApplications/{app['id']}/")


def test_a_package_the_sandbox_lacks_is_installed_then_reused(sb, capsys):
    start = b'#!/usr/bin/env bash\npython -c "import tinydb"\nexec python -m http.server "$PORT"\n'
    files = {"start-app.sh": start, "requirements.txt": b"tinydb==4.8.0\n"}
    started = time.monotonic()
    first = wait_until(sb, launch(sb, files, "tinydb 1")["id"])
    cold = time.monotonic() - started
    assert first["status"] == "running", first["buildError"]
    first_log = logs(sb, first["id"])["buildLog"]
    assert "+ tinydb==4.8.0" in first_log and uv_resolutions(first_log) >= 1
    started = time.monotonic()
    second = wait_until(sb, launch(sb, files, "tinydb 2")["id"])
    warm = time.monotonic() - started
    second_log = logs(sb, second["id"])["buildLog"]
    assert second["status"] == "running"
    assert "(built before): nothing to install." in second_log
    assert uv_resolutions(second_log) == 0  # the cached build ran no resolver
    with capsys.disabled():
        print(f"\nlaunch with a build {cold:.1f} s, with the cached build {warm:.1f} s")
    for app in (first, second):
        sb.api("DELETE", f"customApplications/{app['id']}/")


def test_offline_checks_installed_packages_and_says_so(envs, tmp_path):
    with start_sandbox(run_apps=True, demo=False, offline=True, envs_dir=tmp_path) as sb:
        plain = {"start-app.sh": b'#!/usr/bin/env bash\nexec python -m http.server "$PORT"\n'}
        ok = wait_until(sb, launch(sb, plain, "offline ok")["id"])
        assert ok["status"] == "running", ok["buildError"]
        assert "Offline: nothing is installed" in logs(sb, ok["id"])["buildLog"]
        missing = {**plain, "requirements.txt": b"tinydb==4.8.0\n./vendored\n"}
        failed = wait_until(sb, launch(sb, missing, "offline missing")["id"])
        assert failed["status"] == "failed"
        assert "Missing Python distributions: tinydb" in failed["buildError"]
        build_log = logs(sb, failed["id"])["buildLog"]
        assert "Cannot be checked offline: requirements.txt line 2: ./vendored" in build_log
        assert not any(tmp_path.iterdir())  # nothing was built
        for app in (ok, failed):
            sb.api("DELETE", f"customApplications/{app['id']}/")


def test_the_port_mode_fallback_can_be_forced(envs):
    with start_sandbox(run_apps=True, demo=False, isolation="port", envs_dir=envs) as sb:
        start = b'#!/usr/bin/env bash\nexec python -m http.server --bind "${BIND_ADDRESS:-0.0.0.0}" "${PORT:-8080}"\n'  # noqa: E501
        app = wait_until(sb, launch(sb, {"start-app.sh": start}, "port mode")["id"])
        assert app["status"] == "running", app["buildError"]
        build_log = logs(sb, app["id"])["buildLog"]
        assert "Network: PORT mode (--isolation port asks for it)" in build_log
        port = int(re.search(r"with PORT=(\d+)", build_log).group(1))  # type: ignore[union-attr]
        assert port != 8080
        assert requests.get(f"http://127.0.0.1:{port}/", timeout=10).status_code == 200
        sb.api("DELETE", f"customApplications/{app['id']}/")
    assert "Network: PORT mode (--isolation port asks for it)" in sb.output


def test_the_build_log_is_served_while_it_grows(sb):
    files = {
        "start-app.sh": b'#!/usr/bin/env bash\nexec python -m http.server "$PORT"\n',
        "build-app.sh": b"echo build step one\nsleep 4\necho build step two\n",
    }
    app = launch(sb, files, "slow build")
    deadline = time.monotonic() + 120
    partial = None
    while time.monotonic() < deadline:
        record = sb.api("GET", f"customApplications/{app['id']}/").json()
        build_log = logs(sb, app["id"])["buildLog"]
        if record["status"] == "building" and "build step one" in build_log:
            partial = build_log
            break
        time.sleep(0.1)
    assert partial is not None and "build step two" not in partial  # served as it grows
    assert logs(sb, app["id"])["buildStatus"] == "inProgress"
    done = wait_until(sb, app["id"])
    assert done["status"] == "running", done["buildError"]
    final = logs(sb, app["id"])["buildLog"]
    assert final.index("Running build-app.sh.") < final.index("build step two")
    sb.api("DELETE", f"customApplications/{app['id']}/")
