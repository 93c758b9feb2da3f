"""Asynchronous jobs (202 + ``Location: status/{id}/``): one poll, the timeout check, back-off."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from dr_notebook.enums import JobStatus
from dr_notebook.errors import AsyncOperationError, DataRobotError, InvalidArgumentError
from dr_notebook.http import Transport
from dr_notebook.models import AsyncStatus

__all__ = ["DEFAULT_WAIT", "Deadline", "check_wait", "follow_job", "poll_job", "status_id"]

#: Seconds a call waits for an asynchronous job (or an application to run) by default.
DEFAULT_WAIT = 600.0


def status_id(location: str) -> str:
    """The job id at the end of a status URL."""
    parts = [p for p in location.split("?", 1)[0].split("/") if p]
    return parts[-1] if parts else ""


def check_wait(timeout: object) -> float:
    """``timeout`` (the total seconds to wait for a job) if it is a positive, finite number
    (NaN would wait forever, 0 not at all)."""
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or not math.isfinite(timeout)
        or timeout <= 0
    ):
        raise InvalidArgumentError(
            f"timeout must be a positive, finite number of seconds, not {timeout!r}."
        )
    return float(timeout)


def poll_job(transport: Transport, location: str, *, lookup: str) -> AsyncStatus:
    """The job's state; ``location`` is set once it completed (the result's URL).

    A 303 answer is completion. A COMPLETED status without a Location is an error (polling on
    would only wait for the timeout); ``lookup`` tells the user where to find the result then.
    """
    response = transport.request("GET", location, ok=(303,))
    if response.status_code == 303:
        target = response.headers.get("Location")
        if not target:
            raise DataRobotError(
                f"The job finished (303) but the server sent no Location; {lookup}."
            )
        return AsyncStatus(
            status_id=status_id(location), status=JobStatus.COMPLETED, location=target
        )
    status = AsyncStatus.from_api(transport.json(response))
    if not status.status_id:
        status.status_id = status_id(location)
    if status.completed:
        status.location = response.headers.get("Location") or None
        if not status.location:
            raise DataRobotError(
                f"The job {status.status_id} finished (COMPLETED) but the server sent no "
                f"Location for the result; {lookup}.",
                status_code=response.status_code,
            )
    return status


class Deadline:
    """The end of a wait of ``timeout`` seconds from ``started``, and the back-off between polls
    (``shortest``, 0.5 s by default, growing by ``growth`` (half) up to ``longest``)."""

    def __init__(
        self,
        timeout: float,
        *,
        started: float | None = None,
        longest: float = 5.0,
        shortest: float = 0.5,
        growth: float = 1.5,
    ):
        self.timeout = timeout
        self.started = time.monotonic() if started is None else started
        self.end = self.started + timeout
        self._delay = shortest
        self._growth = growth
        self._longest = longest

    @property
    def elapsed(self) -> float:
        """Seconds since the wait started."""
        return time.monotonic() - self.started

    @property
    def remaining(self) -> float:
        """Seconds left (<= 0 once over)."""
        return self.end - time.monotonic()

    def sleep(self) -> bool:
        """Sleep until the next poll; False (without sleeping) when the time is up."""
        remaining = self.remaining
        if remaining <= 0:
            return False
        time.sleep(min(self._delay, remaining))
        self._delay = min(self._delay * self._growth, self._longest)
        return True


def follow_job(
    transport: Transport,
    location: str,
    deadline: Deadline,
    on_status: Callable[[AsyncStatus], object],
    *,
    what: str,
    lookup: str,
) -> tuple[str | None, AsyncStatus]:
    """Poll a job, calling ``on_status`` with each state, until it completes: then
    ``(result URL, status)``; or until ``deadline``: then ``(None, last status)``.

    A job that ends ERROR, ABORTED or EXPIRED raises ``AsyncOperationError`` ("``what`` ended
    ERROR: <the job's message>").
    """
    while True:
        status = poll_job(transport, location, lookup=lookup)
        on_status(status)
        if status.completed and status.location:
            return status.location, status
        if status.failed:
            detail = f": {status.message}" if status.message else ""
            raise AsyncOperationError(
                f"{what} ended {status.status}{detail}",
                status=status,
                server_message=status.message,
            )
        if not deadline.sleep():
            return None, status
