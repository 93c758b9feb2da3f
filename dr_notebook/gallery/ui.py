"""What every view of the gallery shares: the guard of worker updates, buttons, one-line errors."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import ipywidgets as widgets

from dr_notebook import errors

__all__ = ["USER_ERRORS", "UiGuard", "button", "one_line", "under_ui_lock", "walk"]

F = TypeVar("F", bound=Callable[..., Any])

# Errors a user can act on, shown as one line instead of a traceback.
# (Transport turns every requests exception into a DataRobotError.)
USER_ERRORS = (errors.DataRobotError,)

WRAP = {"flex_flow": "row wrap", "align_items": "center", "grid_gap": "4px 12px"}


class UiGuard:
    """The gallery's lock over its widgets, and whether it is closed.

    Held by whichever thread updates widgets (the face, the loader, a worker); ``close()``
    takes it and marks the gallery closed, after which workers touch no widget.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.closed = False

    def apply(self, update: Callable[[], object]) -> bool:
        """Run ``update`` holding the lock unless the gallery is closed; whether it ran."""
        with self.lock:
            if self.closed:
                return False
            update()
            return True


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
