"""What every view of the gallery shares: the guard of worker updates, buttons, one-line errors."""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any, TypeVar

import ipywidgets as widgets

from dr_notebook import errors

__all__ = ["USER_ERRORS", "FaceFuture", "UiGuard", "button", "one_line", "under_ui_lock", "walk"]

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

log = logging.getLogger(__name__)

# Errors a user can act on, shown as one line instead of a traceback.
# (Transport turns every requests exception into a DataRobotError.)
USER_ERRORS = (errors.DataRobotError,)

WRAP = {"flex_flow": "row wrap", "align_items": "center", "grid_gap": "4px 12px"}


class UiGuard:
    """The gallery's lock over its widgets, whether it is closed, and its queue of updates.

    Only the face's thread (the one that built the gallery: in a kernel, the one running its
    event loop) changes widgets. Worker and loader threads ``post`` their updates; they are
    applied in the face's thread, under the lock, and never after ``close``: by the kernel's
    event loop when the gallery was built in one, else by ``drain`` (which the face's blocking
    calls, such as ``wait()``, run while they wait).
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.closed = False
        self._owner = threading.get_ident()
        self._loop = _running_loop()
        self._pending: deque[tuple[Callable[[], object], bool]] = deque()
        self._posted = threading.Condition()

    @property
    def in_face(self) -> bool:
        """Whether the calling thread is the face's."""
        return threading.get_ident() == self._owner

    def apply(self, update: Callable[[], object]) -> bool:
        """Run ``update`` holding the lock unless the gallery is closed; whether it ran."""
        with self.lock:
            if self.closed:
                return False
            update()
            return True

    def post(self, update: Callable[[], object], *, always: bool = False) -> None:
        """Have ``update`` run in the face's thread (at once when called from it).

        ``always``: run it even after ``close`` (it touches no widget)."""
        with self._posted:
            self._pending.append((update, always))
            self._posted.notify_all()
        if self.in_face:
            self.drain()
        elif self._loop is not None:
            try:
                self._loop.call_soon_threadsafe(self.drain)
            except RuntimeError:  # the loop has closed: the face's calls drain
                self._loop = None

    def drain(self) -> None:
        """Apply the pending updates, in order (only in the face's thread; else does nothing)."""
        if not self.in_face:
            return
        while True:
            with self._posted:
                if not self._pending:
                    return
                update, always = self._pending.popleft()
            try:
                update() if always else self.apply(update)
            except Exception:  # one failed update must not drop those after it
                log.exception("A gallery update failed")

    def wait_until(self, done: Callable[[], bool], timeout: float | None = None) -> bool:
        """Drain (in the face's thread) until ``done()``; False when ``timeout`` s passed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self.drain()
            if done():
                self.drain()
                return True
            left = 0.1 if deadline is None else min(0.1, deadline - time.monotonic())
            if left <= 0:
                return False
            with self._posted:
                if not self._pending:
                    self._posted.wait(left)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop running in this thread (a kernel's), or None (plain Python)."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class FaceFuture(Future[T]):
    """A worker's Future that settles in the face's thread, after the updates the worker
    posted: once it is done, the widgets show its outcome. ``result()`` in the face's thread
    applies the updates while it waits."""

    def __init__(self, guard: UiGuard, inner: Future[T]) -> None:
        super().__init__()
        self._guard = guard
        inner.add_done_callback(lambda done: guard.post(lambda: self._settle(done), always=True))

    def _settle(self, inner: Future[T]) -> None:
        if inner.cancelled():
            self.cancel()
        elif (err := inner.exception()) is not None:
            self.set_exception(err)
        else:
            self.set_result(inner.result())

    def result(self, timeout: float | None = None) -> T:
        """The worker's result, once its updates are applied (``TimeoutError`` after
        ``timeout`` s)."""
        self._guard.wait_until(self.done, timeout)
        return super().result(timeout=0)

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """The worker's exception (None if it returned), once its updates are applied."""
        self._guard.wait_until(self.done, timeout)
        return super().exception(timeout=0)


def under_ui_lock(method: F) -> F:
    """Run the method holding its object's ``_ui_lock``: the loader thread updates the same
    widgets."""

    @functools.wraps(method)
    def locked(self: Any, *args: Any, **kwargs: Any) -> Any:
        with self._ui_lock:
            return method(self, *args, **kwargs)

    return locked  # type: ignore[return-value]


def button(description: str, icon: str, tooltip: str, **kwargs: Any) -> widgets.Button:
    """A button as wide as its label."""
    return widgets.Button(
        description=description,
        icon=icon,
        tooltip=tooltip,
        layout=widgets.Layout(width="auto"),
        **kwargs,
    )


def one_line(err: BaseException) -> str:
    """An error as the one line a person reads (a DataRobotError's message as it is)."""
    if isinstance(err, errors.DataRobotError):
        return str(err)
    text = " ".join(str(err).split()) or type(err).__name__
    return f"{type(err).__name__}: {text}"


def walk(widget: widgets.Widget) -> Iterator[widgets.Widget]:
    """A widget and all its descendants (children and layout/style models), depth first."""
    yield widget
    for name in ("layout", "style"):
        child = getattr(widget, name, None)
        if isinstance(child, widgets.Widget):
            yield child
    for child in getattr(widget, "children", ()):
        yield from walk(child)
