"""The one jail for builds and runs (runtime/jail.py), attacked: files, uid, network, processes,
doors, environments, requirement lines, deadlines; each attack beside its positive control
(the same attack without the jail, or before the jail's rule applies)."""

from __future__ import annotations

import http.server
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
import requests
from unprivileged import sandbox_as_nobody

from dr_notebook.sandbox.runtime import isolation, network
from dr_notebook.sandbox.runtime import jail as jails
from dr_notebook.sandbox.runtime.builder import READY, Builder, BuildError
from dr_notebook.sandbox.testing import processes_in, start_sandbox

JAIL, WHY = jails.find()
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(JAIL is None, reason=f"no jail here: {WHY}"),
]
ROOT = os.geteuid() == 0
SERVE = 'exec python -m http.server --bind 127.0.0.1 "$PORT"'


def jailed(folder: Path, command: str, build: bool = False) -> subprocess.CompletedProcess[str]:
    assert JAIL is not None
    folder.mkdir(parents=True, exist_ok=True)
    JAIL.own(folder)
    argv = JAIL.argv(
        ["sh", "-c", command], [jails.Bind(folder, writable=True)], folder, build=build
    )
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=folder)


def plain(folder: Path, command: str) -> subprocess.CompletedProcess[str]:
    folder.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        ["sh", "-c", command], capture_output=True, text=True, timeout=60, cwd=folder
    )


# -- files and uid ------------------------------------------------------------------------------
def test_a_jailed_process_sees_its_folder_and_nothing_else_of_the_machine(tmp_path):
    secret = tmp_path / "other-app" / "secret"
    secret.parent.mkdir()
    secret.write_text("s3cret-of-another-app")
    probe = f"/usr/drn-jail-probe-{uuid.uuid4().hex[:8]}"
    private = f"/tmp/drn-jail-private-{uuid.uuid4().hex[:8]}"
    attack = (
        f"cat {secret}; cat /etc/shadow | head -c 20; ls /root; touch {probe}; "
        f"echo x > {private}; echo mine > mine; ls /proc | grep -c '^[0-9]'"
    )
    try:
        inside = jailed(tmp_path / "app", attack)
        assert "s3cret" not in inside.stdout
        assert not Path(probe).exists() and not Path(private).exists()
        mine = tmp_path / "app" / "mine"
        assert mine.read_text() == "mine\n"
        if ROOT:  # root inside, nobody outside
            assert mine.stat().st_uid == jails.DEFAULT_UID
        assert int(inside.stdout.split()[-1]) < 10  # its own processes only
        # positive control: the same attack without the jail reads and writes the machine
        outside = plain(tmp_path / "plain", attack)
        assert "s3cret-of-another-app" in outside.stdout
        assert Path(private).exists()
    finally:
        for path in (probe, private):
            Path(path).unlink(missing_ok=True)


def test_the_run_folder_stays_the_sandboxs_to_remove(tmp_path):
    result = jailed(tmp_path / "app", "mkdir -p deep/er && echo x > deep/er/f && chmod 500 deep")
    assert result.returncode == 0, result.stderr
    shutil.rmtree(tmp_path / "app")  # the sandbox (root, or the jail's own user) removes it
    assert not (tmp_path / "app").exists()


# -- network ------------------------------------------------------------------------------------
@pytest.fixture
def loopback_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("build", [True, False], ids=["build", "run"])
def test_a_jail_never_reaches_the_machines_loopback(tmp_path, loopback_server, build):
    knock = f"bash -c 'exec 3<>/dev/tcp/127.0.0.1/{loopback_server}' 2>/dev/null && echo REACHED"
    assert "REACHED" not in jailed(tmp_path / "app", knock, build=build).stdout
    assert "REACHED" in plain(tmp_path / "plain", knock).stdout  # positive control


# -- doors --------------------------------------------------------------------------------------
def test_the_sandbox_connects_only_to_the_socket_it_made(tmp_path):
    folder = network.DoorFolder()
    try:
        doors = network.Doors.for_jail(folder, "app", "run", None, sys.executable)
        assert doors.genuine()  # positive control
        doors.release()
        doors.app_socket.unlink()
        doors.app_socket.symlink_to(folder.api_socket)  # a door swapped for another socket
        assert not doors.genuine()
    finally:
        folder.close()


# -- builds -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Base:
    id: str = "jail-test"
    python: str = sys.executable
    python_version: str = "3"
    packages: tuple[str, ...] = ()


