"""``--run-apps``: the sandbox runs applications for real, and leaves no process behind."""

from __future__ import annotations

import os
import signal
import socket
import time

import pytest
import requests

from dr_notebook.sandbox.testing import processes_in, start_sandbox

pytestmark = [pytest.mark.slow, pytest.mark.skipif(os.name != "posix", reason="POSIX only")]


@pytest.fixture(scope="module")
def sb(tmp_path_factory):
    # Environments of its own (not the session's shared folder): the build log below shows an
    # install, not a reuse.
    envs = tmp_path_factory.mktemp("envs")
    with start_sandbox(run_apps=True, envs_dir=envs) as server:
        yield server
    assert processes_in(server.apps_dir) == []


def source_from_template(sb, name):
    template = sb.api("GET", "customTemplates/", params={"search": name}).json()["data"][0]
    assert template["name"] == name
    response = sb.api(
        "POST", "customApplicationSources/fromCustomTemplate/",
        json={"customTemplateId": template["id"]},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    return response.json()


def source_with(sb, files, name="Custom"):
    source = sb.api("POST", "customApplicationSources/", json={"name": name}).json()
    put_files(sb, source["id"], source["latestVersion"]["id"], files)
    return source


def put_files(sb, source_id, version_id, files):
    response = sb.api(
        "PATCH", f"customApplicationSources/{source_id}/versions/{version_id}/",
        files=[("file", (p, d)) for p, d in files], data=[("filePath", p) for p, _ in files],
    )  # fmt: skip
    assert response.status_code == 200, response.text


def create(sb, **body):
    response = sb.api("POST", "customApplications/", json=body, allow_redirects=False)
    assert response.status_code == 202, response.text
    return response.json()


def wait_until(sb, app_id, wanted, timeout=90.0):
    deadline = time.monotonic() + timeout
    app: dict = {}
    while time.monotonic() < deadline:
        app = sb.api("GET", f"customApplications/{app_id}/").json()
        if app["status"] in wanted:
            return app
        time.sleep(0.2)
    logs = sb.api("GET", f"customApplications/{app_id}/logs/").json()
    raise AssertionError(f"{app_id} stayed {app['status']}: {logs}")


def test_a_demo_template_runs_restarts_on_a_new_version_and_leaves_nothing(sb):
    source = source_from_template(sb, "Flask App Base")
    app = create(sb, name="Flask for real", applicationSourceId=source["id"])
    running = wait_until(sb, app["id"], {"running", "failed"})
    assert running["status"] == "running", running["buildError"]
    page = requests.get(running["applicationUrl"], timeout=10)
    assert page.status_code == 200 and page.url == running["applicationUrl"]  # proxied there
    assert "<h1>Flask App Base</h1>" in page.text
    # the app reached the sandbox with the endpoint and token it was given
    assert "Connected to the DataRobot API, version 2.49.0" in page.text
    logs = sb.api("GET", f"customApplications/{app['id']}/logs/").json()
    assert "Installing from uv.lock (frozen, without dev dependencies)." in logs["buildLog"]
    assert logs["buildStatus"] == "completed" and logs["buildError"] is None
    assert any(":8080" in line for line in logs["logs"])  # flask printed its address
    assert sb.token not in str(logs)

    version = sb.api(
        "POST", f"customApplicationSources/{source['id']}/versions/",
        json={"baseVersion": source["latestVersion"]["id"]},
    ).json()  # fmt: skip
    template = b"<!doctype html><h1>Second edition of {{ title }}</h1>"
    put_files(sb, source["id"], version["id"], [("templates/index.html", template)])
    patched = sb.api(
        "PATCH", f"customApplications/{app['id']}/",
        json={"customApplicationSourceVersionId": version["id"]},
    ).json()  # fmt: skip
    assert patched["applicationUrl"] == running["applicationUrl"]
    wait_until(sb, app["id"], {"running"})
    again = requests.get(running["applicationUrl"], timeout=10)
    assert "<h1>Second edition of Flask App Base</h1>" in again.text
    assert again.url == running["applicationUrl"]

    folder = sb.apps_dir / app["id"]
    assert processes_in(folder)
    assert sb.api("DELETE", f"customApplications/{app['id']}/").status_code == 204
    assert processes_in(folder) == []
    assert requests.get(running["applicationUrl"], timeout=10).status_code == 404


def test_the_fastapi_template_runs_with_the_lab_packages(sb):
    source = source_from_template(sb, "FastAPI Prediction Service")
    app = create(sb, name="api", applicationSourceId=source["id"])
    running = wait_until(sb, app["id"], {"running", "failed"})
    assert running["status"] == "running", running["buildError"]
    health = requests.get(running["applicationUrl"] + "healthz", timeout=10)
    assert health.json() == {"status": "ok"}
    unconfigured = requests.post(running["applicationUrl"] + "predict", timeout=10, json={
        "tenure_months": 3, "plan": "basic", "monthly_charges": 9.5})  # fmt: skip
    assert unconfigured.status_code == 503 and "DEPLOYMENT_ID" in unconfigured.text
    sb.api("DELETE", f"customApplications/{app['id']}/")
    assert processes_in(sb.apps_dir / app["id"]) == []


def test_an_unknown_requirement_fails_the_build_with_uvs_message(sb):
    files = [("start-app.sh", b"#!/usr/bin/env bash\nexit 1\n"),
             ("requirements.txt", b"flask\nsurely-no-such-dist-4711==1.0\n")]  # fmt: skip
    source = source_with(sb, files, name="Unknown package")
    app = create(sb, name="unknown package", applicationSourceId=source["id"])
    failed = wait_until(sb, app["id"], {"running", "failed"})
    assert failed["status"] == "failed"
    assert failed["buildError"].startswith(
        "requirements.txt line 2: surely-no-such-dist-4711==1.0\n"
    )
    assert "surely-no-such-dist-4711 was not found in the package registry" in failed["buildError"]
    assert processes_in(sb.apps_dir / app["id"]) == []  # nothing was started
    logs = sb.api("GET", f"customApplications/{app['id']}/logs/").json()
    assert logs["buildStatus"] == "failed" and "not found" in logs["buildError"]
    sb.api("DELETE", f"customApplications/{app['id']}/")


def test_a_crashing_app_fails_with_its_last_lines(sb):
    script = b"#!/usr/bin/env bash\necho booting\necho 'fatal: no config file' >&2\nexit 3\n"
    source = source_with(sb, [("start-app.sh", script)], name="Crasher")
    app = create(sb, name="crasher", applicationSourceId=source["id"])
    failed = wait_until(sb, app["id"], {"running", "failed"})
    assert failed["status"] == "failed"
    assert "code 3" in failed["buildError"] and "fatal: no config file" in failed["buildError"]
    logs = sb.api("GET", f"customApplications/{app['id']}/logs/").json()
    assert logs["logs"] == ["booting", "fatal: no config file"]
    page = requests.get(failed["applicationUrl"], timeout=10)  # public: says that, not why
    assert page.status_code == 200 and "failed" in page.text
    assert "fatal: no config file" not in page.text and "booting" not in page.text
    sb.api("DELETE", f"customApplications/{app['id']}/")


def test_an_app_on_the_wrong_port_fails_naming_the_port(sb):
    sb.configure(app_start_timeout_s=4)
    try:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            wrong = probe.getsockname()[1]
        script = f"#!/usr/bin/env bash\nexec python -m http.server --bind 127.0.0.1 {wrong}\n"
        source = source_with(sb, [("start-app.sh", script.encode())], name="Wrong port")
        app = create(sb, name="wrong port", applicationSourceId=source["id"])
        failed = wait_until(sb, app["id"], {"running", "failed"})
    finally:
        sb.configure(app_start_timeout_s=60)
    assert failed["status"] == "failed"
    assert f"listens on port {wrong}" in failed["buildError"] and "PORT" in failed["buildError"]
    assert processes_in(sb.apps_dir / app["id"]) == []
    sb.api("DELETE", f"customApplications/{app['id']}/")


@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT"])
def test_stopping_the_sandbox_ends_its_apps(tmp_path, how):
    server = start_sandbox(demo=False, run_apps=True, db_path=tmp_path / "s.db")
    try:
        script = b'#!/usr/bin/env bash\npython -m http.server --bind 127.0.0.1 "$PORT" &\nwait\n'
        source = source_with(server, [("start-app.sh", script)], name="Child")
        app = create(server, name="child", applicationSourceId=source["id"])
        assert wait_until(server, app["id"], {"running", "failed"})["status"] == "running"
        names = sorted(p.name() for p in processes_in(server.apps_dir))
        assert names.count("bash") == 1 and names.count("python") == 1  # and its container
        assert server.pid is not None
        os.kill(server.pid, getattr(signal, how))
        deadline = time.monotonic() + 20
        while server.running and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not server.running
        assert processes_in(server.apps_dir) == []
        server.restart()
        after = server.api("GET", f"customApplications/{app['id']}/").json()
        assert after["status"] == "stopped"
    finally:
        server.stop()
    assert processes_in(tmp_path) == []


def test_a_killed_sandbox_s_apps_are_ended_when_it_starts_again(tmp_path):
    server = start_sandbox(demo=False, run_apps=True, db_path=tmp_path / "k.db")
    try:
        script = b'#!/usr/bin/env bash\nexec python -m http.server --bind 127.0.0.1 "$PORT"\n'
        source = source_with(server, [("start-app.sh", script)], name="Orphan")
        app = create(server, name="orphan", applicationSourceId=source["id"])
        assert wait_until(server, app["id"], {"running", "failed"})["status"] == "running"
        assert server.pid is not None
        os.kill(server.pid, signal.SIGKILL)  # no chance to stop its applications
        deadline = time.monotonic() + 10
        while server.running and time.monotonic() < deadline:
            time.sleep(0.1)
        orphans = [p.name() for p in processes_in(server.apps_dir)]
        assert orphans.count("python") == 1  # the orphan (with its container, on Linux)
        server.restart()
        assert processes_in(server.apps_dir) == []
        assert server.api("GET", f"customApplications/{app['id']}/").json()["status"] == "stopped"
    finally:
        server.stop()
    assert processes_in(tmp_path) == []
