"""One supervised application process: start, wait until ready, stop; its output in a ring.

No signal handlers and nothing about applications: the caller gives the argv, environment,
folder and a readiness check. The process runs in a session (process group) of its own;
stopping it ends the group, then every process still carrying the run's mark.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from enum import Enum
from pathlib import Path

from dr_notebook.sandbox.runtime import isolation
from dr_notebook.sandbox.runtime.output import OutputRing

STOP_GRACE_S = 5.0
#: The longest wait between two readiness checks (local probes: cheap, and every wait is added
#: to a launch).
READY_POLL_MAX_S = 0.25


class Readiness(Enum):
    """How waiting for a process to be ready ended."""

    READY = "ready"
    EXITED = "exited"
    TIMEOUT = "timeout"
    STOPPED = "stopped"


class Supervised:
    """A process group started from ``argv``, with its output collected into ``output``."""

    def __init__(
        self,
        argv: Sequence[str],
        env: dict[str, str],
        cwd: Path,
        output: OutputRing,
        mark: str,
        pass_fds: Sequence[int] = (),
    ) -> None:
        """``pass_fds``: descriptors the process inherits (a jailed run's listening socket)."""
        self.argv = list(argv)
        self.pass_fds = tuple(pass_fds)
        self.env = env
        self.cwd = cwd
        self.output = output
        self.mark = mark
        self._process: subprocess.Popen[bytes] | None = None
        self._collector: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stopped = threading.Event()

    @property
    def pid(self) -> int | None:
        """The process id (also its group id), once started."""
        return None if self._process is None else self._process.pid

    @property
    def returncode(self) -> int | None:
        """The exit code once it has exited, else None."""
        return None if self._process is None else self._process.poll()

    @property
    def running(self) -> bool:
        """Whether it was started and has not exited."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> bool:
        """Start the process (False if it was stopped before it could start)."""
        with self._lock:
            if self._stopped.is_set():
                return False
            self._process = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                pass_fds=self.pass_fds,
            )
            assert self._process.stdout is not None
            self._collector = threading.Thread(
                target=self.output.collect, args=(self._process.stdout,), daemon=True
            )
            self._collector.start()
        return True

    def ready(self, check: Callable[[], bool], timeout_s: float) -> Readiness:
        """Poll ``check`` with back-off until it holds, the process exits, time runs out or
        :meth:`stop` is called."""
        deadline = time.monotonic() + timeout_s
        delay = 0.05
        while not self._stopped.is_set():
            if self._process is None or self._process.poll() is not None:
                return Readiness.EXITED
            if check():
                return Readiness.READY
            if time.monotonic() > deadline:
                return Readiness.TIMEOUT
            self._stopped.wait(delay)
            delay = min(delay * 1.5, READY_POLL_MAX_S)
        return Readiness.STOPPED

    def wait(self) -> int | None:
        """Wait for the process to exit; its code (None if it never started)."""
        if self._process is None:
            return None
        code = self._process.wait()
        self.drain()
        return code

    def drain(self, timeout_s: float = 1.0) -> None:
        """Give the collector a moment to read the output's last lines."""
        if self._collector is not None:
            self._collector.join(timeout_s)

    def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """End the process group (SIGTERM, SIGKILL after ``grace_s``) and what carries the mark."""
        with self._lock:
            self._stopped.set()
            process = self._process
        if process is not None:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, sig)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(grace_s if sig == signal.SIGTERM else 5.0)
                    break
            # What left the group (setsid, setpgid) but still carries the run's mark.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
        isolation.end(isolation.marked(self.mark), grace_s)
        self.drain()
