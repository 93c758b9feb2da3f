"""The sandbox's HTTP server attacked: bodies without a length, ambiguous framing, half-open
connections, tokens on the command line; each attack beside its positive control."""

from __future__ import annotations

import os
import selectors
import socket
import subprocess
import sys
import threading
import time

import psutil
import pytest
import requests

from dr_notebook.sandbox.server import TOKENS_ENV
from dr_notebook.sandbox.testing import processes_in, start_sandbox

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux guarantees")

APP_LIMIT_MB = 8
HEADER_TIMEOUT_S = 2
# An application that reads chunked bodies (what the proxy sends when the browser sent no
# length) and answers how many bytes it got.
DRAIN_APP = """#!/usr/bin/env bash
exec python - <<'EOF'
import http.server, os
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        self.answer(b"drain app")
    def do_POST(self):
        total = 0
        while size := int(self.rfile.readline().split(b";")[0], 16):
            total += len(self.rfile.read(size))
            self.rfile.readline()
        self.rfile.readline()
        self.answer(str(total).encode())
    def answer(self, body):
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
EOF
"""


@pytest.fixture(scope="module")
def sb():
    args = ["--max-app-body-mb", str(APP_LIMIT_MB), "--header-timeout", str(HEADER_TIMEOUT_S)]
    with start_sandbox(demo=False, run_apps=True, args=args) as server:
        yield server
    assert processes_in(server.apps_dir) == []


@pytest.fixture(scope="module")
def app_path(sb):
    source = sb.api("POST", "customApplicationSources/", json={"name": "drain"}).json()
    version = source["latestVersion"]["id"]
    sb.api(
        "PATCH", f"customApplicationSources/{source['id']}/versions/{version}/",
        files=[("file", ("start-app.sh", DRAIN_APP.encode()))],
        data=[("filePath", "start-app.sh")],
    ).raise_for_status()  # fmt: skip
    app = sb.api(
        "POST", "customApplications/", json={"name": "drain", "applicationSourceId": source["id"]}
    ).json()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        app = sb.api("GET", f"customApplications/{app['id']}/").json()
        if app["status"] in ("running", "failed"):
            break
        time.sleep(0.1)
    assert app["status"] == "running", app
    yield f"/custom_applications/{app['id']}/upload"
    sb.api("DELETE", f"customApplications/{app['id']}/")


def raw_request(sb, head: str, body_chunks=(), peak=None) -> tuple[int, bytes, int]:
    """Send ``head`` then chunks (stopping once an answer comes); (status, answer, bytes sent).

    The answer is read by a thread of its own while the body goes, as a browser would."""
    sock = socket.create_connection(("127.0.0.1", sb.port))
    answer = bytearray()
    done = threading.Event()

    def read() -> None:
        try:
            while data := sock.recv(65536):
                answer.extend(data)
        except OSError:
            pass
        done.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    sent = 0
    try:
        sock.sendall(head.encode())
        for chunk in body_chunks:
            if answer or done.is_set():
                break
            sock.sendall(chunk)
            sent += len(chunk)
    except OSError:
        pass  # the server closed the connection after answering
    try:
        assert done.wait(60), "no answer and no close"
    finally:
        sock.close()
        reader.join(10)
    status = int(bytes(answer).split(b" ", 2)[1]) if answer else 0
    return status, bytes(answer), sent


def chunked(total_mb: int, last: bool = True):
    piece = os.urandom(1024 * 1024)
    frame = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    for _ in range(total_mb):
        yield frame
    if last:
        yield b"0\r\n\r\n"


def head(sb, method: str, path: str, *lines: str, auth: bool = True) -> str:
    extra = [f"Authorization: Bearer {sb.token}"] if auth else []
    return "\r\n".join([f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{sb.port}", *extra,
                        "Connection: close", *lines, "", ""])  # fmt: skip