BASE = Base()


def ready_builder(tmp_path: Path, files: dict[str, bytes], **kwargs) -> Builder:
    """A builder whose environment for ``files`` is ready (so only build-app.sh runs)."""
    builder = Builder(tmp_path / "envs", jail=JAIL, **kwargs)
    target = builder.root / builder.key(BASE, files)
    (target / "bin").mkdir(parents=True)
    (target / "bin" / "python").symlink_to(sys.executable)
    (target / READY).write_text("ready")
    return builder


def app_folder(tmp_path: Path, files: dict[str, bytes]) -> Path:
    folder = tmp_path / "app"
    folder.mkdir()
    for name, content in files.items():
        (folder / name).write_bytes(content)
    if JAIL is not None:
        JAIL.own(folder)
    return folder


def test_build_app_sh_runs_jailed_with_no_token(tmp_path, monkeypatch):
    monkeypatch.setenv("DATAROBOT_API_TOKEN", "tok-of-the-admin-123456")
    monkeypatch.setenv("DR_NOTEBOOK_SANDBOX_TOKENS", "admin=tok-of-the-admin-123456")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-key-987654")
    database = tmp_path / "sandbox.db"
    database.write_text("credential-values-in-the-database")
    files = {"build-app.sh": f"env\ncat {database}\necho built\n".encode()}

    def build(jail) -> list[str]:
        log: list[str] = []
        builder = ready_builder(tmp_path / str(jail is None), files)
        builder.jail = jail
        builder.build(BASE, files, app_folder(tmp_path / str(jail is None), files), log.append)
        return log

    log = "\n".join(build(JAIL))
    assert "built" in log
    for secret in ("tok-of-the-admin", "aws-key", "credential-values"):
        assert secret not in log
    # positive control: without the jail the build reads the machine's files (never the tokens)
    unjailed = "\n".join(build(None))
    assert "credential-values-in-the-database" in unjailed and "tok-of-the-admin" not in unjailed


@pytest.mark.parametrize("jailed", [True, False], ids=["jail", "no-jail"])
def test_a_background_child_of_build_app_sh_does_not_keep_the_build(tmp_path, jailed):
    files = {"build-app.sh": b"sleep 900 &\nsetsid sleep 901 &\necho started\n"}
    mark = f"{tmp_path}/mark-{uuid.uuid4().hex}/"
    builder = ready_builder(tmp_path, files)
    builder.jail = JAIL if jailed else None
    started = time.monotonic()
    builder.build(BASE, files, app_folder(tmp_path, files), lambda _: None, mark)
    assert time.monotonic() - started < 10
    assert _gone(mark)


def test_the_deadline_ends_everything_the_build_started(tmp_path):
    files = {"build-app.sh": b"setsid sleep 900 &\nsleep 901\n"}
    mark = f"{tmp_path}/mark-{uuid.uuid4().hex}/"
    builder = ready_builder(tmp_path, files, timeout_s=2.0)
    started = time.monotonic()
    with pytest.raises(BuildError, match="did not finish within 2 s"):
        builder.build(BASE, files, app_folder(tmp_path, files), lambda _: None, mark)
    assert time.monotonic() - started < 15
    assert _gone(mark)


