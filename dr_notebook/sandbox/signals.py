"""The sandbox's SIGINT/SIGTERM handling, installed before anything else runs (stdlib only).

Before the server runs, a signal stops the start-up at once (an exception); once it runs, it
only sets the server's flags (a second one forces it). Either way the signal is counted, so a
start-up that some library's ``except`` swallowed it from still stops before serving.
"""

from __future__ import annotations

import signal
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Stop(BaseException):
    """A stop signal during start-up (not KeyboardInterrupt: CPython 3.11 would then exit with
    SIGINT even once it is handled, if it struck inside code run by ``PyRun_*``)."""


class Stopper:
    """The sandbox's SIGINT/SIGTERM handler: only sets flags once the server runs."""

    def __init__(self) -> None:
        self.server: Any = None
        self.count = 0

    def __call__(self, signum: int, _frame: object) -> None:
        self.count += 1
        server = self.server
        if server is None:
            raise Stop(signal.Signals(signum).name)
        if self.count > 1:
            server.force_exit = True
        server.should_exit = True

    def install(self) -> dict[int, Any]:
        """Make this the handler of SIGINT and SIGTERM; the handlers it replaces."""
        return {sig: signal.signal(sig, self) for sig in SIGNALS}


STOPPER = Stopper()  # one per process: the count survives from the first line to the server
