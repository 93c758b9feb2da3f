"""``--app-origins``: each application on ``http://<id>.localhost:<port>/``, routed by Host;
the API reports those URLs; the shared origin's app pages redirect there; a deleted app's origin
is cleared (Clear-Site-Data). The browser's side is in tests/browser/test_browser_app_isolation."""

from __future__ import annotations

import sys
import time
from typing import Any

import pytest
import requests

from dr_notebook.sandbox.testing import SandboxServer, processes_in, start_sandbox

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux guarantees"),
]

APP = """#!/usr/bin/env bash
exec python - <<'EOF'
import http.server, os
class Handler(http.server.SimpleHTTPRequestHandler):
    def end_headers(self):
        if self.path.startswith("/sw.js"):
            self.send_header("Service-Worker-Allowed", "/")
        if self.path.startswith("/go"):
            self.send_header("Set-Cookie", "app=1; Path=/")
        super().end_headers()
    def do_GET(self):
        if self.path.startswith("/go"):
            self.send_response(302)
            self.send_header("Location", "/index.html")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        super().do_GET()
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
EOF
"""
FILES = [
    ("start-app.sh", APP.encode()),
    ("index.html", b"<!doctype html><title>origin app</title><p>origin app</p>"),
    ("sw.js", b"self.addEventListener('fetch', () => {});\n"),
]


def launch(sb: SandboxServer, name: str) -> dict[str, Any]:
    source = sb.api("POST", "customApplicationSources/", json={"name": name}).json()
    version = source["latestVersion"]["id"]
    sb.api(
        "PATCH", f"customApplicationSources/{source['id']}/versions/{version}/",
        files=[("file", (p, d)) for p, d in FILES], data=[("filePath", p) for p, _ in FILES],
    ).raise_for_status()  # fmt: skip
    app = sb.api(
        "POST", "customApplications/", json={"name": name, "applicationSourceId": source["id"]}
    ).json()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        app = sb.api("GET", f"customApplications/{app['id']}/").json()
        if app["status"] in ("running", "failed"):
            break
        time.sleep(0.1)
    assert app["status"] == "running", app
    return app


def on_origin(sb: SandboxServer, app_id: str, path: str, **kwargs: Any) -> requests.Response:
    """A request to the app's own origin (Host ``<id>.localhost:port``), sent to 127.0.0.1."""
    headers = {"Host": f"{app_id}.localhost:{sb.port}"}
    kwargs.setdefault("allow_redirects", False)
    return requests.get(f"{sb.base_url}{path}", headers=headers, timeout=30, **kwargs)


@pytest.fixture(scope="module")
def sb():
    with start_sandbox(demo=False, run_apps=True, args=["--app-origins"]) as server:
        yield server
    assert processes_in(server.apps_dir) == []


def test_each_app_is_served_on_its_own_origin_routed_by_host(sb):
    app = launch(sb, "origin-app")
    app_id = app["id"]
    assert app["applicationUrl"] == f"http://{app_id}.localhost:{sb.port}/"
    listed = sb.api("GET", "customApplications/").json()["data"]
    assert {a["applicationUrl"] for a in listed if a["id"] == app_id} == {app["applicationUrl"]}
    page = on_origin(sb, app_id, "/")
    assert page.status_code == 200 and "origin app" in page.text
    # a path with DataRobot's fixed prefix (as Dash writes it) reaches the same page
    fixed = on_origin(sb, app_id, f"/custom_applications/{app_id}/index.html")
    assert fixed.status_code == 200 and "origin app" in fixed.text
    # at the root of its origin: no prefix added to its redirects and cookies, and its service
    # worker may have the whole origin (which is its own)
    moved = on_origin(sb, app_id, "/go")
    assert moved.status_code == 302 and moved.headers["location"] == "/index.html"
    assert moved.headers["set-cookie"] == "app=1; Path=/"
    assert on_origin(sb, app_id, "/sw.js").headers["service-worker-allowed"] == "/"
    # the shared origin's app pages send the browser to the app's origin
    shared = requests.get(
        f"{sb.base_url}/custom_applications/{app_id}/sub/page?x=1", allow_redirects=False,
        timeout=30,
    )  # fmt: skip
    assert shared.status_code == 307
    assert shared.headers["location"] == f"{app['applicationUrl']}sub/page?x=1"
    # positive control: on the sandbox's own Host the API answers, as before
    assert sb.api("GET", "customApplications/").status_code == 200
    # the API is not on an application's origin: its paths are the app's
    api_on_app = on_origin(sb, app_id, "/api/v2/customApplications/")
    assert api_on_app.status_code == 404 and "customApplications" not in api_on_app.text
    # deleted: its origin's storage and caches are cleared, service workers unregistered
    sb.api("DELETE", f"customApplications/{app_id}/").raise_for_status()
    gone = on_origin(sb, app_id, "/")
    assert gone.status_code == 404
    assert gone.headers["clear-site-data"] == '"cache", "storage"'
    assert "No such application" in gone.text


def test_a_host_that_is_not_an_apps_origin_changes_nothing(sb):
    for host in ("evil.localhost", "0123456789abcdef01234567.localhost.evil.com", "localhost"):
        headers = {"Host": f"{host}:{sb.port}", **sb.auth_headers()}
        answer = requests.get(f"{sb.base_url}/api/v2/version/", headers=headers, timeout=30)
        assert answer.status_code == 200, host  # the API, not an application
