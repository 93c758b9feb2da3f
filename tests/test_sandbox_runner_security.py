"""``--run-apps`` attacked over HTTP with the three roles: owners, tokens, address, environment,
processes, output, concurrency; each attack beside its positive control."""

from __future__ import annotations

import hashlib
import os
import signal
import stat
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest
import requests

from dr_notebook.sandbox.runtime import isolation, network
from dr_notebook.sandbox.runtime.supervisor import STOP_GRACE_S
from dr_notebook.sandbox.testing import processes_in, start_sandbox

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux guarantees"),
]

SERVE = 'exec python -m http.server --bind 127.0.0.1 "$PORT"\n'


@pytest.fixture(scope="module")
def sb():
    with start_sandbox(demo=False, run_apps=True) as server:
        yield server
    assert processes_in(server.apps_dir) == []


def script(*lines: str) -> bytes:
    return ("#!/usr/bin/env bash\n" + "\n".join(lines) + "\n").encode()


def source_with(sb, files, role="admin", name="Attack"):
    source = sb.api("POST", "customApplicationSources/", role=role, json={"name": name}).json()
    put_files(sb, source["id"], source["latestVersion"]["id"], files, role)
    return source


def put_files(sb, source_id, version_id, files, role="admin"):
    response = sb.api(
        "PATCH", f"customApplicationSources/{source_id}/versions/{version_id}/", role=role,
        files=[("file", (p, d)) for p, d in files], data=[("filePath", p) for p, _ in files],
    )  # fmt: skip
    assert response.status_code == 200, response.text


def new_version(sb, source, files, role="admin"):
    version = sb.api(
        "POST", f"customApplicationSources/{source['id']}/versions/", role=role,
        json={"baseVersion": source["latestVersion"]["id"]},
    ).json()  # fmt: skip
    put_files(sb, source["id"], version["id"], files, role)
    return version


def create(sb, source, role="admin", **extra):
    response = sb.api(
        "POST", "customApplications/", role=role,
        json={"name": "app", "applicationSourceId": source["id"]}, **extra,
    )  # fmt: skip
    assert response.status_code == 202, response.text
    return response.json()


def wait_until(sb, app_id, wanted=("running", "failed"), timeout=60.0):
    deadline = time.monotonic() + timeout
    app: dict = {}
    while time.monotonic() < deadline:
        app = sb.api("GET", f"customApplications/{app_id}/").json()
        if app["status"] in wanted:
            return app
        time.sleep(0.1)
    raise AssertionError(f"{app_id} stayed {app['status']}")


def logs(sb, app_id, role="admin"):
    return sb.api("GET", f"customApplications/{app_id}/logs/", role=role)


def wait_for_line(sb, app_id, prefix, role="admin"):
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = [line for line in logs(sb, app_id, role).json()["logs"] if line.startswith(prefix)]
        if found:
            return found[-1][len(prefix) :]
        time.sleep(0.1)
    raise AssertionError(f"no {prefix!r} line")


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# -- owners -------------------------------------------------------------------------------------
def test_a_user_cannot_move_restart_stop_or_delete_an_admins_application(sb):
    shows_token = script('echo "token=$(printf %s "$DATAROBOT_API_TOKEN" | sha256sum)"', SERVE)
    source = source_with(sb, [("start-app.sh", shows_token)])
    app = create(sb, source)
    assert wait_until(sb, app["id"])["status"] == "running"
    url = f"customApplications/{app['id']}/"
    # the attack: the user's own version, then the admin's application moved onto it
    mine = source_with(sb, [("start-app.sh", script("env", SERVE))], role="user")
    moved = sb.api(
        "PATCH", url, role="user",
        json={"customApplicationSourceVersionId": mine["latestVersion"]["id"]},
    )  # fmt: skip
    assert moved.status_code == 403
    for method, tail in (("POST", "start/"), ("POST", "stop/"), ("DELETE", "")):
        assert sb.api(method, f"{url}{tail}", role="user").status_code == 403
    assert sb.api("PATCH", url, role="user", json={"name": "mine"}).status_code == 403
    for role in ("user", "viewer"):
        assert logs(sb, app["id"], role).status_code == 403
        assert sb.api("GET", f"{url}history/", role=role).status_code == 403
        assert sb.api("GET", url, role=role).json()["permissions"] == ["CAN_VIEW"]
    after = sb.api("GET", url).json()
    assert after["customApplicationSourceVersionId"] == source["latestVersion"]["id"]
    assert after["status"] == "running" and after["name"] == "app"
    # positive control: the owner (admin) still reads its logs and restarts
    assert logs(sb, app["id"]).status_code == 200
    assert sb.api("POST", f"{url}start/").status_code == 202
    assert sb.api("DELETE", url).status_code == 204


