"""Under CI a skipped test fails, naming why it would have skipped; elsewhere it skips."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


@pytest.mark.parametrize(
    ("variables", "outcome"),
    [
        ({"CI": "true"}, "1 failed, 1 passed, 1 xfailed"),
        ({"DR_NOTEBOOK_REQUIRE_BROWSER": "1"}, "1 failed, 1 passed, 1 xfailed"),
        ({}, "1 passed, 1 skipped, 1 xfailed"),  # control: a developer's machine may skip
    ],
)
def test_a_skip_fails_under_ci(tmp_path: Path, variables: dict[str, str], outcome: str) -> None:
    (tmp_path / "test_tools.py").write_text(
        "import pytest\n"
        "def test_tool():\n    pytest.skip('socat is not installed')\n"
        "def test_fine():\n    pass\n"
        "@pytest.mark.xfail(reason='known')\ndef test_known():\n    assert False\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "DR_NOTEBOOK_REQUIRE_BROWSER")}
    env.update(variables, PYTHONPATH=str(HERE))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "strict_skips", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert outcome in result.stdout, result.stdout[-2000:]
    if variables:
        assert "socat is not installed" in result.stdout
