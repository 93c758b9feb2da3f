"""--run-apps: running means serving. An application is ``running`` only once its health check
and its page (as the proxy asks for it) answer, and it stays up a grace period; its creation
job (``statusUrl``) completes (303) at that moment or ends ``ERROR`` with the first error."""

from __future__ import annotations

import os
import time
from typing import Any

import pytest
import requests

from dr_notebook.sandbox.runtime.local import SERVING_GRACE_S
from dr_notebook.sandbox.testing import processes_in, start_sandbox

pytestmark = [pytest.mark.slow, pytest.mark.skipif(os.name != "posix", reason="POSIX only")]

# A server answering ``CODE`` at every path; after its first answer it exits in ``EXIT_AFTER``
# seconds when that is set. Standard library only: nothing to install.
SERVER = """\
import http.server, os, sys, threading
CODE = int(os.environ.get("CODE", "200"))
EXIT_AFTER = float(os.environ.get("EXIT_AFTER", "0"))
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if CODE >= 500:
            print("ERROR: database unreachable at db:5432", flush=True)
        if EXIT_AFTER:
            threading.Timer(EXIT_AFTER, lambda: os._exit(0)).start()
        self.send_response(CODE)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(b"<h1>served</h1>")
print("serving", flush=True)
http.server.ThreadingHTTPServer(("0.0.0.0", int(os.environ["PORT"])), Handler).serve_forever()
"""


def start_script(env: str = "") -> bytes:
    return f"#!/usr/bin/env bash\n{env} exec python server.py\n".encode()


@pytest.fixture(scope="module")
def sb() -> Any:
    with start_sandbox(run_apps=True, demo=False) as server:
        server.configure(app_start_timeout_s=8)
        yield server
    assert processes_in(server.apps_dir) == []


def create(sb: Any, name: str, start: bytes) -> tuple[str, str]:
    source = sb.api("POST", "customApplicationSources/", json={"name": name}).json()
    files = [("start-app.sh", start), ("server.py", SERVER.encode())]
    version = f"customApplicationSources/{source['id']}/versions/{source['latestVersion']['id']}/"
    response = sb.api(
        "PATCH", version,
        files=[("file", (p, d)) for p, d in files], data=[("filePath", p) for p, _ in files],
    )  # fmt: skip
    assert response.status_code == 200, response.text
    made = sb.api("POST", "customApplications/", json={"name": name,
                  "applicationSourceId": source["id"]}, allow_redirects=False)  # fmt: skip
    assert made.status_code == 202, made.text
    return made.json()["id"], made.headers["Location"]


def job_until_done(sb: Any, location: str, timeout: float = 120.0) -> Any:
    """Poll the creation job as drapps does; the last answer and the statuses seen."""
    deadline = time.monotonic() + timeout
    answer = None
    while time.monotonic() < deadline:
        answer = sb.api("GET", location, allow_redirects=False)
        if answer.status_code == 303 or answer.json()["status"] in ("ERROR", "ABORTED"):
            return answer
        assert answer.json()["status"] == "RUNNING", answer.text
        time.sleep(0.2)
    raise AssertionError(f"the job never ended: {answer and answer.text}")


def app_of(sb: Any, app_id: str) -> Any:
    return sb.api("GET", f"customApplications/{app_id}/").json()


def test_a_serving_app_is_running_when_its_job_completes(sb: Any) -> None:
    app_id, location = create(sb, "serves 200", start_script())
    done = job_until_done(sb, location)
    assert done.status_code == 303, done.text
    assert done.headers["Location"].endswith(f"/customApplications/{app_id}/")
    app = app_of(sb, app_id)  # at that moment, not later
    assert app["status"] == "running"
    page = requests.get(app["applicationUrl"], timeout=10)
    assert page.status_code == 200 and "<h1>served</h1>" in page.text
    logs = sb.api("GET", f"customApplications/{app_id}/logs/").json()
    assert "Its page answered HTTP 200." in logs["buildLog"]
    sb.api("DELETE", f"customApplications/{app_id}/")


def test_a_page_answering_500_fails_with_its_first_error(sb: Any) -> None:
    app_id, location = create(sb, "serves 500", start_script("CODE=500"))
    done = job_until_done(sb, location)
    assert done.status_code == 200 and done.json()["status"] == "ERROR"
    assert done.json()["message"] == "ERROR: database unreachable at db:5432"
    app = app_of(sb, app_id)
    assert app["status"] == "failed"  # never running: its page never served
    assert "page (/) answered HTTP 500" in app["buildError"]
    assert "First error: ERROR: database unreachable" in app["buildError"]
    sb.api("DELETE", f"customApplications/{app_id}/")


def test_an_app_exiting_soon_after_its_first_answer_is_failed(sb: Any) -> None:
    assert SERVING_GRACE_S > 1.5  # the app below exits 1 s after its first answer
    app_id, location = create(sb, "exits", start_script("EXIT_AFTER=1"))
    done = job_until_done(sb, location)
    assert done.status_code == 200 and done.json()["status"] == "ERROR", done.text
    app = app_of(sb, app_id)
    assert app["status"] == "failed"
    assert f"exited with code 0 within {SERVING_GRACE_S:g} s of serving" in app["buildError"]
    sb.api("DELETE", f"customApplications/{app_id}/")