def test_an_application_runs_with_its_owners_token_whoever_restarts_it(sb):
    shows_token = script('echo "token=$(printf %s "$DATAROBOT_API_TOKEN" | sha256sum)"', SERVE)
    source = source_with(sb, [("start-app.sh", shows_token)], role="user")
    app = create(sb, source, role="user")
    assert wait_until(sb, app["id"])["status"] == "running"
    user_digest = digest(sb.tokens["user"])
    assert wait_for_line(sb, app["id"], "token=", role="user").startswith(user_digest)
    # the admin restarts it (positive control: admins act on everything) on its own version
    admin_version = new_version(sb, source, [("x.txt", b"admin's")], role="user")
    url = f"customApplications/{app['id']}/"
    assert sb.api("POST", f"{url}start/").status_code == 202
    patched = sb.api("PATCH", url, json={"customApplicationSourceVersionId": admin_version["id"]})
    assert patched.status_code == 200
    assert wait_until(sb, app["id"])["status"] == "running"
    assert wait_for_line(sb, app["id"], "token=").startswith(user_digest)  # still the owner's
    assert digest(sb.tokens["admin"]) not in str(logs(sb, app["id"]).json())
    # the owner reads its own logs and history; the admin too; a viewer does not
    assert logs(sb, app["id"], "user").status_code == 200
    history = sb.api("GET", f"{url}history/", role="user").json()
    assert history["totalCount"] == 3  # created, started, moved: every start is kept
    assert logs(sb, app["id"], "viewer").status_code == 403
    assert sb.api("DELETE", url, role="user").status_code == 204


# -- secrets ------------------------------------------------------------------------------------
def test_tokens_printed_by_an_app_are_redacted_everywhere(sb):
    leak = script(
        'echo "mine: $DATAROBOT_API_TOKEN"',
        f'echo "found: {sb.tokens["viewer"]} and {sb.tokens["admin"]}" >&2',
        "python -c \"import os; print('long:' + 'y' * 9000 + os.environ['DATAROBOT_API_TOKEN'])\"",
        "exit 3",
    )
    source = source_with(sb, [("start-app.sh", leak)], role="user")
    app = create(sb, source, role="user")
    failed = wait_until(sb, app["id"])
    assert failed["status"] == "failed" and "[redacted]" in failed["buildError"]
    answers = [
        logs(sb, app["id"], "user").text,
        sb.api("GET", f"customApplications/{app['id']}/").text,
        sb.api("GET", "customApplications/").text,
        sb.api("GET", f"customApplications/{app['id']}/history/").text,
        requests.get(failed["applicationUrl"], timeout=10).text,
    ]
    for token in sb.tokens.values():
        assert all(token not in text for text in answers)
    assert "mine: [redacted]" in answers[0]  # positive control: the line is there, hidden
    page = answers[-1]
    assert "failed" in page and "mine:" not in page and "found:" not in page
    sb.api("DELETE", f"customApplications/{app['id']}/")


