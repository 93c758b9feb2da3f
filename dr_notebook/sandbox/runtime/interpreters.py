"""The sandbox's execution environments, modelled on DataRobot's "Python 3.x Applications Base".

One environment per Python (major.minor) this machine has, each with one version. An
application's environment is built from it (its Python plus :data:`BASE_PACKAGES`) and the
version's ``requirements.txt`` (see ``runtime/builder.py``). Ids are derived from the Python
version, so they are the same on every machine: the demo catalogue's templates name them.
"""

from __future__ import annotations

import functools
import hashlib
import shutil
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

# What DataRobot's applications base holds for apps (the frameworks its public examples use).
BASE_PACKAGES = (
    "streamlit", "dash", "flask", "fastapi", "uvicorn", "gradio", "requests", "pandas",
    "datarobot",
)  # fmt: skip
_MINORS = range(8, 15)
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

    def to_json(self) -> dict[str, Any]:
        """The environment as DataRobot's API shows it (``executionEnvironments/{id}/``)."""
        version = self.version_json()
        return {
            "id": self.id,
            "name": self.name,
            "description": (
                f"Python {self.python_version} with {', '.join(self.packages)}; each "
                "application's requirements.txt is installed on top, in an environment of its own."
            ),
            "programmingLanguage": "python",
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
            "label": f"python{self.python_version}",
            "description": f"Python {self.python_version} and {len(self.packages)} base packages",
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
    """One environment per Python this machine has; the sandbox's own Python first."""
    found: dict[str, str] = {_own_version(): sys.executable}
    for minor in _MINORS:
        version = f"3.{minor}"
        path = shutil.which(f"python{version}")
        if version not in found and path:
            real = _interpreter(path, version)
            if real:
                found[version] = real
    return tuple(_environment(version, path) for version, path in found.items())


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
        name=f"Python {version} Applications Base",
        python=python,
        python_version=version,
    )


def _own_version() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def _hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:24]
