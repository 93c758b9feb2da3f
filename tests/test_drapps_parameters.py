"""DataRobot's ``drapps`` CLI sets runtime parameters as it does on DataRobot (one
``runtimeParameterValues`` PATCH per parameter, after checking names against metadata.yaml):
the values reach the running application's environment."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest
from drapps_cli import Drapps

from dr_notebook.sandbox.runtime.interpreters import default
from dr_notebook.sandbox.testing import SandboxServer, processes_in, start_sandbox

pytestmark = [pytest.mark.slow, pytest.mark.skipif(os.name != "posix", reason="POSIX only")]

START = """#!/usr/bin/env bash
env | grep '^MLOPS_RUNTIME_PARAM_' | sort | sed 's/^/param /'
exec python -m http.server 8080 --bind 0.0.0.0
"""
METADATA = """\
runtimeParameterDefinitions:
  - fieldName: GREETING
    type: string
  - fieldName: LIMIT
    type: numeric
    minValue: 1
  - fieldName: VERBOSE
    type: boolean
  - fieldName: FALLBACK
    type: string
    defaultValue: from metadata.yaml
"""


@pytest.fixture(scope="module")
def sb() -> Iterator[SandboxServer]:
    with start_sandbox(run_apps=True, demo=False) as server:
        yield server
    assert processes_in(server.apps_dir) == []


def test_drapps_env_vars_reach_the_app_environment(drapps_cli: Drapps, sb, tmp_path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "start-app.sh").write_text(START)
    (project / "metadata.yaml").write_text(METADATA)
    result = drapps_cli.run(
        ["create", "-e", default().name, "-p", str(project),
         "--stringEnvVar", "GREETING=Hello World", "--numericEnvVar", "LIMIT=3",
         "--booleanEnvVar", "VERBOSE=true", "--stringEnvVar", "NOT_DECLARED=x", "DrappsParams"],
        sb.endpoint, sb.token, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Undefined parameter: 'NOT_DECLARED'" in result.stdout  # drapps' own check
    app = next(
        a for a in sb.api("GET", "customApplications/").json()["data"]
        if a["name"] == "DrappsParams"
    )  # fmt: skip
    deadline, lines = time.monotonic() + 120, []
    while time.monotonic() < deadline:
        lines = sb.api("GET", f"customApplications/{app['id']}/logs/").json()["logs"]
        if any(line.startswith("param ") for line in lines):
            break
        time.sleep(0.25)
    params = dict(line[6:].split("=", 1) for line in lines if line.startswith("param "))
    assert params == {
        "MLOPS_RUNTIME_PARAM_GREETING": "Hello World",
        "MLOPS_RUNTIME_PARAM_LIMIT": "3",
        "MLOPS_RUNTIME_PARAM_VERBOSE": "true",
        "MLOPS_RUNTIME_PARAM_FALLBACK": "from metadata.yaml",
    }
    version = sb.api(
        "GET", f"customApplicationSources/{app['customApplicationSourceId']}/versions/"
        f"{app['customApplicationSourceVersionId']}/",
    ).json()  # fmt: skip
    current = {p["fieldName"]: p["currentValue"] for p in version["runtimeParameters"]}
    assert current == {"GREETING": "Hello World", "LIMIT": 3, "VERBOSE": True, "FALLBACK": None}
    assert drapps_cli.run(["terminate", "DrappsParams"], sb.endpoint, sb.token).returncode == 0
