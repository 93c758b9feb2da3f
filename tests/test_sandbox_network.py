"""Apps' own networks: port 8080 each, Unix-socket doors in and out, and the fallback."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from dr_notebook.sandbox.runtime import network

PID_PREFIX = ("unshare", "--pid", "--fork", "--kill-child")
if os.geteuid() != 0:
    PID_PREFIX = ("unshare", "--user", "--map-root-user", "--pid", "--fork", "--kill-child")
REASON = network.unavailable_reason(PID_PREFIX)
needs_namespaces = pytest.mark.skipif(REASON is not None, reason=f"no namespaces: {REASON}")

# An app as DataRobot's examples are: 8080 hardcoded, all interfaces; it calls "the API" first.
APP = """import sys, urllib.request, http.server
print("api says", urllib.request.urlopen(sys.argv[1]).read().decode(), flush=True)
http.server.test(HandlerClass=http.server.SimpleHTTPRequestHandler, port=8080, bind=sys.argv[2])
"""


@pytest.fixture
def api() -> Iterator[int]:
    """A stand-in for the sandbox on 127.0.0.1: answers "sandbox" to every GET."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"sandbox")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def start(
    folder: network.DoorFolder, name: str, api_port: int, bind: str
) -> tuple[subprocess.Popen[str], network.Doors]:
    doors = network.Doors.for_run(folder, name, "run1", api_port)
    argv = [*PID_PREFIX, *doors.prefix, sys.executable, "-c", APP,
            f"http://127.0.0.1:{api_port}/", bind]  # fmt: skip
    process = subprocess.Popen(
        argv, env={**os.environ, **doors.environment()}, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, cwd=folder.path,
    )  # fmt: skip
    return process, doors


def wait_until(check, process: subprocess.Popen[str], limit: float = 20.0) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if check():
            return True
        if process.poll() is not None:
            return False
        time.sleep(0.1)
    return False


def app_pid(process: subprocess.Popen[str]) -> int:
    children = psutil.Process(process.pid).children(recursive=True)
    return next(c.pid for c in children if "http.server" in " ".join(c.cmdline()))


@needs_namespaces
def test_two_apps_on_8080_at_once_each_reached_only_through_its_door(api):
    folder = network.DoorFolder()
    door = network.ApiDoor(folder.api_socket)
    door.ensure("127.0.0.1", api)
    runs = [start(folder, f"app{i}", api, "0.0.0.0") for i in range(2)]
    inside: list[psutil.Process] = []
    try:
        for process, doors in runs:
            assert wait_until(lambda d=doors: network.answers(d.app_socket), process)
            inside += psutil.Process(process.pid).children(recursive=True)
            assert network.loopback_only(app_pid(process)) is False  # 0.0.0.0, in its network
        assert network.answers(runs[0][1].app_socket) and network.answers(runs[1][1].app_socket)
        # Outside, nothing listens on 8080 (positive control: the doors answered above).
        assert not any(
            c.laddr and c.laddr[1] == 8080 and c.status == psutil.CONN_LISTEN
            for c in psutil.net_connections(kind="tcp")
        )
    finally:
        outputs = []
        for process, _ in runs:
            process.kill()  # unshare --kill-child: the namespace's process 1 goes, and all in it
            outputs.append(process.communicate(timeout=10)[0])
        door.close()
        folder.close()
    assert all("api says sandbox" in out for out in outputs), outputs  # the door to the sandbox
    assert len(inside) >= 6  # per run: the app and its two socat doors
    _, alive = psutil.wait_procs(inside, timeout=5)
    assert alive == []  # nothing of either namespace is left
    assert not folder.path.exists()


@needs_namespaces
def test_an_app_on_127_0_0_1_is_served_and_noticed(api):
    folder = network.DoorFolder()
    door = network.ApiDoor(folder.api_socket)
    door.ensure("127.0.0.1", api)
    process, doors = start(folder, "local", api, "127.0.0.1")
    try:
        assert wait_until(lambda: network.answers(doors.app_socket), process)
        assert network.loopback_only(app_pid(process)) is True
    finally:
        process.kill()
        process.communicate(timeout=10)
        door.close()
        folder.close()


def test_a_dead_door_does_not_answer(tmp_path: Path):
    assert not network.answers(tmp_path / "nothing.sock")


def test_the_port_mode_can_be_forced(monkeypatch):
    monkeypatch.setenv(network.ISOLATION_ENV, "port")
    assert network.unavailable_reason(PID_PREFIX) == (
        "DR_NOTEBOOK_ISOLATION=port (or --isolation port) asks for it"
    )
    monkeypatch.setenv(network.ISOLATION_ENV, "namespace")
    assert network.unavailable_reason(()) is not None  # no PID namespace: no network of its own


def test_the_doors_folder_is_private_and_the_next_sandbox_clears_a_killed_ones(tmp_path: Path):
    key = f"{tmp_path}/db-apps/"
    first = network.DoorFolder(key)
    (first.path / "api.sock").write_text("left by a killed sandbox")
    second = network.DoorFolder(key)
    assert second.path == first.path and list(second.path.iterdir()) == []
    assert (second.path.stat().st_mode & 0o777) == 0o700
    second.path.chmod(0o755)  # not private (anyone's to read): not trusted, not reused
    third = network.DoorFolder(key)
    assert third.path != second.path and (third.path.stat().st_mode & 0o777) == 0o700
    for folder in (second, third):
        folder.close()
    assert not second.path.exists() and not third.path.exists()
