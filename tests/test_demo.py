"""The ``make demo`` launcher: both servers come up, and a stop signal leaves no process behind."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
import requests

from dr_notebook.demo import READY_PREFIX, Demo, parse_args

ROOT = Path(__file__).resolve().parents[1]


def _start(tmp_path: Path, defaults: bool = False) -> tuple[subprocess.Popen[str], list[str]]:
    """The launcher in ``tmp_path`` (a copy of the notebooks there); with ``defaults``, as
    ``make demo`` starts it: the database and notebooks where it puts them by default."""
    notebooks = tmp_path / "notebooks"
    shutil.copytree(ROOT / "notebooks", notebooks)
    places = [] if defaults else [
        "--db", str(tmp_path / "sandbox" / "demo.db"), "--notebook-dir", str(notebooks)
    ]  # fmt: skip
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dr_notebook.demo",
            "--headless",
            *places,
            "--settings-dir",
            str(tmp_path / "lab-settings"),
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line)
        if line.startswith(READY_PREFIX):
            return process, lines
    process.wait()
    pytest.fail("the launcher exited before it was ready:\n" + "".join(lines))


def _start_kernel(lab_base: str) -> str:
    session = requests.Session()
    session.get(f"{lab_base}/lab", timeout=10)  # sets the _xsrf cookie
    response = session.post(
        f"{lab_base}/api/kernels",
        json={"name": "python3"},
        headers={"X-XSRFToken": session.cookies.get("_xsrf") or ""},
        timeout=30,
    )
    response.raise_for_status()
    return str(response.json()["id"])


def _command_line(proc: psutil.Process) -> str:
    try:
        return " ".join(proc.cmdline())
    except psutil.Error:  # gone already, or a zombie
        return f"<pid {proc.pid} gone>"


def test_defaults_keep_the_database_in_the_project() -> None:
    args = parse_args([])
    assert args.db == Path(".sandbox/demo.db")
    assert args.notebook_dir is None  # copies of notebooks/ beside the database
    assert args.notebook == "quickstart.ipynb"
    assert not args.headless


@pytest.mark.slow
@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_stop_signal_ends_sandbox_lab_and_kernels(tmp_path: Path, stop_signal: int) -> None:
    process, lines = _start(tmp_path)
    try:
        output = "".join(lines)
        endpoint = re.search(r"Sandbox: (http://\S+/api/v2)", output)
        assert endpoint, output
        lab_url = lines[-1][len(READY_PREFIX) :].strip()
        lab_base = lab_url.split("/lab/", 1)[0]
        assert lab_url.endswith("/lab/tree/quickstart.ipynb")

        # Both answer: the sandbox wants a token, JupyterLab (headless) does not.
        assert requests.get(f"{endpoint[1]}/version/", timeout=5).status_code == 401
        assert requests.get(f"{lab_base}/api/status", timeout=5).status_code == 200
        kernel_id = _start_kernel(lab_base)

        tree = psutil.Process(process.pid).children(recursive=True)
        commands = [_command_line(p) for p in tree]
        assert any("dr_notebook.sandbox" in c for c in commands), commands
        assert not any("--token" in c for c in commands), "tokens belong in the environment"
        assert any("jupyterlab" in c for c in commands), commands
        assert any("ipykernel" in c and kernel_id in c for c in commands), commands
    except BaseException:
        process.terminate()  # the launcher stops its servers on SIGTERM
        process.wait(timeout=60)
        raise

    process.send_signal(stop_signal)
    returncode = process.wait(timeout=60)
    rest = process.stdout.read() if process.stdout else ""
    assert returncode == 0, output + rest
    _gone, alive = psutil.wait_procs(tree, timeout=10)
    assert alive == [], [_command_line(p) for p in alive]
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{lab_base}/api/status", timeout=5)
    # The database survives for the next run; the generated tokens were never printed.
    assert (tmp_path / "sandbox" / "demo.db").is_file()
    assert "DATAROBOT_API_TOKEN" not in output + rest
    assert re.findall(r"\b[0-9a-f]{40}\b", output + rest) == []


def test_missing_notebook_is_a_one_line_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "dr_notebook.demo",
            "--headless",
            "--db",
            str(tmp_path / "demo.db"),
            "--notebook-dir",
            str(tmp_path),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "no notebook" in result.stderr
    assert "Traceback" not in result.stderr


def test_lab_links_go_through_jupyter_server_proxy_when_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DR_NOTEBOOK_APP_LINK_BASE", "/stale")
    direct = Demo(parse_args(["--port", "8765"]))
    assert "DR_NOTEBOOK_APP_LINK_BASE" not in direct._lab_environment()
    lab = Demo(parse_args(["--port", "8765", "--app-links", "lab"]))
    assert lab._lab_environment()["DR_NOTEBOOK_APP_LINK_BASE"] == "/proxy/8765"


def _env_command(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dr_notebook.cli", "env"],
        cwd=cwd, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def _terminal_says(lab_base: str, command: str) -> str:
    """What a JupyterLab terminal prints for ``command`` (terminado's websocket protocol)."""
    import json

    from websockets.sync.client import connect

    session = requests.Session()
    session.get(f"{lab_base}/lab", timeout=10)
    xsrf = {"X-XSRFToken": session.cookies.get("_xsrf") or ""}
    name = session.post(f"{lab_base}/api/terminals", headers=xsrf, timeout=30).json()["name"]
    output = ""
    try:
        with connect(f"ws{lab_base.removeprefix('http')}/terminals/websocket/{name}") as ws:
            # The quotes keep the typed line (which the terminal echoes, maybe twice) from
            # reading as the answer's end: only the shell's output has END-OF-ANSWER.
            ws.send(json.dumps(["stdin", f'{command}; echo END-OF-"ANSWER"\r']))
            while "END-OF-ANSWER" not in output:
                kind, *data = json.loads(ws.recv(timeout=30))
                if kind == "stdout":
                    output += data[0]
    finally:
        session.delete(f"{lab_base}/api/terminals/{name}", headers=xsrf, timeout=30)
    return output


@pytest.mark.slow
def test_the_demo_with_its_defaults_leaves_the_clone_clean_and_serves_a_shell(
    tmp_path: Path,
) -> None:
    process, lines = _start(tmp_path, defaults=True)
    try:
        lab_base = lines[-1][len(READY_PREFIX) :].strip().split("/lab/", 1)[0]
        served = tmp_path / ".sandbox" / "notebooks"
        assert (served / "quickstart.ipynb").is_file()
        originals = {p.name: p.read_bytes() for p in (tmp_path / "notebooks").glob("*.ipynb")}
        # JupyterLab saves into the copies, never into the clone's notebooks
        session = requests.Session()
        session.get(f"{lab_base}/lab", timeout=10)
        model = session.get(f"{lab_base}/api/contents/quickstart.ipynb", timeout=10).json()
        model["content"]["metadata"]["saved_by_the_test"] = True
        saved = session.put(
            f"{lab_base}/api/contents/quickstart.ipynb",
            json={"type": "notebook", "format": "json", "content": model["content"]},
            headers={"X-XSRFToken": session.cookies.get("_xsrf") or ""},
            timeout=10,
        )
        assert saved.status_code == 200, saved.text
        assert b"saved_by_the_test" in (served / "quickstart.ipynb").read_bytes()
        assert {p.name: p.read_bytes() for p in (tmp_path / "notebooks").glob("*.ipynb")} == (
            originals
        )
        # a plain shell reaches the demo: 0600 file, dr-notebook env
        env_file = tmp_path / ".sandbox" / "demo.env"
        assert env_file.stat().st_mode & 0o777 == 0o600
        shown = _env_command(tmp_path)
        assert shown.returncode == 0, shown.stderr
        variables = dict(
            line.removeprefix("export ").split("=", 1) for line in shown.stdout.splitlines()
        )
        version = requests.get(
            f"{variables['DATAROBOT_ENDPOINT']}/version/",
            headers={"Authorization": f"Bearer {variables['DATAROBOT_API_TOKEN']}"},
            timeout=10,
        )
        assert version.status_code == 200
        # a JupyterLab terminal: this Python's tools first on PATH, the demo's variables set
        said = _terminal_says(lab_base, "command -v python; echo ENDPOINT=$DATAROBOT_ENDPOINT")
        assert f"{Path(sys.executable).parent}/python" in said, said
        assert f"ENDPOINT={variables['DATAROBOT_ENDPOINT']}" in said, said
    finally:
        process.terminate()
        process.wait(timeout=60)
    assert not env_file.exists()  # removed on stop
    stopped = _env_command(tmp_path)
    assert stopped.returncode == 1 and "no demo is running" in stopped.stderr
    assert stopped.stdout == ""