def test_stopping_a_build_ends_every_process_it_started(tmp_path):
    files = {"build-app.sh": b"setsid sleep 900 &\nsleep 901\n"}
    mark = f"{tmp_path}/mark-{uuid.uuid4().hex}/"
    builder = ready_builder(tmp_path, files)
    folder = app_folder(tmp_path, files)
    errors: list[BaseException] = []

    def build() -> None:
        try:
            builder.build(BASE, files, folder, lambda _: None, mark)
        except BuildError as exc:
            errors.append(exc)

    thread = threading.Thread(target=build)
    thread.start()
    deadline = time.monotonic() + 20
    while len(isolation.marked(mark)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(isolation.marked(mark)) >= 2  # positive control: both sleeps run
    builder.cancel(folder)
    thread.join(15)
    assert not thread.is_alive() and errors and "stopped" in str(errors[0])
    assert _gone(mark)


def _gone(mark: str, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while isolation.marked(mark) and time.monotonic() < deadline:
        time.sleep(0.05)
    return isolation.marked(mark) == []


@pytest.mark.parametrize(
    "line",
    ["-r /etc/passwd", "-c /etc/passwd", "--requirement ../x.txt", "--requirement=../x.txt",
     "-r../x.txt", "/opt/pkg", "file:///etc/passwd", "pkg @ file:///tmp/pkg",
     "-e /tmp/pkg", "--find-links /opt/wheels", "~/pkg", "./ok/../../up"],
)  # fmt: skip
def test_requirement_lines_outside_the_app_are_refused(tmp_path, line):
    files = {"requirements.txt": f"flask\n{line}\n".encode()}
    builder = Builder(tmp_path / "envs", offline=True, jail=JAIL)
    with pytest.raises(BuildError, match="outside the application") as raised:
        builder.build(BASE, files, app_folder(tmp_path, files), lambda _: None)
    assert line.split()[-1][:8] in str(raised.value)


def test_requirement_files_inside_the_app_are_kept(tmp_path):
    files = {"requirements.txt": b"-r more.txt\n-c ./constraints.txt\n", "more.txt": b"flask\n",
             "constraints.txt": b"flask>=1\n"}  # fmt: skip
    builder = Builder(tmp_path / "envs", offline=True, jail=JAIL)
    built = builder.build(BASE, files, app_folder(tmp_path, files), lambda _: None)
    assert built.offline


# -- through the sandbox ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sb():
    with start_sandbox(demo=False, run_apps=True, offline=True) as server:
        yield server
    assert processes_in(server.apps_dir) == []


def launch(sb, files, role="admin", name="Jail"):
    source = sb.api("POST", "customApplicationSources/", role=role, json={"name": name}).json()
    version = source["latestVersion"]["id"]
    response = sb.api(
        "PATCH", f"customApplicationSources/{source['id']}/versions/{version}/", role=role,
        files=[("file", (p, d)) for p, d in files], data=[("filePath", p) for p, _ in files],
    )  # fmt: skip
    assert response.status_code == 200, response.text
    response = sb.api(
        "POST", "customApplications/", role=role,
        json={"name": name, "applicationSourceId": source["id"]},
    )  # fmt: skip
    assert response.status_code == 202, response.text
    return response.json()["id"]


def wait_until(sb, app_id, wanted=("running", "failed"), timeout=60.0):
    deadline = time.monotonic() + timeout
    app: dict = {}
    while time.monotonic() < deadline:
        app = sb.api("GET", f"customApplications/{app_id}/").json()
        if app["status"] in wanted:
            return app
        time.sleep(0.1)
    raise AssertionError(f"{app_id} stayed {app['status']}")


def output(sb, app_id) -> str:
    return "\n".join(sb.api("GET", f"customApplications/{app_id}/logs/").json()["logs"])


def script(*lines: str) -> bytes:
    return ("#!/usr/bin/env bash\n" + "\n".join(lines) + "\n").encode()


def test_an_app_reads_no_database_no_other_app_and_changes_no_door(sb):
    admin = launch(sb, [("start-app.sh", script("echo admin-secret > secret.txt", SERVE))])
    assert wait_until(sb, admin)["status"] == "running"
    others = sb.apps_dir / admin
    attack = script(
        f"cat {sb.db_path} && echo READ-DATABASE",
        f"cat {others}/*/secret.txt",
        "ls -a /run/drn | tr '\\n' ' '; echo",
        "mv /run/drn/api.sock /run/drn/x 2>/dev/null && echo MOVED-DOOR",
        'echo evil > "$(python -c "import site; print(site.getsitepackages()[0])")/evil.pth" '
        "2>/dev/null && echo WROTE-ENVIRONMENT",
        "echo mine > mine.txt",
        SERVE,
    )
    user = launch(sb, [("start-app.sh", attack)], role="user")
    assert wait_until(sb, user)["status"] == "running"
    seen = output(sb, user)
    for sign in ("READ-DATABASE", "admin-secret", "MOVED-DOOR", "WROTE-ENVIRONMENT"):
        assert sign not in seen, seen
    assert ". .. api.sock" in seen  # its own door's folder holds the sandbox's socket alone
    build_log = sb.api("GET", f"customApplications/{user}/logs/").json()["buildLog"]
    assert "Jail: bubblewrap" in build_log
    mine = next((sb.apps_dir / user).glob("*/mine.txt"))
    if ROOT:
        assert mine.stat().st_uid == jails.DEFAULT_UID
    # positive control: the page of each app answers through the sandbox
    for app_id in (admin, user):
        page = requests.get(f"{sb.base_url}/custom_applications/{app_id}/", timeout=10)
        assert page.status_code == 200
    for app_id in (admin, user):
        assert sb.api("DELETE", f"customApplications/{app_id}/").status_code == 204
    assert not (sb.apps_dir / user).exists()


def test_a_daemon_left_by_build_app_sh_neither_keeps_the_app_building_nor_outlives_it():
    # online: an offline sandbox runs no build-app.sh
    with start_sandbox(demo=False, run_apps=True) as sb:
        files = [("build-app.sh", script("setsid sleep 900 &", "echo build done")),
                 ("start-app.sh", script(SERVE))]  # fmt: skip
        app_id = launch(sb, files)
        app = wait_until(sb, app_id, timeout=120)
        assert app["status"] == "running", app["buildError"]
        build_log = sb.api("GET", f"customApplications/{app_id}/logs/").json()["buildLog"]
        assert "build done" in build_log  # positive control: build-app.sh ran
        sleepers = [p for p in processes_in(sb.apps_dir / app_id) if p.name() == "sleep"]
        assert sleepers == []
        assert sb.api("DELETE", f"customApplications/{app_id}/").status_code == 204


# -- the sandbox itself as an unprivileged user ------------------------------------------------
@pytest.mark.skipif(not ROOT, reason="starts the sandbox as another user: needs root")
def test_an_unprivileged_sandbox_fails_an_app_receiving_udp_everywhere_in_the_port_mode():
    udp = (
        "python -c 'import os, socket, time; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
        's.bind((os.environ["UDP_HOST"], 0)); time.sleep(3600)\' &'
    )
    with sandbox_as_nobody(demo=False, run_apps=True, offline=True, isolation="port") as sb:
        assert psutil.Process(sb.pid).uids().real == jails.DEFAULT_UID
        exposed = launch(sb, [("start-app.sh", script("export UDP_HOST=0.0.0.0", udp, SERVE))])
        local = launch(sb, [("start-app.sh", script("export UDP_HOST=127.0.0.1", udp, SERVE))])
        failed = wait_until(sb, exposed)
        assert failed["status"] == "failed" and "UDP port" in failed["buildError"], failed
        # positive control: UDP on 127.0.0.1 runs
        assert wait_until(sb, local)["status"] == "running"
        for app_id in (exposed, local):
            sb.api("DELETE", f"customApplications/{app_id}/")


@pytest.mark.skipif(not ROOT, reason="starts the sandbox as another user: needs root")
def test_an_unprivileged_sandbox_runs_its_apps_jailed():
    with sandbox_as_nobody(demo=False, run_apps=True, offline=True) as sb:
        server = psutil.Process(sb.pid)
        assert server.uids().real == jails.DEFAULT_UID  # the sandbox is nobody
        attack = script("cat /etc/shadow && echo READ-SHADOW", "echo mine > mine.txt", SERVE)
        app_id = launch(sb, [("start-app.sh", attack)], role="user")
        app = wait_until(sb, app_id)
        assert app["status"] == "running", app["buildError"]
        page = requests.get(f"{sb.base_url}/custom_applications/{app_id}/", timeout=10)
        assert page.status_code == 200  # positive control: it serves
        assert "READ-SHADOW" not in output(sb, app_id)
        build_log = sb.api("GET", f"customApplications/{app_id}/logs/").json()["buildLog"]
        assert "Jail: bubblewrap (root inside, the sandbox's user outside)" in build_log
        mine = next((sb.apps_dir / app_id).glob("*/mine.txt"))
        assert mine.stat().st_uid == jails.DEFAULT_UID
        assert sb.api("DELETE", f"customApplications/{app_id}/").status_code == 204
        assert not (sb.apps_dir / app_id).exists()


def test_a_jailed_build_installs_copies_with_a_cache_of_its_own(tmp_path):
    files = {"requirements.txt": b"tinydb==4.8.0\n"}
    builder = Builder(tmp_path / "envs", jail=JAIL)
    log: list[str] = []
    built = builder.build(BASE, files, app_folder(tmp_path, files), log.append)
    assert built.prefix is not None and any("+ tinydb==4.8.0" in line for line in log)
    installed = [p for p in built.prefix.rglob("*") if p.is_file() and not p.is_symlink()]
    assert any(p.name == "__init__.py" and p.parent.name == "tinydb" for p in installed)
    for path in installed:  # no link into uv's cache, and the sandbox's again after the build
        info = path.stat()
        assert info.st_nlink == 1, path
        assert info.st_uid == os.getuid(), path
    assert not list(builder.root.glob(".*.uv-cache"))  # the jail's own cache is gone