class PeakRss:
    """The sandbox process's largest resident size while the block runs (sampled)."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = self.start = self.process.memory_info().rss
        self._stop = threading.Event()

    def __enter__(self) -> PeakRss:
        def sample() -> None:
            while not self._stop.wait(0.02):
                self.peak = max(self.peak, self.process.memory_info().rss)

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(5)

    @property
    def growth(self) -> int:
        return self.peak - self.start


# -- bodies -------------------------------------------------------------------------------------
def test_a_chunked_body_to_the_api_stops_at_the_limit_with_413(sb):
    json_head = head(sb, "POST", "/api/v2/customApplicationSources/",
                     "Content-Type: application/json", "Transfer-Encoding: chunked")  # fmt: skip
    with PeakRss(sb.pid) as rss:
        status, answer, sent = raw_request(sb, json_head, chunked(400, last=False))
    assert status == 413, answer[:300]
    assert b'"message"' in answer and b"larger than" in answer
    assert sent < 200 * 1024 * 1024  # the server stopped it, not the end of the body
    assert rss.growth < 150 * 1024 * 1024, rss.growth
    # positive control: a small chunked JSON body is read as usual
    small = b'{"name": "chunked"}'
    body = f"{len(small):x}\r\n".encode() + small + b"\r\n0\r\n\r\n"
    status, answer, _ = raw_request(sb, json_head, [body])
    assert status == 201, answer[:300]


@pytest.mark.slow  # an application runs
def test_a_chunked_body_to_an_app_stops_at_the_limit_with_413(sb, app_path):
    app_head = head(sb, "POST", app_path, "Transfer-Encoding: chunked", auth=False)
    with PeakRss(sb.pid) as rss:
        status, answer, sent = raw_request(sb, app_head, chunked(200, last=False))
    assert status == 413, answer[:300]
    assert b"larger than" in answer
    assert sent < 100 * 1024 * 1024
    assert rss.growth < 100 * 1024 * 1024, rss.growth
    # positive control: a body under the limit reaches the app whole
    status, answer, _ = raw_request(sb, app_head, chunked(APP_LIMIT_MB - 2))
    assert status == 200, answer[:300]
    assert answer.endswith(str((APP_LIMIT_MB - 2) * 1024 * 1024).encode())
    # and a Content-Length over the limit is refused before any byte is read
    too_long = head(sb, "POST", app_path, f"Content-Length: {(APP_LIMIT_MB + 1) << 20}")
    status, answer, _ = raw_request(sb, too_long)
    assert status == 413, answer[:300]


@pytest.mark.slow  # an application runs
def test_content_length_with_transfer_encoding_is_a_400(sb, app_path):
    for path in (app_path, "/api/v2/customApplicationSources/"):
        both = head(sb, "POST", path, "Content-Type: application/json", "Content-Length: 5",
                    "Transfer-Encoding: chunked")  # fmt: skip
        status, answer, _ = raw_request(sb, both, [b"0\r\n\r\n"])
        assert status == 400, (path, answer[:300])
        assert b"not both" in answer
    # positive control: either one alone is fine
    page = requests.post(f"{sb.base_url}{app_path}", data=iter([b"abc"]), timeout=30)
    assert page.status_code == 200 and page.text == "3"


# -- connections --------------------------------------------------------------------------------
def test_half_open_connections_are_closed_after_the_header_timeout(sb):
    sockets = []
    try:
        for index in range(200):
            sock = socket.create_connection(("127.0.0.1", sb.port))
            # nothing, a partial request line, or partial headers
            sock.sendall([b"", b"GET / HT", b"GET /api/v2/version/ HTTP/1.1\r\nHost: x\r\n"][
                index % 3
            ])  # fmt: skip
            sockets.append(sock)
        # positive control: a request completed at once is answered meanwhile
        assert requests.get(f"{sb.base_url}/api/v2/version/", timeout=10).status_code in (200, 401)
        selector = selectors.DefaultSelector()
        for sock in sockets:
            selector.register(sock, selectors.EVENT_READ)
        open_ = set(sockets)
        deadline = time.monotonic() + HEADER_TIMEOUT_S + 30  # generous: catches "never"
        while open_ and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=1):
                sock = key.fileobj
                try:
                    data = sock.recv(4096)  # type: ignore[union-attr]
                except ConnectionResetError:
                    data = b""
                if not data:
                    selector.unregister(sock)
                    open_.discard(sock)  # type: ignore[arg-type]
        assert not open_, f"{len(open_)} of 200 half-open connections still open"
    finally:
        for sock in sockets:
            sock.close()


# -- tokens -------------------------------------------------------------------------------------
def test_tokens_from_a_0600_file_and_a_warning_for_the_command_line(tmp_path):
    token_file = tmp_path / "tokens"
    token = "sbx-admin-from-a-file-123456"
    token_file.write_text(f"# the sandbox's roles\nadmin={token}\n")
    token_file.chmod(0o600)
    environ = {TOKENS_ENV: None}
    with start_sandbox(
        demo=False, tokens={"admin": token}, environ=environ, args=["--token-file", str(token_file)]
    ) as from_file:
        assert from_file.api("GET", "customTemplates/").status_code == 200
        assert "warning" not in from_file.output
    with start_sandbox(
        demo=False, tokens={"admin": token}, environ=environ, args=["--token", f"admin={token}"]
    ) as on_command_line:
        assert on_command_line.api("GET", "customTemplates/").status_code == 200
        warning = [line for line in on_command_line.output.splitlines() if "warning" in line]
        assert warning and "--token-file" in warning[0] and "(ps)" in warning[0]
        assert token not in on_command_line.output


def test_a_token_file_others_can_read_is_refused(tmp_path):
    token_file = tmp_path / "tokens"
    token = "sbx-admin-readable-987654"
    token_file.write_text(f"admin={token}\n")
    token_file.chmod(0o644)
    env = {k: v for k, v in os.environ.items() if k != TOKENS_ENV}
    command = [sys.executable, "-m", "dr_notebook.sandbox", "--port", "0", "--no-demo",
               "--db", str(tmp_path / "db"), "--token-file", str(token_file)]  # fmt: skip
    refused = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)
    assert refused.returncode != 0
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "readable by others" in lines[0] and "chmod 600" in lines[0]
    assert token not in refused.stderr + refused.stdout
    # positive control: the same file at 0600 starts the sandbox
    token_file.chmod(0o600)
    with start_sandbox(
        demo=False, tokens={"admin": token}, environ={TOKENS_ENV: None},
        args=["--token-file", str(token_file)],
    ) as fine:  # fmt: skip
        assert fine.api("GET", "customTemplates/").status_code == 200
