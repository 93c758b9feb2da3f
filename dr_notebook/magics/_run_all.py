"""Run All stops at a failed cell, even for requests that reach the kernel after the failure.

JupyterLab sends every cell of a Run All at once and relies on the kernel to abort the queued
ones when a cell fails (``stop_on_error``). ipykernel 7 aborts only what is already queued when
the failure is handled: requests still on their way run, so a cell after a failed
``%dr_new_app`` may delete or change things. This guard aborts, after a failed cell, every
execute request that was *sent* before the failure, whatever its arrival time.

Send times are the frontend's clock; the kernel's clock may differ. The offset is estimated as
the smallest ``arrival - sent`` seen, which is never below the true offset: a request sent after
the failure is never aborted by mistake.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

_ATTRIBUTE = "_dr_notebook_run_all_guard"


def _sent_at(msg: dict[str, Any]) -> float | None:
    """The request's send time (seconds since the epoch, the frontend's clock), if known."""
    date = msg.get("header", {}).get("date")
    if isinstance(date, str):
        try:
            date = datetime.fromisoformat(date)
        except ValueError:
            return None
    return date.timestamp() if isinstance(date, datetime) else None


class RunAllGuard:
    """Aborts execute requests sent before the last failed cell ended (see the module doc)."""

    def __init__(self, kernel: Any) -> None:
        self.kernel = kernel
        self.offset: float | None = None  # smallest arrival - sent seen: >= the clocks' offset
        self.failed_at: float | None = None  # kernel clock: when the last failed cell ended
        self._handles = kernel.should_handle

    def should_handle(self, stream: Any, msg: dict[str, Any], idents: Any) -> Any:
        """The kernel's ``should_handle``: False (after an abort reply) for a stale request."""
        if msg.get("header", {}).get("msg_type") == "execute_request" and self._stale(msg):
            self.kernel._send_abort_reply(stream, msg, idents)
            return False
        return self._handles(stream, msg, idents)

    def _stale(self, msg: dict[str, Any]) -> bool:
        sent = _sent_at(msg)
        if sent is None:
            return False
        offset = time.time() - sent
        self.offset = offset if self.offset is None else min(self.offset, offset)
        content = msg.get("content", {})
        if (
            self.failed_at is None
            or content.get("silent")
            or not content.get("stop_on_error", True)
        ):
            return False
        return sent + self.offset < self.failed_at

    def post_run_cell(self, result: Any) -> None:
        """IPython's ``post_run_cell`` event: note when a visible cell failed."""
        if not result.success and not getattr(result.info, "silent", False):
            self.failed_at = time.time()


def install(shell: Any) -> None:
    """Guard the kernel behind ``shell`` (once; nothing outside a kernel)."""
    kernel = getattr(shell, "kernel", None)
    if kernel is None or not hasattr(kernel, "_send_abort_reply"):
        return
    if getattr(kernel, _ATTRIBUTE, None) is not None:
        return
    guard = RunAllGuard(kernel)
    kernel.should_handle = guard.should_handle
    shell.events.register("post_run_cell", guard.post_run_cell)
    setattr(kernel, _ATTRIBUTE, guard)
