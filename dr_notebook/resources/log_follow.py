"""Following an application's output: new lines of ``GET customApplications/{id}/logs/``.

The endpoint answers the last lines (at most 1000 on DataRobot), with no line numbers. Each
poll's lines are matched against the previous poll's: the longest run at the end of the old
window that starts the new one is what was already seen, the rest is new. So no line is
given twice, and none is lost as long as fewer lines than the window holds arrive between two
polls; the poll interval drops back to its minimum whenever lines arrive, to keep that so.
What cannot be done: when more lines than the window arrive between two polls, the ones in
between are gone from the server; the follower then yields :data:`GAP` before the new window.
When the window is full of identical lines, new identical lines cannot be told from old ones.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from dr_notebook.enums import ApplicationStatus
from dr_notebook.errors import NotFoundError
from dr_notebook.models import Application, ApplicationLogs

__all__ = ["ENDED", "GAP", "MAX_INTERVAL", "MIN_INTERVAL", "follow", "new_lines"]

MIN_INTERVAL = 0.5
MAX_INTERVAL = 5.0
#: Yielded when lines were lost between two polls (more arrived than the server keeps).
GAP = "[... more lines arrived than the server keeps between two polls; some are missing ...]"
#: Statuses after which no new output comes.
ENDED = frozenset({ApplicationStatus.FAILED.value, ApplicationStatus.STOPPED.value})


def new_lines(seen: list[str], window: list[str]) -> tuple[list[str], bool]:
    """The lines of ``window`` not in ``seen`` (the previous window), and whether some were
    lost in between (no overlap although both hold lines and ``window`` is full)."""
    if not seen:
        return list(window), False
    for size in range(min(len(seen), len(window)), 0, -1):
        if seen[-size] == window[0] and seen[-size:] == window[:size]:
            return window[size:], False
    return list(window), True


def follow(
    read_logs: Callable[[], ApplicationLogs],
    read_app: Callable[[], Application],
    *,
    timeout: float | None = None,
    stop: threading.Event | None = None,
    sleep: Callable[[float], Any] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[str]:
    """New output lines as they come, until the application is deleted, stopped or failed
    (its last lines included), ``timeout`` seconds have passed (None: no limit), or ``stop``
    is set (checked while waiting between polls).

    ``read_logs`` and ``read_app`` fetch the logs and the application; ``NotFoundError`` from
    either means the application was deleted.
    """
    if sleep is None:
        sleep = stop.wait if stop is not None else time.sleep
    end = None if timeout is None else clock() + timeout
    interval = MIN_INTERVAL
    seen: list[str] = []
    window_size = 0
    while True:
        try:
            window = read_logs().lines
            status = read_app().status
        except NotFoundError:
            return
        fresh, lost = new_lines(seen, window)
        if lost and window_size and len(window) >= window_size:
            yield GAP
        yield from fresh
        window_size = max(window_size, len(window))
        seen = window
        if status in ENDED:
            return
        interval = MIN_INTERVAL if fresh else min(interval * 1.5, MAX_INTERVAL)
        if end is not None:
            left = end - clock()
            if left <= 0:
                return
            interval = min(interval, left)
        sleep(interval)
        if stop is not None and stop.is_set():
            return
