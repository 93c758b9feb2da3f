"""The sandbox as a process: CLI output, tokens, Ctrl-C, persistence, concurrency, --generate."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from dr_notebook.sandbox.testing import start_sandbox

ENDPOINT_LINE = re.compile(r"^export DATAROBOT_ENDPOINT=http://127\.0\.0\.1:(\d+)/api/v2$")
TOKEN_LINE = re.compile(r"^export DATAROBOT_API_TOKEN=(\S+)$")


class CliServer:
    """``dr-notebook sandbox ...`` in a subprocess, as a user would run it."""

    def __init__(self, *args: str, command: str = "dr-notebook") -> None:
        exe = Path(sys.executable).with_name(command)
        argv = [str(exe)] if command == "dr-notebook" else [sys.executable, "-m", command]
        if command == "dr-notebook":
            argv.append("sandbox")
        env = {k: v for k, v in os.environ.items() if k != "DR_NOTEBOOK_SANDBOX_TOKENS"}
        self.proc = subprocess.Popen(
            [*argv, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        assert self.proc.stdout is not None and self.proc.stderr is not None  # both PIPE
        self.endpoint_line = self.proc.stdout.readline().strip()
        self.token_line = self.proc.stdout.readline().strip()
        match = ENDPOINT_LINE.match(self.endpoint_line)
        assert match, self.endpoint_line + self.proc.stderr.read()
        self.port = int(match.group(1))
        self.endpoint = self.endpoint_line.split("=", 1)[1]
        token = TOKEN_LINE.match(self.token_line)
        assert token, self.token_line
        self.token = token.group(1)

    def get(self, path: str, token: str | None = None) -> requests.Response:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        return requests.get(f"{self.endpoint}/{path}", headers=headers, timeout=10)

    def interrupt(self) -> tuple[int, str, str]:
        """Press Ctrl-C; return exit code, rest of stdout and stderr."""
        self.proc.send_signal(signal.SIGINT)
        out, err = self.proc.communicate(timeout=60)  # generous: CI machines can be loaded
        return self.proc.returncode, out, err


def test_cli_prints_the_two_export_lines_and_stops_cleanly_on_ctrl_c(tmp_path):
    server = CliServer(
        "--port", "0", "--db", str(tmp_path / "s.db"), "--no-demo", "--generate", "3"
    )
    assert server.port > 0
    exported = subprocess.run(
        ["sh", "-c", f'{server.endpoint_line}\n{server.token_line}\n'
         'env | grep "^DATAROBOT_" | sort'],
        env={"PATH": os.environ["PATH"]}, capture_output=True, text=True, timeout=10, check=True,
    ).stdout.splitlines()  # fmt: skip
    assert exported == [
        f"DATAROBOT_API_TOKEN={server.token}",
        f"DATAROBOT_ENDPOINT={server.endpoint}",
    ]
    response = server.get("customTemplates/")
    assert response.status_code == 200 and response.json()["totalCount"] == 3
    code, out, err = server.interrupt()
    assert code == 0
    assert "Traceback" not in err and "stopped" in err
    assert server.token not in err + out
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{server.endpoint}/version/", timeout=2)


def test_generated_admin_token_survives_a_restart_on_the_same_db(tmp_path):
    db = str(tmp_path / "s.db")
    first = CliServer("--port", "0", "--db", db, "--no-demo")
    token = first.token
    assert first.interrupt()[0] == 0
    second = CliServer("--port", "0", "--db", db, "--no-demo")
    try:
        assert second.token == token and second.get("version/").status_code == 200
    finally:
        second.interrupt()


def test_tokens_per_role_from_the_command_line(tmp_path):
    server = CliServer(
        "--port", "0", "--db", str(tmp_path / "s.db"),
        "--token", "admin=adm-123", "--token", "viewer=view-456",
        command="dr_notebook.sandbox",
    )  # fmt: skip
    try:
        assert server.token == "adm-123"
        assert server.get("customTemplates/", token="view-456").status_code == 200
        assert server.get("customTemplates/", token="user-789").status_code == 401
        response = requests.post(
            f"{server.endpoint}/customTemplates/", headers={"Authorization": "Token view-456"},
            timeout=10,
        )  # fmt: skip
        assert response.status_code == 403
    finally:
        server.interrupt()


@pytest.mark.parametrize(
    "args",
    [["--token", "root=x"], ["--token", "admin"], ["--fault-rate", "2"], ["--generate", "-1"],
     ["--fault-kind", "500"]],
)  # fmt: skip
def test_bad_options_fail_with_a_message(args):
    exe = Path(sys.executable).with_name("dr-notebook")
    result = subprocess.run([str(exe), "sandbox", "--port", "0", *args], capture_output=True,
                            text=True, timeout=30)  # fmt: skip
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() or result.stdout.strip()


@pytest.mark.parametrize("command", [[], ["sandbox"]])
def test_help_is_plain_text_without_markup(command):
    exe = Path(sys.executable).with_name("dr-notebook")
    result = subprocess.run([str(exe), *command, "--help"], capture_output=True, text=True,
                            timeout=30, check=True)  # fmt: skip
    assert result.stdout.startswith("usage: dr-notebook")
    assert not re.search(r"``|:\w+:`|\*\*", result.stdout), result.stdout


def test_busy_port_is_a_one_line_error(sandbox, tmp_path):
    exe = Path(sys.executable).with_name("dr-notebook")
    result = subprocess.run(
        [str(exe), "sandbox", "--port", str(sandbox.port), "--no-demo", "--db", ":memory:"],
        capture_output=True, text=True, timeout=30, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode != 0
    assert "--port 0" in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []  # an in-memory database leaves no file behind


def zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("app.py", "print('hi')\n")
    return buf.getvalue()


def test_fifty_concurrent_creations_make_fifty_templates_that_survive_restart(sandbox_factory):
    sb = sandbox_factory(demo=False)
    env = json.dumps({"environmentId": "e", "environmentVersionId": "v"})

    def create(i: int) -> int:
        data = {
            "name": f"Concurrent {i:02d}", "description": "d", "templateType":
            "customApplicationTemplate", "templateSubType": "streamlit", "defaultEnvironment": env,
        }  # fmt: skip
        response = requests.post(
            f"{sb.endpoint}/customTemplates/", data=data, headers=sb.auth_headers(),
            files={"file": ("t.zip", zip_bytes())}, timeout=60,
        )  # fmt: skip
        return response.status_code

    with ThreadPoolExecutor(50) as pool:
        statuses = list(pool.map(create, range(50)))
    assert statuses == [201] * 50
    before = sb.api("GET", "customTemplates/?orderBy=name").json()
    assert before["totalCount"] == 50
    assert [t["name"] for t in before["data"]] == [f"Concurrent {i:02d}" for i in range(50)]
    sb.restart()
    after = sb.api("GET", "customTemplates/?orderBy=name").json()
    assert after["totalCount"] == 50
    assert after["data"] == before["data"]


def test_database_is_one_wal_file_that_keeps_sources_across_restarts(tmp_path):
    db = tmp_path / "keep.db"
    with start_sandbox(db_path=db) as sb:
        template = sb.api("GET", "customTemplates/?templateType=customApplicationTemplate")
        app = next(t for t in template.json()["data"] if t["enabled"])
        source = sb.api(
            "POST", "customApplicationSources/fromCustomTemplate/",
            json={"customTemplateId": app["id"]},
        ).json()  # fmt: skip
        demo_ids = [t["id"] for t in sb.api("GET", "customTemplates/").json()["data"]]
        sb.restart()
        assert sb.api("GET", f"customApplicationSources/{source['id']}/").json() == source
        assert [t["id"] for t in sb.api("GET", "customTemplates/").json()["data"]] == demo_ids
    assert db.exists()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    # Started again with demo=True on a used db: the demo is not loaded twice.
    with start_sandbox(db_path=db) as sb:
        assert [t["id"] for t in sb.api("GET", "customTemplates/").json()["data"]] == demo_ids


def test_temporary_database_is_removed_on_stop():
    sb = start_sandbox(demo=False)
    folder = sb.db_path.parent
    assert folder.exists() and "token" not in repr(sb) and sb.token not in repr(sb)
    sb.stop()
    assert not folder.exists() and not sb.running


def test_generate_ten_thousand_and_filter_them(sandbox_factory):
    sb = sandbox_factory(demo=False, generate=10_000, seed=5)
    body = sb.api("GET", "customTemplates/").json()
    assert body["totalCount"] == 10_000
    metric = sb.api("GET", "customTemplates/?templateType=customMetricTemplate").json()[
        "totalCount"
    ]
    tagged = sb.api("GET", "customTemplates/?tag=rag&publisher=Community").json()["totalCount"]
    assert 1000 < metric < 5000 and 0 < tagged < 1000
    last = sb.api("GET", "customTemplates/?offset=9990&limit=100&orderBy=-name").json()
    assert last["count"] == 10 and last["next"] is None


def test_sandbox_imports_nothing_from_the_client_side():
    code = (
        "import sys, dr_notebook.sandbox.server, dr_notebook.sandbox.app, "
        "dr_notebook.sandbox.testing, dr_notebook.sandbox.pytest_plugin, "
        "dr_notebook.sandbox.catalogue.loader;"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('dr_notebook'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    allowed = ("dr_notebook", "dr_notebook._version")
    outside = [
        m
        for m in out.stdout.split()
        if not m.startswith("dr_notebook.sandbox") and m not in allowed
    ]
    assert outside == []


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.0, 0.05, 0.15, 0.3, 0.6, 1.0])
def test_a_signal_at_any_moment_of_start_up_stops_the_sandbox(tmp_path, delay):
    import time

    for sig in (signal.SIGINT, signal.SIGTERM):
        proc = subprocess.Popen(
            [sys.executable, "-m", "dr_notebook.sandbox", "--port", "0", "--db",
             str(tmp_path / f"{sig.name}.db"), "--run-apps"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        time.sleep(delay)
        proc.send_signal(sig)
        try:
            _out, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise AssertionError(f"{sig.name} after {delay} s did not stop the sandbox") from None
        # Python's own start-up (site, runpy importing the package) runs before any sandbox
        # code can handle the signal: the sandbox still stops, with Python's traceback.
        if "Fatal Python error: init_" in err or "_get_module_details" in err:
            assert proc.returncode in (1, -sig)
            continue
        assert proc.returncode in (0, -sig), (proc.returncode, err)
        assert "Traceback" not in err
    # positive control: the database is free again, and it serves
    server = CliServer("--port", "0", "--db", str(tmp_path / "SIGINT.db"), "--no-demo")
    assert server.get("version/").status_code == 200
    assert server.interrupt()[0] == 0


def test_public_url_makes_every_address_whatever_the_host_header(tmp_path):
    with socket_port() as port:
        pass
    public = f"http://localhost:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "dr_notebook.sandbox", "--port", str(port), "--db",
         str(tmp_path / "p.db"), "--no-demo", "--public-url", public + "/"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == f"export DATAROBOT_ENDPOINT={public}/api/v2"
        token = proc.stdout.readline().strip().split("=", 1)[1]
        api = f"http://127.0.0.1:{port}/api/v2"
        forged = {"Authorization": f"Bearer {token}", "Host": "attacker.example"}
        source = requests.post(
            f"{api}/customApplicationSources/", json={"name": "s"}, headers=forged, timeout=10
        ).json()
        files = [("file", ("start-app.sh", b"#!/bin/sh\n"))]
        requests.patch(
            f"{api}/customApplicationSources/{source['id']}/versions/"
            f"{source['latestVersion']['id']}/",
            files=files, data=[("filePath", "start-app.sh")], headers=forged, timeout=10,
        )  # fmt: skip
        created = requests.post(
            f"{api}/customApplications/", json={"applicationSourceId": source["id"]},
            headers=forged, timeout=10, allow_redirects=False,
        )  # fmt: skip
        assert created.status_code == 202, created.text
        assert created.json()["applicationUrl"].startswith(f"{public}/custom_applications/")
        assert created.headers["Location"].startswith(f"{public}/api/v2/status/")
        listing = requests.get(
            f"{api}/customApplications/?limit=1&offset=0", headers=forged, timeout=10
        ).json()
        assert "attacker" not in json.dumps(listing)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)


def test_application_url_follows_the_sandbox_to_another_port(tmp_path):
    with start_sandbox(demo=False, db_path=tmp_path / "m.db") as server:
        source = server.api("POST", "customApplicationSources/", json={"name": "s"}).json()
        server.api(
            "PATCH",
            f"customApplicationSources/{source['id']}/versions/{source['latestVersion']['id']}/",
            files=[("file", ("start-app.sh", b"#!/bin/sh\n"))],
            data=[("filePath", "start-app.sh")],
        )
        app = server.api(
            "POST", "customApplications/", json={"applicationSourceId": source["id"]}
        ).json()
        first = server.port
        server.restart()  # --port 0: another port
        assert server.port != first
        again = server.api("GET", f"customApplications/{app['id']}/").json()
        assert again["applicationUrl"] == f"{server.base_url}/custom_applications/{app['id']}/"


class socket_port:
    """A free TCP port on 127.0.0.1 (``with socket_port() as port``)."""

    def __enter__(self) -> int:
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]

    def __exit__(self, *_: object) -> None:
        return None
