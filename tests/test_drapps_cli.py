"""DataRobot's ``drapps`` CLI (PyPI, in a venv of its own) against the sandbox, unchanged."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest
import requests
from drapps_cli import Drapps

from dr_notebook.sandbox.runtime import isolation
from dr_notebook.sandbox.runtime.interpreters import default
from dr_notebook.sandbox.testing import SandboxServer, processes_in, start_sandbox

pytestmark = [pytest.mark.slow, pytest.mark.skipif(os.name != "posix", reason="POSIX only")]

# As DataRobot's examples are written: 0.0.0.0:8080 hardcoded.
START = "#!/usr/bin/env bash\nexec python -m http.server 8080 --bind 0.0.0.0\n"


@pytest.fixture(scope="module")
def sb() -> Iterator[SandboxServer]:
    with start_sandbox(run_apps=True, demo=False) as server:
        yield server
    assert processes_in(server.apps_dir) == []
    assert isolation.marked(f"{server.apps_dir.resolve()}/") == []  # the socat doors too


def test_the_drapps_cli_installs_in_a_venv_of_its_own(drapps_cli: Drapps, sb) -> None:
    result = drapps_cli.run(["--help"], sb.endpoint, sb.token)
    assert result.returncode == 0, result.stderr
    for command in ("create", "ls", "logs", "terminate"):
        assert command in result.stdout
    assert not str(drapps_cli.executable).startswith(sys.prefix)  # not the sandbox's venv


def test_ls_envs_create_ls_apps_logs_and_terminate(drapps_cli: Drapps, sb, tmp_path) -> None:
    def drapps(*args: str) -> str:
        result = drapps_cli.run(list(args), sb.endpoint, sb.token, cwd=tmp_path)
        assert result.returncode == 0, f"drapps {' '.join(args)}: {result.stdout}{result.stderr}"
        return result.stdout

    env = default()
    assert env.name in drapps("ls", "envs") and env.id in drapps("ls", "envs", "--id-only")
    project = tmp_path / "project"
    project.mkdir()
    (project / "start-app.sh").write_text(START)
    (project / "index.html").write_text("<h1>made with drapps</h1>\n")
    created = drapps("create", "-e", env.name, "-p", str(project), "DrappsApp")
    assert "Custom application is running: " in created
    url = created.rsplit("Custom application is running: ", 1)[1].split()[0]
    # The creation job completes only once the application serves: when drapps says
    # "running", it is running and its page answers, at once.
    app_id = url.rstrip("/").rsplit("/", 1)[1]
    assert sb.api("GET", f"customApplications/{app_id}/").json()["status"] == "running"
    assert "<h1>made with drapps</h1>" in requests.get(url, timeout=30).text
    listed = drapps("ls", "apps")
    assert "DrappsApp" in listed and "running" in listed
    shown = drapps("logs", "DrappsApp")
    assert "Serving HTTP on 0.0.0.0 port 8080" in shown  # the app's own output
    assert sb.token not in created + listed + shown
    assert "was deleted" in drapps("terminate", "DrappsApp")
    assert "DrappsApp" not in drapps("ls", "apps")
    assert processes_in(sb.apps_dir) == []
