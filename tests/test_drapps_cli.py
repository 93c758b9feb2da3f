"""DataRobot's ``drapps`` CLI against the sandbox, unchanged (installed in a venv of its own)."""

from __future__ import annotations

from typing import Any

import pytest
from drapps_cli import Drapps

pytestmark = pytest.mark.slow


def test_the_drapps_cli_installs_in_a_venv_of_its_own(drapps_cli: Drapps, sandbox: Any) -> None:
    result = drapps_cli.run(["--help"], sandbox.endpoint, sandbox.token)
    assert result.returncode == 0, result.stderr
    for command in ("create", "ls", "logs", "terminate"):
        assert command in result.stdout
