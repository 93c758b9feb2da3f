"""One sandbox per database: an exclusive lock beside it, naming the sandbox that holds it."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no advisory locks here; one sandbox per database is up to you
    fcntl = None  # type: ignore[assignment]


class DatabaseInUse(Exception):
    """Another sandbox serves this database."""


class DatabaseLock:
    """``<db>.lock``, held (``flock``) for as long as the sandbox runs; it says pid and port."""

    def __init__(self, db_path: Path) -> None:
        self.path = db_path.with_name(db_path.name + ".lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or raise :class:`DatabaseInUse` naming the holder (touching nothing)."""
        if fcntl is None or str(self.path.with_suffix("")) == ":memory:":
            return  # no file, nothing to share
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _read(fd)
            os.close(fd)
            raise DatabaseInUse(
                f"another sandbox (pid {holder.get('pid', '?')}, port {holder.get('port', '?')}) "
                f"is using {self.path.with_suffix('')}: stop it, or start this one with "
                "another --db"
            ) from None
        self._fd = fd
        self.describe(port=None)

    def describe(self, port: int | None) -> None:
        """Write who holds the lock: this process, and the port it listens on."""
        if self._fd is None:
            return
        text = json.dumps({"pid": os.getpid(), "port": port}).encode()
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, text, 0)

    def release(self) -> None:
        """Let another sandbox use the database."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing drops the flock
            self._fd = None


def _read(fd: int) -> dict[str, object]:
    with contextlib.suppress(OSError, ValueError):
        value = json.loads(os.pread(fd, 4096, 0) or b"{}")
        if isinstance(value, dict):
            return value
    return {}
