"""``applicationUrl`` through the sandbox's proxy: a real app run by ``--run-apps``, both modes."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from dr_notebook.sandbox.testing import SandboxServer, processes_in, start_sandbox
from dr_notebook.sandbox.testing import echo_app as proxy_echo_app

pytestmark = [pytest.mark.slow, pytest.mark.skipif(os.name != "posix", reason="POSIX only")]

# The proxy tests' echo app as the application's own app.py (it mounts its routes under
# SCRIPT_NAME when that is set); Starlette and uvicorn come with the applications' base.
APP_SOURCE = Path(proxy_echo_app.__file__).read_bytes()
START = (
    "#!/usr/bin/env bash\n"
    'exec python -m uvicorn app:upstream --host "${BIND_ADDRESS:-0.0.0.0}" --port "$PORT"'
    " --ws websockets-sansio --log-level warning\n"
)


@pytest.fixture(scope="module")
def sb():
    with start_sandbox(run_apps=True) as server:
        yield server
    assert processes_in(server.apps_dir) == []


@pytest.fixture(scope="module")
def source(sb: SandboxServer) -> dict[str, Any]:
    created = sb.api("POST", "customApplicationSources/", json={"name": "Echo"}).json()
    response = sb.api(
        "PATCH",
        f"customApplicationSources/{created['id']}/versions/{created['latestVersion']['id']}/",
        files=[("file", ("start-app.sh", START.encode())), ("file", ("app.py", APP_SOURCE))],
        data=[("filePath", "start-app.sh"), ("filePath", "app.py")],
    )
    assert response.status_code == 200, response.text
    return created


def running(sb: SandboxServer, app_id: str, timeout: float = 90.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    app: dict[str, Any] = {}
    while time.monotonic() < deadline:
        app = sb.api("GET", f"customApplications/{app_id}/").json()
        if app["status"] in ("running", "failed"):
            break
        time.sleep(0.2)
    assert app["status"] == "running", sb.api("GET", f"customApplications/{app_id}/logs/").text
    return app


def launch(sb: SandboxServer, source: dict[str, Any], **body: Any) -> dict[str, Any]:
    response = sb.api(
        "POST", "customApplications/", json={"applicationSourceId": source["id"], **body}
    )
    assert response.status_code == 202, response.text
    return running(sb, response.json()["id"])


def test_the_app_answers_at_its_url_without_a_token_and_never_sees_one(sb, source) -> None:
    app = launch(sb, source, name="root path")
    url = app["applicationUrl"]
    prefix = f"/custom_applications/{app['id']}"
    assert app["resources"]["serviceWebRequestsOnRootPath"] is True  # the sandbox's default
    anonymous = requests.get(url + "echo?q=1", timeout=10)
    assert anonymous.status_code == 200 and anonymous.url == url + "echo?q=1"
    seen = anonymous.json()
    assert (seen["path"], seen["query"], seen["script_name"]) == ("/echo", "q=1", "")
    assert seen["headers"]["x-forwarded-prefix"] == prefix
    assert "x-user-email" not in seen["headers"]

    with_token = requests.post(url + "echo", data=b"body", headers=sb.auth_headers(), timeout=10)
    seen = with_token.json()
    assert seen["body"] == "body" and seen["method"] == "POST"
    assert "authorization" not in seen["headers"] and sb.token not in with_token.text
    assert seen["headers"]["x-user-email"] == "admin@sandbox.local"

    bare = requests.get(url.rstrip("/"), allow_redirects=False, timeout=10)
    assert bare.status_code == 307 and bare.headers["location"] == f"{prefix}/"
    redirect = requests.get(url + "redirect?to=/echo", allow_redirects=False, timeout=10)
    assert redirect.headers["location"] == f"{prefix}/echo"

    with connect(url.replace("http://", "ws://") + "ws") as socket:
        socket.send("through the sandbox")
        assert socket.recv(10) == "through the sandbox"


def test_script_name_mode_on_create_and_root_path_on_patch(sb, source) -> None:
    app = launch(sb, source, name="prefix", resources={"serviceWebRequestsOnRootPath": False})
    url, prefix = app["applicationUrl"], f"/custom_applications/{app['id']}"
    seen = requests.get(url + "echo", timeout=10).json()
    assert (seen["path"], seen["script_name"]) == (f"{prefix}/echo", prefix)
    link = requests.get(url + "links", timeout=10).text.split('href="')[1].split('"')[0]
    assert link == f"{prefix}/echo"

    patched = sb.api(
        "PATCH",
        f"customApplications/{app['id']}/",
        json={"resources": {"serviceWebRequestsOnRootPath": True}},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["resources"]["serviceWebRequestsOnRootPath"] is True
    running(sb, app["id"])
    seen = requests.get(url + "echo", timeout=10).json()
    assert (seen["path"], seen["script_name"]) == ("/echo", "")  # restarted in the new mode
    bad = sb.api(
        "PATCH",
        f"customApplications/{app['id']}/",
        json={"resources": {"serviceWebRequestsOnRootPath": "yes"}},
    )
    assert bad.status_code == 422 and "serviceWebRequestsOnRootPath" in bad.text


def test_a_stopped_or_unknown_app_answers_a_sandbox_page(sb, source) -> None:
    app = launch(sb, source, name="stopping")
    url = app["applicationUrl"]
    assert sb.api("POST", f"customApplications/{app['id']}/stop/").status_code == 202
    page = requests.get(url + "echo", timeout=10)
    assert "stopped" in page.text and "x-forwarded" not in page.text  # not the app's answer
    assert page.headers["content-security-policy"] == "default-src 'none'"
    with pytest.raises(InvalidStatus):
        connect(url.replace("http://", "ws://") + "ws", open_timeout=10)
    unknown = requests.get(f"{sb.base_url}/custom_applications/nosuchapp/", timeout=10)
    assert unknown.status_code == 404
