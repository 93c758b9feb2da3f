"""The sandbox's execution environments, named as DataRobot's ("[DataRobot] Python 3.12
Applications Base", "[DataRobot] NodeJS 22 Applications Base").

One environment per Python (major.minor) this machine has, each with one version, plus
DataRobot's 3.12 and 3.11 ones always (without their Python here, a build says how to add it:
``python`` is then ""), and the Node.js ones when ``node`` is on ``PATH``. Pythons are
found where uv finds them: on ``PATH``, in pyenv's versions, in uv's managed installs, and
for the versions DataRobot's environments need, by ``uv python find``.
An application's environment is built from it (its Python plus :data:`BASE_PACKAGES`) and
the version's dependency files (see ``runtime/builder.py``). Ids are derived from the Python
version, so they are the same on every machine: the demo catalogue's templates name them.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# What DataRobot's applications base holds for apps (the frameworks its public examples use).
BASE_PACKAGES = (
    "streamlit", "dash", "flask", "fastapi", "uvicorn", "gradio", "requests", "pandas",
    "datarobot",
)  # fmt: skip
_MINORS = range(8, 15)
#: DataRobot's application environments for these Pythons are listed even when absent here.
REQUIRED_MINORS = ("3.12", "3.11")
NODE_NAMES = (
    "[DataRobot] NodeJS 22 Applications Base",
    "[DataRobot] NodeJS 22.14.0 Applications Base",
)
#: DataRobot's public ids of its Node.js 22 environment and version (DRUM's env_info.json).
NODE_IDS = (
    ("67810494d211dfbce6eb84d0", "6f481a9f0a7c64e17aa19450"),
    ("67810494d211dfbce6eb84d1", "6f481a9f0a7c64e17aa19451"),
)
_CREATED = "2024-01-01T00:00:00.000000Z"


@dataclass(frozen=True)
class ExecutionEnvironment:
    """One execution environment (and its one version): a Python and the base packages."""

    id: str
    version_id: str
    name: str
    python: str  # interpreter path on this machine
    python_version: str  # "3.11"
    packages: tuple[str, ...] = BASE_PACKAGES
    language: str = "python"
    note: str = ""  # what the environment holds, for its description

    @property
    def missing(self) -> str | None:
        """Why this environment cannot build here (its Python is absent), or None."""
        if self.python:
            return None
        return (
            f"The execution environment {self.name!r} needs Python {self.python_version}, which "
            f"this machine does not have. Add it with `uv python install {self.python_version}` "
            "(or pyenv), then restart the sandbox."
        )

    def to_json(self) -> dict[str, Any]:
        """The environment as DataRobot's API shows it (``executionEnvironments/{id}/``)."""
        version = self.version_json()
        return {
            "id": self.id,
            "name": self.name,
            "description": self.note
            or (
                f"Python {self.python_version} with {', '.join(self.packages)}; each "
                "application's uv.lock, pyproject.toml or requirements.txt is installed on top, "
                "in an environment of its own."
                + ("" if self.python else f" Python {self.python_version} is not installed here.")
            ),
            "programmingLanguage": self.language,
            "isPublic": True,
            "created": _CREATED,
            "latestVersion": version,
            "latestSuccessfulVersion": version,
            "requiredMetadataKeys": [],
            "useCases": ["customApplication"],
            "username": "DataRobot",
        }

    def version_json(self) -> dict[str, Any]:
        """Its one version (``executionEnvironments/{id}/versions/{versionId}/``)."""
        return {
            "id": self.version_id,
            "environmentId": self.id,
            "buildStatus": "success",
            "imageId": self.version_id,
            "label": f"python{self.python_version}" if self.language == "python" else "node22",
            "description": f"Python {self.python_version} and {len(self.packages)} base packages"
            + (f" ({self.python})" if self.python else " (Python not installed here)"),
            "created": _CREATED,
            "dockerContextSize": None,
            "dockerImageSize": None,
            "sourceDockerImageUri": None,
        }


def environment_id(python_version: str) -> str:
    """The stable id of the environment for ``python_version`` ("3.11")."""
    return _hex(f"dr-notebook python {python_version} applications base")


def version_id(python_version: str) -> str:
    """The stable id of that environment's version."""
    return _hex(f"dr-notebook python {python_version} applications base v1")


