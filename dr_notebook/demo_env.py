"""The running demo's endpoint and admin token, kept in a 0600 file beside its database, so a
plain shell in the same folder can reach the demo's sandbox (``dr-notebook env``)."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import requests

DEFAULT_DB = Path(".sandbox/demo.db")
"""The demo's database, relative to the folder ``make demo`` runs in."""


def env_file_for(db: Path) -> Path:
    """Where the demo using database ``db`` keeps its variables: ``<db>.env``."""
    return db.with_suffix(".env")


def export_lines(endpoint: str, token: str) -> str:
    """The shell lines that point DataRobot tools at ``endpoint`` with ``token``."""
    return (
        f"export DATAROBOT_ENDPOINT={shlex.quote(endpoint)}\n"
        f"export DATAROBOT_API_TOKEN={shlex.quote(token)}\n"
    )


def write_env_file(db: Path, endpoint: str, token: str) -> Path:
    """Write the export lines to ``env_file_for(db)``, readable by this user only."""
    path = env_file_for(db)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        os.fchmod(handle.fileno(), 0o600)  # an older file may have had other bits
        handle.write(export_lines(endpoint, token))
    return path


def read_env_file(db: Path = DEFAULT_DB) -> dict[str, str]:
    """The variables of the demo using ``db``; empty if it wrote none."""
    try:
        text = env_file_for(db).read_text()
    except OSError:
        return {}
    found = {}
    for line in text.splitlines():
        words = shlex.split(line.removeprefix("export "))
        if len(words) == 1 and "=" in words[0]:
            name, _, value = words[0].partition("=")
            found[name] = value
    return found


def running_demo(db: Path = DEFAULT_DB) -> dict[str, str] | None:
    """The variables of the demo running with ``db``, if its sandbox answers with them."""
    found = read_env_file(db)
    endpoint, token = found.get("DATAROBOT_ENDPOINT"), found.get("DATAROBOT_API_TOKEN")
    if not endpoint or not token:
        return None
    try:
        answer = requests.get(
            f"{endpoint}/version/", headers={"Authorization": f"Bearer {token}"}, timeout=5
        )
    except requests.RequestException:
        return None
    return found if answer.status_code == 200 else None
