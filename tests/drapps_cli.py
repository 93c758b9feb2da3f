"""DataRobot's ``drapps`` CLI (PyPI), installed with uv into a virtual environment of its own.

Tests run the real CLI against the sandbox, as a user would: ``drapps_cli`` (session fixture)
gives a :class:`Drapps` whose ``run(...)`` calls it with the sandbox's endpoint and token in the
environment. The venv is cached under pytest's cache folder (or a session tmp folder when the
cache plugin is off), so only the first session installs it.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

DRAPPS_REQUIREMENT = "drapps>=10"
_MARKER = ".installed"


def install_drapps(folder: Path) -> Path:
    """The ``drapps`` executable of a venv in ``folder``, created and installed if needed."""
    executable = folder / "bin" / "drapps"
    folder.parent.mkdir(parents=True, exist_ok=True)
    # Workers share the folder (the pytest cache): one installs while the others wait.
    with open(folder.with_name(folder.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _install_once(folder, executable)


def _install_once(folder: Path, executable: Path) -> Path:
    if (folder / _MARKER).exists() and executable.exists():
        return executable
    uv = _uv()
    shutil.rmtree(folder, ignore_errors=True)
    subprocess.run([uv, "venv", "-q", str(folder)], check=True, timeout=300)
    subprocess.run(
        [uv, "pip", "install", "-q", "-p", str(folder / "bin" / "python"), DRAPPS_REQUIREMENT],
        check=True,
        timeout=600,
    )
    (folder / _MARKER).write_text(DRAPPS_REQUIREMENT)
    return executable


def _uv() -> str:
    """uv as the sandbox's builder finds it (the ``uv`` package is a test dependency)."""
    import uv

    return uv.find_uv_bin()


@dataclass
class Drapps:
    """The installed CLI; ``run`` calls it against a DataRobot (or sandbox) endpoint."""

    executable: Path

    def run(
        self,
        args: Sequence[str],
        endpoint: str,
        token: str,
        cwd: Path | None = None,
        timeout: float = 300,
    ) -> subprocess.CompletedProcess[str]:
        """``drapps <args>`` with ``DATAROBOT_ENDPOINT``/``DATAROBOT_API_TOKEN`` set; no check."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("DATAROBOT_")}
        env.update(DATAROBOT_ENDPOINT=endpoint, DATAROBOT_API_TOKEN=token, NO_COLOR="1")
        return subprocess.run(
            [str(self.executable), *args],
            env=env,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


@pytest.fixture(scope="session")
def drapps_cli(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Drapps:
    """The ``drapps`` CLI in a venv of its own (cached between sessions when pytest caches)."""
    cache = getattr(request.config, "cache", None)
    folder = (
        cache.mkdir("drapps-venv") if cache is not None else tmp_path_factory.mktemp("drapps-venv")
    )
    return Drapps(install_drapps(Path(folder)))