# -- one address --------------------------------------------------------------------------------
def test_a_forged_host_header_changes_no_address(sb):
    shows = script('echo "endpoint=$DATAROBOT_ENDPOINT"', SERVE)
    source = source_with(sb, [("start-app.sh", shows)])
    forged = {"Host": "attacker.example:9999", "X-Forwarded-Host": "attacker.example"}
    app = create(sb, source, headers=forged)
    assert app["applicationUrl"] == f"{sb.base_url}/custom_applications/{app['id']}/"
    assert wait_until(sb, app["id"])["status"] == "running"
    assert wait_for_line(sb, app["id"], "endpoint=") == sb.endpoint
    url = f"customApplications/{app['id']}/"
    patched = sb.api("PATCH", url, headers=forged, json={"name": "renamed"})
    assert patched.json()["applicationUrl"].startswith(sb.base_url)
    listing = sb.api("GET", "customApplications/?limit=1", headers=forged).json()
    assert "attacker" not in str(listing)
    created = sb.api(
        "POST", "customApplications/", headers=forged, allow_redirects=False,
        json={"applicationSourceId": source["id"]},
    )  # fmt: skip
    assert created.headers["Location"].startswith(sb.base_url)
    sb.api("DELETE", f"customApplications/{created.json()['id']}/")
    sb.api("DELETE", url)


# -- environment --------------------------------------------------------------------------------
ALLOWED = {"PATH", "HOME", "LANG", "TZ", "TMPDIR", "TERM", "PORT", "BIND_ADDRESS"}
ALLOWED |= {"PYTHONUNBUFFERED", "DR_NOTEBOOK_SANDBOX_RUN", "PWD", "SHLVL", "_", "OLDPWD"}
# What DataRobot gives an application besides, and the built environment it runs in.
ALLOWED |= {
    "APPLICATION_ID",
    "SCRIPT_NAME",
    "DR_CUSTOM_APP_EXTERNAL_URL",
    "VIRTUAL_ENV",
    "BASE_PATH",
}


def test_apps_get_only_the_allow_listed_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "cloud-secret")
    monkeypatch.setenv("SSH_AUTH_SOCK", "/tmp/agent.sock")
    monkeypatch.setenv("LC_TIME", "C")
    with start_sandbox(demo=False, run_apps=True, db_path=tmp_path / "e.db") as server:
        names = script(
            "python -c \"import os; print('names=' + ' '.join(sorted(os.environ)))\"", SERVE
        )
        source = source_with(server, [("start-app.sh", names)])
        app = create(server, source)
        assert wait_until(server, app["id"])["status"] == "running"
        seen = set(wait_for_line(server, app["id"], "names=").split())
        server.api("DELETE", f"customApplications/{app['id']}/")
    assert "AWS_SECRET_ACCESS_KEY" not in seen and "SSH_AUTH_SOCK" not in seen
    assert "DR_NOTEBOOK_SANDBOX_TOKENS" not in seen
    assert {"DATAROBOT_ENDPOINT", "DATAROBOT_API_TOKEN", "PORT", "LC_TIME"} <= seen  # control
    extra = {n for n in seen if n not in ALLOWED and not n.startswith(("LC_", "DATAROBOT_"))}
    assert extra == set()


# -- processes ----------------------------------------------------------------------------------
def daemon_pids(folder):
    return [p.pid for p in processes_in(folder) if p.name() == "sleep"]


def test_setsid_daemons_end_on_restart_stop_and_delete(sb):
    daemon = script("setsid sleep 1000 > /dev/null 2>&1 < /dev/null &", SERVE)
    source = source_with(sb, [("start-app.sh", daemon)])
    app = create(sb, source)
    assert wait_until(sb, app["id"])["status"] == "running"
    folder = sb.apps_dir / app["id"]
    first = daemon_pids(folder)
    assert len(first) == 1
    assert os.getsid(first[0]) == first[0]  # it left the app's session
    url = f"customApplications/{app['id']}/"
    assert sb.api("POST", f"{url}start/").status_code == 202  # restart
    assert wait_until(sb, app["id"])["status"] == "running"
    assert not psutil.pid_exists(first[0]) or psutil.Process(first[0]).status() == "zombie"
    assert len(daemon_pids(folder)) == 1  # the new run's daemon only
    assert sb.api("POST", f"{url}stop/").status_code == 202
    assert daemon_pids(folder) == []
    assert sb.api("POST", f"{url}start/").status_code == 202
    assert wait_until(sb, app["id"])["status"] == "running"
    assert len(daemon_pids(folder)) == 1
    assert sb.api("DELETE", url).status_code == 204
    assert processes_in(folder) == []


