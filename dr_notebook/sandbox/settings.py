"""A sandbox's settings: what the CLI sets at start, and the behaviour the control API changes."""

from __future__ import annotations

import os
import sys
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

ROLES = ("admin", "user", "viewer")
FAULT_KINDS = ("503", "429", "mixed")
ASYNC_OUTCOMES = ("COMPLETED", "ERROR", "ABORTED", "EXPIRED")


@dataclass
class BehaviourSettings:
    """Latency, faults, async sources, app starts: what may change while the server runs.

    Read by the middleware and the services; changed by ``PUT /_sandbox/config/``.
    """

    latency_ms: int = 0
    fault_rate: float = 0.0
    fault_kind: str = "mixed"
    retry_after_s: int = 0
    async_sources: bool = False
    async_delay_ms: int = 300
    async_outcome: str = "COMPLETED"
    app_start_delay_ms: int = 300  # a simulated application's build
    app_start_timeout_s: int = 60  # how long a real one may take to answer HTTP

    def as_dict(self) -> dict[str, Any]:
        """The configuration as JSON-ready values."""
        return asdict(self)

    def update(self, changes: dict[str, Any]) -> dict[str, str]:
        """Apply ``changes`` (all or nothing); return field errors, empty when applied."""
        errors: dict[str, str] = {}
        known = {f.name for f in fields(self)}
        clean: dict[str, Any] = {}
        for key, value in changes.items():
            if key not in known:
                errors[key] = f"unknown setting; known: {', '.join(sorted(known))}"
                continue
            problem = _check(key, value)
            if problem:
                errors[key] = problem
            else:
                clean[key] = float(value) if key == "fault_rate" else value
        if not errors:
            for key, value in clean.items():
                setattr(self, key, value)
        return errors


def _check(key: str, value: Any) -> str | None:
    """Why ``value`` is not acceptable for setting ``key``, or None."""
    if key == "app_start_timeout_s":
        ok = isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 3600
        return None if ok else "must be an integer between 1 and 3600"
    if key in ("latency_ms", "async_delay_ms", "retry_after_s", "app_start_delay_ms"):
        ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 600_000
        return None if ok else "must be an integer between 0 and 600000"
    if key == "fault_rate":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1
        return None if ok else "must be a number between 0 and 1"
    if key == "fault_kind":
        return None if value in FAULT_KINDS else f"must be one of {', '.join(FAULT_KINDS)}"
    if key == "async_sources":
        return None if isinstance(value, bool) else "must be true or false"
    if key == "async_outcome":
        return None if value in ASYNC_OUTCOMES else f"must be one of {', '.join(ASYNC_OUTCOMES)}"
    return None


@dataclass
class BuildSettings:
    """How ``--run-apps`` builds applications' environments and gives them a network."""

    envs_dir: Path | None = None  # default: next to the database, ``<db>-envs``
    offline: bool = False  # install nothing: check requirements against installed packages
    isolation: str = "namespace"  # "namespace" where possible, or "port" (the fallback)

    def __post_init__(self) -> None:
        # Applications run in folders of their own: a relative path would not resolve there.
        if self.envs_dir is not None:
            self.envs_dir = absolute(self.envs_dir)


@dataclass
class ServerSettings:
    """Everything a sandbox process starts with."""

    host: str = "127.0.0.1"
    port: int = 8080
    db_path: Path = field(default_factory=lambda: default_db_path())
    tokens: dict[str, str] = field(default_factory=dict)  # token -> role
    demo: bool = True
    generate: int = 0
    seed: int | None = None
    behaviour: BehaviourSettings = field(default_factory=BehaviourSettings)
    run_apps: bool = False
    public_url: str | None = None  # http://host:port as clients reach the sandbox
    builds: BuildSettings = field(default_factory=lambda: BuildSettings())
    header_timeout_s: float = 10.0  # a request line and headers complete within this
    app_body_limit: int = 256 * 1024 * 1024  # bytes forwarded to an application per request
    app_origins: bool = False  # each application on http://<id>.localhost:PORT/

    def __post_init__(self) -> None:
        # Every path derived from the database (environments, apps, doors) is absolute from
        # here on: applications and their builds run in other working folders.
        if str(self.db_path) != IN_MEMORY:
            self.db_path = absolute(self.db_path)


IN_MEMORY = ":memory:"
"""The ``--db`` value for a database that lives in memory only (SQLite's name for it)."""


def absolute(path: Path | str) -> Path:
    """``path`` made absolute once (``~`` expanded, against the current folder), symlinks kept."""
    return Path(os.path.abspath(Path(path).expanduser()))


def default_db_path() -> Path:
    """The per-user data file the sandbox uses when no ``--db`` is given."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "dr-notebook" / "sandbox.db"


ENVS_DIR_VARIABLE = "DR_NOTEBOOK_ENVS_DIR"
"""Names a folder of environments that sandboxes share (``--envs-dir`` by default)."""


def envs_dir_for(db_path: Path) -> Path:
    """Where applications' environments are built: ``$DR_NOTEBOOK_ENVS_DIR`` when set (one folder
    that sandboxes share), else next to the database, named after it."""
    shared = os.environ.get(ENVS_DIR_VARIABLE, "").strip()
    return absolute(shared) if shared else absolute(db_path).with_name(f"{db_path.stem}-envs")


def apps_dir_for(db_path: Path) -> Path:
    """Where applications get their working folders: next to the database, named after it."""
    return absolute(db_path).with_name(f"{db_path.stem}-apps")
