"""Applications against each other in the browser: service workers kept to an app's prefix and
forgotten with the app; on their own origins (--app-origins), no shared cookies or storage."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from dr_notebook.sandbox.testing import SandboxServer, processes_in, start_sandbox

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Serves its folder; its sw.js asks for the whole origin as a service worker's scope.
SW_APP = """#!/usr/bin/env bash
exec python - <<'EOF'
import http.server, os
class Handler(http.server.SimpleHTTPRequestHandler):
    def end_headers(self):
        if self.path.startswith("/sw.js"):
            self.send_header("Service-Worker-Allowed", "/")
        super().end_headers()
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
EOF
"""
FILES = [
    ("start-app.sh", SW_APP.encode()),
    ("index.html", b"<!doctype html><title>sw app</title><p>sw app</p>"),
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
    return app


def wait_running(sb: SandboxServer, app_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    app: dict[str, Any] = {}
    while time.monotonic() < deadline:
        app = sb.api("GET", f"customApplications/{app_id}/").json()
        if app["status"] in ("running", "failed"):
            break
        time.sleep(0.1)
    assert app["status"] == "running", app
    return app


@pytest.fixture(scope="module")
def sb() -> Iterator[SandboxServer]:
    with start_sandbox(demo=False, run_apps=True) as server:
        yield server
    assert processes_in(server.apps_dir) == []


REGISTER = (
    "scope => navigator.serviceWorker.register('sw.js', {scope})"
    ".then(r => r.scope, e => 'refused: ' + e.name)"
)
SCOPES = "() => navigator.serviceWorker.getRegistrations().then(rs => rs.map(r => r.scope))"


def test_a_service_worker_stays_under_its_app_and_goes_with_it(browser: Any, sb) -> None:
    apps = [launch(sb, name) for name in ("sw-a", "sw-b")]
    a, b = (wait_running(sb, app["id"]) for app in apps)
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(a["applicationUrl"])
        assert page.text_content("p") == "sw app"
        # the attack: a service worker over the whole origin (every other app's URLs)
        assert page.evaluate(REGISTER, "/").startswith("refused: SecurityError")
        assert page.evaluate(REGISTER, b["applicationUrl"]).startswith("refused")
        # positive control: under its own prefix it registers
        assert page.evaluate(REGISTER, "./") == a["applicationUrl"]
        assert a["applicationUrl"] in page.evaluate(SCOPES)
        # deleted: its URL forgets the service worker registered under it
        sb.api("DELETE", f"customApplications/{a['id']}/").raise_for_status()
        # (a new URL: the browser's HTTP cache may still hold the app's own page)
        page.goto(a["applicationUrl"] + "?deleted")
        page.wait_for_function("document.documentElement.dataset.forgotten === '1'")
        assert page.text_content("h1") == "No such application"
        assert page.evaluate(SCOPES) == []
    finally:
        context.close()
        sb.api("DELETE", f"customApplications/{b['id']}/")


@pytest.fixture(scope="module")
def sb_origins() -> Iterator[SandboxServer]:
    with start_sandbox(demo=False, run_apps=True, args=["--app-origins"]) as server:
        yield server
    assert processes_in(server.apps_dir) == []


PLANT = (
    "secret => { document.cookie = 'secret=' + secret + '; path=/';"
    " localStorage.setItem('secret', secret); return document.cookie; }"
)
READ = "() => [document.cookie, localStorage.getItem('secret')]"


def plant_and_read(browser: Any, sb: SandboxServer) -> tuple[str, str, list[Any]]:
    """App A plants a cookie and a localStorage item; app B (same browser) reads: (what A sees
    of its own, B's URL, what B sees)."""
    apps = [launch(sb, name) for name in ("planter", "reader")]
    a, b = (wait_running(sb, app["id"]) for app in apps)
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(a["applicationUrl"])
        assert page.text_content("p") == "sw app"
        own = page.evaluate(PLANT, "from-app-a")
        page.goto(b["applicationUrl"])
        assert page.text_content("p") == "sw app"
        return own, b["applicationUrl"], page.evaluate(READ)
    finally:
        context.close()
        for app in (a, b):
            sb.api("DELETE", f"customApplications/{app['id']}/")


def test_apps_on_their_own_origins_cannot_read_each_others_cookies_or_storage(
    browser: Any, sb, sb_origins
) -> None:
    own, b_url, seen = plant_and_read(browser, sb_origins)
    assert b_url.startswith("http://") and ".localhost:" in b_url
    assert "secret=from-app-a" in own  # A set them on its own origin
    assert seen == ["", None]
    # positive control: on the shared origin, B reads what A planted
    own, b_url, seen = plant_and_read(browser, sb)
    assert "/custom_applications/" in b_url
    assert "secret=from-app-a" in seen[0] and seen[1] == "from-app-a"