def test_the_start_up_sweep_ends_only_marked_processes(tmp_path):
    server = start_sandbox(demo=False, run_apps=True, db_path=tmp_path / "w.db")
    bystander = None
    try:
        daemon = script("setsid sleep 1000 > /dev/null 2>&1 < /dev/null &", SERVE)
        source = source_with(server, [("start-app.sh", daemon)])
        app = create(server, source)
        assert wait_until(server, app["id"])["status"] == "running"
        # a user's own shell in the apps folder: not the sandbox's to end
        bystander = subprocess.Popen(["sleep", "1000"], cwd=server.apps_dir)
        assert server.pid is not None
        os.kill(server.pid, signal.SIGKILL)
        while server.running:
            time.sleep(0.05)
        assert len(daemon_pids(server.apps_dir / app["id"])) == 1  # orphaned
        server.restart()
        assert processes_in(server.apps_dir / app["id"]) == []
        assert bystander.poll() is None  # untouched
    finally:
        if bystander is not None:
            bystander.kill()
            bystander.wait()
        server.stop()
    assert processes_in(tmp_path) == []


# -- one sandbox per database, private files ----------------------------------------------------
def test_a_second_sandbox_on_the_same_database_exits_and_touches_nothing(tmp_path):
    db = tmp_path / "one.db"
    with start_sandbox(demo=False, run_apps=True, db_path=db) as first:
        source = source_with(first, [("start-app.sh", script(SERVE))])
        app = create(first, source)
        running = wait_until(first, app["id"])
        assert running["status"] == "running"
        before = {p.name: (p.stat().st_mtime_ns, p.stat().st_size) for p in tmp_path.glob("one*")}
        started = time.monotonic()
        second = subprocess.run(
            [sys.executable, "-m", "dr_notebook.sandbox", "--db", str(db), "--port", "0",
             "--run-apps"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert time.monotonic() - started < 20
        assert second.returncode == 1 and second.stdout == ""
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1
        assert f"pid {first.pid}" in lines[0] and f"port {first.port}" in lines[0]
        after = {p.name: (p.stat().st_mtime_ns, p.stat().st_size) for p in tmp_path.glob("one*")}
        assert after == before
        assert wait_until(first, app["id"])["status"] == "running"
        assert requests.get(running["applicationUrl"], timeout=10).status_code == 200
        # the files are the owner's only
        for name in ("one.db", "one.db-wal", "one.db-shm", "one.db.lock"):
            assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
        assert stat.S_IMODE(first.apps_dir.stat().st_mode) == 0o700
        first.api("DELETE", f"customApplications/{app['id']}/")
    # positive control: once the first has stopped, the database is free again
    with start_sandbox(demo=False, db_path=db) as again:
        assert again.api("GET", "version/").status_code == 200


# -- network ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def port_mode():
    with start_sandbox(demo=False, run_apps=True, isolation="port") as server:
        yield server
    assert processes_in(server.apps_dir) == []


def test_an_app_listening_on_all_interfaces_fails_saying_so_in_the_port_mode(port_mode):
    exposed = script('exec python -m http.server --bind 0.0.0.0 "$PORT"')
    source = source_with(port_mode, [("start-app.sh", exposed)])
    app = create(port_mode, source)
    failed = wait_until(port_mode, app["id"])
    assert failed["status"] == "failed"
    assert "all network interfaces" in failed["buildError"]
    assert processes_in(port_mode.apps_dir / app["id"]) == []
    port_mode.api("DELETE", f"customApplications/{app['id']}/")
    # positive control: the same server on 127.0.0.1 runs
    local = source_with(port_mode, [("start-app.sh", script(SERVE))])
    fine = create(port_mode, local)
    assert wait_until(port_mode, fine["id"])["status"] == "running"
    port_mode.api("DELETE", f"customApplications/{fine['id']}/")


# A UDP socket opened before the page serves; then the page on 127.0.0.1.
UDP_THEN_SERVE = """python - <<'EOF'
import http.server, os, socket
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind((os.environ["UDP_HOST"], 0))
if os.environ.get("UDP_PEER"):
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.connect(("127.0.0.1", 9))  # a client's socket: bound on 0.0.0.0, hears its peer only
http.server.test(http.server.SimpleHTTPRequestHandler, port=int(os.environ["PORT"]),
                 bind="127.0.0.1")
EOF"""


def test_an_app_receiving_udp_on_all_interfaces_fails_in_the_port_mode(port_mode):
    exposed = script("export UDP_HOST=0.0.0.0", UDP_THEN_SERVE)
    app = create(port_mode, source_with(port_mode, [("start-app.sh", exposed)]))
    failed = wait_until(port_mode, app["id"])
    assert failed["status"] == "failed", failed
    assert "all network interfaces" in failed["buildError"]
    assert "UDP port" in failed["buildError"]
    assert processes_in(port_mode.apps_dir / app["id"]) == []
    port_mode.api("DELETE", f"customApplications/{app['id']}/")
    # positive control: UDP on 127.0.0.1, and a connected client socket, run
    local = script("export UDP_HOST=127.0.0.1 UDP_PEER=1", UDP_THEN_SERVE)
    fine = create(port_mode, source_with(port_mode, [("start-app.sh", local)]))
    running = wait_until(port_mode, fine["id"])
    assert running["status"] == "running", running
    assert requests.get(running["applicationUrl"], timeout=10).status_code == 200
    port_mode.api("DELETE", f"customApplications/{fine['id']}/")


@pytest.mark.skipif(
    network.unavailable_reason(isolation.namespace_prefix()) is not None,
    reason="no network namespaces here",
)
def test_an_app_on_all_interfaces_in_its_own_network_is_reachable_by_nobody_else(sb):
    exposed = script("exec python -m http.server --bind 0.0.0.0 8080")
    app = create(sb, source_with(sb, [("start-app.sh", exposed)]))
    running = wait_until(sb, app["id"])
    assert running["status"] == "running"  # contained: its 0.0.0.0 is its own network's
    listening = {
        c.laddr.port for c in psutil.net_connections("tcp") if c.status == "LISTEN" and c.laddr
    }
    assert 8080 not in listening  # not on this machine's interfaces
    page = requests.get(running["applicationUrl"], timeout=10)  # positive control: the door
    assert page.status_code == 200 and "Directory listing" in page.text
    sb.api("DELETE", f"customApplications/{app['id']}/")


# -- bounded output -----------------------------------------------------------------------------
def test_a_100_mb_burst_leaves_memory_and_database_flat(sb):
    burst = script(
        "python -c \"import sys; [sys.stdout.write('x' * (20 * 1024 * 1024) + '\\n') "
        'for _ in range(5)]; sys.stdout.flush()"',
        "python -c \"import sys; [print('line', i, 'z' * 200) for i in range(20000)]\"",
        "exit 7",
    )
    source = source_with(sb, [("start-app.sh", burst)])
    server = psutil.Process(sb.pid)
    rss_before = server.memory_info().rss
    db_before = sum(p.stat().st_size for p in sb.db_path.parent.glob("sandbox.db*"))
    app = create(sb, source)
    failed = wait_until(sb, app["id"], timeout=120)
    assert failed["status"] == "failed" and "code 7" in failed["buildError"]
    answer = logs(sb, app["id"])
    assert len(answer.content) < 1_300_000
    lines = answer.json()["logs"]
    assert lines and all(len(line) <= 4200 for line in lines)
    assert lines[-1].startswith("line 19999")  # the newest lines are kept
    assert len(failed["buildError"]) <= 4096
    assert len(sb.api("GET", f"customApplications/{app['id']}/").content) < 10_000
    growth = server.memory_info().rss - rss_before
    assert growth < 60 * 1024 * 1024, growth
    db_after = sum(p.stat().st_size for p in sb.db_path.parent.glob("sandbox.db*"))
    assert db_after - db_before < 2 * 1024 * 1024
    sb.api("DELETE", f"customApplications/{app['id']}/")


# -- one thing at a time ------------------------------------------------------------------------
def test_ten_concurrent_restarts_leave_one_consistent_run(sb):
    serve_label = script('echo "$(cat label.txt)" > index.html', SERVE)
    source = source_with(sb, [("start-app.sh", serve_label), ("label.txt", b"v0")])
    app = create(sb, source)
    assert wait_until(sb, app["id"])["status"] == "running"
    versions = [new_version(sb, source, [("label.txt", f"v{n}".encode())]) for n in range(1, 11)]
    url = f"customApplications/{app['id']}/"

    def move(version):
        body = {"customApplicationSourceVersionId": version["id"]}
        return sb.api("PATCH", url, json=body, timeout=120).status_code

    with ThreadPoolExecutor(10) as pool:
        assert list(pool.map(move, versions)) == [200] * 10
    running = wait_until(sb, app["id"], timeout=120)
    assert running["status"] == "running", running["buildError"]
    contents = {v["id"]: f"v{n}" for n, v in enumerate(versions, start=1)}
    label = contents[running["customApplicationSourceVersionId"]]
    deadline = time.monotonic() + 20
    served = None
    while time.monotonic() < deadline:
        served = requests.get(running["applicationUrl"], timeout=10).text.strip()
        if served == label:
            break
        time.sleep(0.2)
    assert served == label  # the stored version is the one served
    history = sb.api("GET", f"{url}history/").json()
    assert history["totalCount"] == 11
    assert {h["customApplicationSourceVersionId"] for h in history["data"]} >= {
        v["id"] for v in versions
    }
    assert len(list((sb.apps_dir / app["id"]).iterdir())) == 1  # one run, one folder
    sb.api("DELETE", url)
    assert processes_in(sb.apps_dir / app["id"]) == []


# -- stops fast and always ----------------------------------------------------------------------
def test_apps_that_ignore_sigterm_are_stopped_in_parallel(tmp_path):
    server = start_sandbox(demo=False, run_apps=True, db_path=tmp_path / "p.db")
    try:
        stubborn = script("trap '' TERM", 'python -c "import signal, http.server, os; '
                          "signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                          "http.server.test(http.server.SimpleHTTPRequestHandler, "
                          "port=int(os.environ['PORT']), bind='127.0.0.1')\"")  # fmt: skip
        source = source_with(server, [("start-app.sh", stubborn)])
        apps = [create(server, source) for _ in range(3)]
        for app in apps:
            assert wait_until(server, app["id"])["status"] == "running"
        runs = {app["id"]: processes_in(server.apps_dir / app["id"]) for app in apps}
        assert all(runs.values()), runs
        assert server.pid is not None
        os.kill(server.pid, signal.SIGTERM)
        ended = {}  # app id -> when its last process was gone
        while len(ended) < len(runs):
            for app_id, procs in runs.items():
                if app_id not in ended and not any(p.is_running() for p in procs):
                    ended[app_id] = time.monotonic()
            time.sleep(0.02)  # the test's own timeout catches a hang
        psutil.Process(server.pid).wait(60)  # the sandbox itself ends
        assert processes_in(server.apps_dir) == []
        # In parallel the three are killed by one sweep after one grace period (5 s); one
        # after another they would end 5 s apart.
        spread = max(ended.values()) - min(ended.values())
        assert spread < STOP_GRACE_S, ended
    finally:
        server.stop()


def test_renames_during_the_build_never_undo_the_runners_status(sb):
    slow_start = script("sleep 0.5", SERVE)
    source = source_with(sb, [("start-app.sh", slow_start)])
    app = create(sb, source)
    url = f"customApplications/{app['id']}/"

    def rename(n):
        return sb.api("PATCH", url, json={"name": f"name-{n}"}).status_code

    with ThreadPoolExecutor(4) as pool:
        assert set(pool.map(rename, range(40))) == {200}
    running = wait_until(sb, app["id"], wanted=("running",), timeout=30)
    assert running["name"].startswith("name-")
    sb.api("DELETE", url)
