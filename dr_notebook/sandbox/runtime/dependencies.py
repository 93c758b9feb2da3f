"""Which dependency file an application is built from, and the uv calls that install it.

DataRobot's current application templates ship ``pyproject.toml`` with a ``uv.lock`` (and
``[tool.uv] package = false``); older ones a ``requirements.txt``. The order when several are
present is not documented by DataRobot; the sandbox's is: ``uv.lock`` (with its
``pyproject.toml``, installed frozen) > ``pyproject.toml`` alone (resolved) >
``requirements.txt``. The files are looked up in the application's root: the folder holding
``start-app.sh`` (the uploaded root, or ``src/`` when a whole template repository is uploaded).
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet

LOCK = "uv.lock"
PYPROJECT = "pyproject.toml"
REQUIREMENTS = "requirements.txt"
ENTRYPOINT = "start-app.sh"
_REQUIRES_PYTHON = re.compile(r"""^\s*requires-python\s*=\s*(["'])([^"'\n]*)\1""", re.MULTILINE)


@dataclass(frozen=True)
class Plan:
    """What to install: ``kind`` is "lock", "pyproject", "requirements" or "none"."""

    kind: str
    root: str  # the application root inside the version ("" or "src/")

    @property
    def files(self) -> tuple[str, ...]:
        """The dependency files this plan reads (paths inside the version)."""
        names = {"lock": (PYPROJECT, LOCK), "pyproject": (PYPROJECT,)}.get(self.kind, ())
        return tuple(self.root + name for name in names)

    def describe(self) -> str:
        """One line for the build log."""
        return {
            "lock": f"Installing from {self.root}{LOCK} (frozen, without dev dependencies).",
            "pyproject": f"Resolving {self.root}{PYPROJECT}'s dependencies (no {LOCK} given).",
            "requirements": f"Installing {REQUIREMENTS} on top of the base.",
            "none": f"No {LOCK}, {PYPROJECT} or {REQUIREMENTS}: the base packages only.",
        }[self.kind]


def app_root(files: Mapping[str, bytes]) -> str:
    """The folder holding ``start-app.sh``: "" (the uploaded root) or e.g. "src/"."""
    if ENTRYPOINT in files:
        return ""
    nested = sorted(name for name in files if name.endswith("/" + ENTRYPOINT))
    return nested[0][: -len(ENTRYPOINT)] if nested else ""


def plan(files: Mapping[str, bytes]) -> Plan:
    """The dependency file to install from, in the sandbox's order."""
    root = app_root(files)
    if root + PYPROJECT in files and root + LOCK in files:
        return Plan("lock", root)
    if root + PYPROJECT in files:
        return Plan("pyproject", root)
    if REQUIREMENTS in files:
        return Plan("requirements", "")
    return Plan("none", root)


def key_inputs(files: Mapping[str, bytes]) -> list[bytes]:
    """What the environment's cache key adds for a uv project: for a lock, the packages it
    installs (so projects that lock the same packages share one environment, whatever their
    names); else its kind and files."""
    chosen = plan(files)
    if not chosen.files:
        return []
    if chosen.kind == "lock":
        installed = locked_packages(files[chosen.root + LOCK])
        if installed is not None:
            return [b"lock-packages", json.dumps(installed).encode()]
    return [chosen.kind.encode(), *(name.encode() + b"\0" + files[name] for name in chosen.files)]


def locked_packages(lock: bytes) -> list[list[str]] | None:
    """What ``uv sync --frozen --no-dev --no-install-project`` installs from this ``uv.lock``:
    every package its projects' dependencies reach (extras followed), sorted, each as name,
    version and source, then the dependency edges with their markers (which decide what this
    Python installs of them); None when the lock cannot be read
    (or ``tomllib``, Python 3.11+, is missing), and the lock's bytes key the environment."""
    try:
        tomllib = importlib.import_module("tomllib")  # 3.11+; the sandbox supports 3.10 too
        packages: list[dict[str, Any]] = tomllib.loads(lock.decode("utf-8")).get("package", [])
        by_name = {p["name"]: p for p in packages}
        if len(by_name) != len(packages):  # a forked resolution: one name, several versions
            return None
        roots = [p for p in packages if set(p.get("source", {})) & {"virtual", "editable"}]
        # (from, dependency): "" for the projects, whose names do not matter
        wanted = [("", dep) for root in roots for dep in root.get("dependencies", [])]
        reached: set[str] = set()
        edges: set[str] = set()
        while wanted:
            parent, dep = wanted.pop()
            edge = json.dumps([parent, dep["name"], dep.get("marker"), dep.get("extra")])
            if edge in edges:  # extras may name each other in a circle
                continue
            edges.add(edge)
            package = by_name[dep["name"]]
            extras = package.get("optional-dependencies", {})
            wanted += [(dep["name"], d) for x in dep.get("extra", []) for d in extras.get(x, [])]
            if dep["name"] not in reached:
                reached.add(dep["name"])
                wanted += [(dep["name"], d) for d in package.get("dependencies", [])]
        installed = [
            [name, str(by_name[name].get("version")), json.dumps(by_name[name].get("source"))]
            for name in reached
        ]
        return sorted(installed) + [["marker", edge] for edge in sorted(edges)]
    except (ImportError, ValueError, KeyError, TypeError, AttributeError):
        return None


def requires_python(files: Mapping[str, bytes]) -> str | None:
    """The project's ``requires-python`` (from ``pyproject.toml``), if it has one."""
    chosen = plan(files)
    if chosen.kind not in ("lock", "pyproject"):
        return None
    # A line match, not a TOML parser: tomllib is Python 3.11+, the sandbox runs on 3.10 too.
    text = files[chosen.root + PYPROJECT].decode("utf-8", errors="replace")
    found = _REQUIRES_PYTHON.search(text)
    return found.group(2) if found else None


def python_problem(
    files: Mapping[str, bytes], environment: str, python_version: str, missing: str | None
) -> str | None:
    """Why the environment cannot run this project: its Python is absent, or does not meet
    ``requires-python`` (with how to add the Python that does); None when it can."""
    if missing:
        return missing
    wanted = requires_python(files)
    if not wanted:
        return None
    try:
        spec = SpecifierSet(wanted)
    except InvalidSpecifier:
        return f"pyproject.toml: requires-python = {wanted!r} is not a valid version specifier."
    if spec.contains(f"{python_version}.0", prereleases=True) or any(
        spec.contains(f"{python_version}.{patch}") for patch in range(1, 30)
    ):
        return None
    suggestion = next(
        (f"3.{m}" for m in range(8, 16) if any(spec.contains(f"3.{m}.{p}") for p in range(30))),
        None,
    )
    how = (
        f" Choose the execution environment '[DataRobot] Python {suggestion} Applications Base'"
        f" (add the Python with `uv python install {suggestion}` if it is missing)."
        if suggestion
        else ""
    )
    return (
        f"pyproject.toml requires Python {wanted}; the execution environment {environment!r} "
        f"has Python {python_version}.{how}"
    )


def install_commands(
    chosen: Plan, folder: Path, python: Path
) -> list[tuple[list[str], dict[str, str]]]:
    """The uv arguments (after ``uv``) and extra environment variables installing ``chosen``
    into the environment of ``python`` (a venv already holding the base packages)."""
    project = folder / chosen.root
    if chosen.kind == "lock":
        sync = ["sync", "--frozen", "--no-dev", "--inexact", "--no-install-project"]
        sync += ["--python", str(python), "--project", str(project)]
        return [(sync, {"UV_PROJECT_ENVIRONMENT": str(python.parent.parent)})]
    if chosen.kind == "pyproject":
        return [(["pip", "install", "--python", str(python), "-r", str(project / PYPROJECT)], {})]
    if chosen.kind == "requirements":
        return [(["pip", "install", "--python", str(python), "-r", str(folder / REQUIREMENTS)], {})]
    return []