@functools.cache
def environments() -> tuple[ExecutionEnvironment, ...]:
    """One environment per Python this machine has (the sandbox's own first), DataRobot's
    3.12 and 3.11 ones in any case, then the Node.js ones when ``node`` is present."""
    found: dict[str, str] = {_own_version(): sys.executable}
    wanted = [f"3.{minor}" for minor in _MINORS if f"3.{minor}" not in found]
    with ThreadPoolExecutor(max_workers=len(wanted) or 1) as pool:  # each probe is a subprocess
        for version, real in zip(wanted, pool.map(find_python, wanted), strict=True):
            if real or version in REQUIRED_MINORS:
                found[version] = real or ""
    listed = [_environment(version, path) for version, path in found.items()]
    return (*listed, *_node_environments())


def find_python(version: str) -> str | None:
    """An interpreter of ``version`` ("3.12"): on ``PATH``, in pyenv's versions, in uv's managed
    installs, else, for the versions DataRobot's environments need, as ``uv python find``
    finds it. pyenv's shims are skipped (its versions are looked at directly; a shim of a
    version that is not pyenv's global one only fails, slowly), and ``uv python find`` runs
    for the needed versions only: probing every version with it took seconds at each start."""
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    on_path = shutil.which(f"python{version}")
    candidates = [on_path] if on_path and Path(on_path).parent != root / "shims" else []
    candidates += sorted(str(p) for p in root.glob(f"versions/{version}.*/bin/python{version}"))
    candidates += _uv_managed(version)
    for path in candidates:
        real = _interpreter(path, version)
        if real:
            return real
    found = _uv_find(version) if version in REQUIRED_MINORS else None
    return _interpreter(found, version) if found else None


def _uv_managed(version: str) -> list[str]:
    """The interpreters of ``version`` that ``uv python install`` put in its folder."""
    data = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    folder = Path(os.environ.get("UV_PYTHON_INSTALL_DIR") or data / "uv" / "python")
    return sorted(str(p) for p in folder.glob(f"cpython-{version}.*/bin/python{version}"))


def _uv_find(version: str) -> str | None:
    """``uv python find <version>`` (no downloads, no project or virtual environment)."""
    try:
        import uv

        env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "CONDA_PREFIX")}
        env["UV_PYTHON_DOWNLOADS"] = "never"
        result = subprocess.run(
            [uv.find_uv_bin(), "python", "find", "--no-project", version],
            capture_output=True, text=True, timeout=30, check=False, env=env, cwd="/",
        )  # fmt: skip
    except (ImportError, OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


def _node_environments() -> tuple[ExecutionEnvironment, ...]:
    """DataRobot's Node.js 22 environment (under both names templates use) if node is here."""
    node = shutil.which("node")
    if node is None:
        return ()
    try:
        version = subprocess.run(
            [node, "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ()
    note = (
        f"Base image for Node.js custom applications: this machine's Node.js {version} "
        f"({node}); each application's package.json is installed by its build-app.sh."
    )
    return tuple(
        ExecutionEnvironment(
            id=ids[0],
            version_id=ids[1],
            name=name,
            python=sys.executable,
            python_version=_own_version(),
            packages=(),
            language="other",
            note=note,
        )
        for name, ids in zip(NODE_NAMES, NODE_IDS, strict=True)
    )


def _interpreter(path: str, version: str) -> str | None:
    """The interpreter behind ``path`` if it runs and is ``version`` (a pyenv shim may not)."""
    probe = "import sys; print(f'{sys.version_info[0]}.{sys.version_info[1]}', sys.executable)"
    try:
        result = subprocess.run(
            [path, "-c", probe], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    answer = result.stdout.split(maxsplit=1)
    if result.returncode != 0 or len(answer) != 2 or answer[0] != version:
        return None
    return answer[1].strip()


def default() -> ExecutionEnvironment:
    """The environment of the sandbox's own Python: for apps that name none, or an unknown one."""
    return environments()[0]


def find(ident: str | None) -> ExecutionEnvironment | None:
    """The environment with this environment id or version id, if the sandbox has it."""
    for environment in environments():
        if ident in (environment.id, environment.version_id):
            return environment
    return None


def _environment(version: str, python: str) -> ExecutionEnvironment:
    return ExecutionEnvironment(
        id=environment_id(version),
        version_id=version_id(version),
        name=f"[DataRobot] Python {version} Applications Base",
        python=python,
        python_version=version,
    )


def _own_version() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def _hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:24]
