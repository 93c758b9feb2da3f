"""What every ``%dr_*`` magic shares: option help texts, ``-h`` answered with plain usage,
errors a user can fix shown as one line, and argument unquoting."""

from __future__ import annotations

import argparse
import copy
import functools
import inspect
import itertools
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from IPython.core.error import UsageError

from dr_notebook.enums import TEMPLATE_ORDER_BY, known_template_types
from dr_notebook.errors import (
    ApplicationFailedError,
    AsyncTimeoutError,
    AuthenticationError,
    ConfigurationError,
    DataRobotError,
    LocalLaunchError,
    NameInUseError,
)

F = TypeVar("F", bound=Callable[..., Any])
FORCE_HINT = LocalLaunchError.force_hint

TYPE_HELP = f"Template type: {known_template_types()}; the short names work too."
ORDER_HELP = (
    f"Sort by {', '.join(f for f in TEMPLATE_ORDER_BY if not f.startswith('-'))} "
    "(or created_at...); descending: --order-by=-name."
)


def one_line_error(err: DataRobotError, *, connect_hint: bool = True) -> DataRobotError:
    """Make IPython show ``err`` as one line instead of a traceback (IPython's own hook).

    ``connect_hint``: a missing or refused token suggests ``%dr_connect`` (not from
    ``%dr_connect`` itself)."""
    text = str(err)
    if isinstance(err, ApplicationFailedError):
        text = err.summary  # the output's last lines are %dr_app --logs' (the hint names it)
    if isinstance(err, LocalLaunchError):
        text = text.replace(FORCE_HINT, "Add --force to launch it anyway.")
    line = f"{type(err).__name__}: {text}" + magic_hint(err)
    if (
        connect_hint
        and isinstance(err, (AuthenticationError, ConfigurationError))
        and "%dr_connect" not in line
    ):
        line += " (run %dr_connect to enter an endpoint and token)"
    err._render_traceback_ = lambda: [line]  # type: ignore[attr-defined]
    return err


def magic_hint(err: DataRobotError) -> str:
    """What to type next, in magic syntax (the library's own messages name Python calls)."""
    app = getattr(err, "application", None)
    if isinstance(err, NameInUseError) and err.name:
        return f" Use --name NEW, or delete it: %dr_app {err.name!r} --delete"
    if isinstance(err, ApplicationFailedError) and app is not None and app.id:
        return f" Logs: %dr_app {app.id} --logs"
    if isinstance(err, AsyncTimeoutError) and app is not None and app.id:
        return f" Look with %dr_app {app.id}"
    return ""


class ShortErrors(Protocol):
    """What :func:`user_errors` reads of the magics (a typing-only reference to ``_base``)."""

    short_errors: bool


INTERRUPT_NOTE = "dr_notebook_note"
"""The attribute of a ``KeyboardInterrupt`` a magic sets to say what the interrupt left."""


def user_errors(method: F) -> F:
    """Errors a user can fix become one line (unless ``short_errors`` is off)."""

    @functools.wraps(method)
    def wrapper(self: ShortErrors, line: str = "", *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, line, *args, **kwargs)
        except DataRobotError as err:
            if self.short_errors:
                hint = method.__name__ != "dr_connect"
                raise one_line_error(err, connect_hint=hint) from None
            raise
        except KeyboardInterrupt as interrupt:
            # Still an error for the kernel (Run All stops), shown as one line.
            if self.short_errors:
                note = getattr(interrupt, INTERRUPT_NOTE, None) or (
                    f"Interrupted: %{method.__name__} stopped."
                )
                interrupt._render_traceback_ = lambda: [note]  # type: ignore[attr-defined]
                raise interrupt from None
            raise

    return wrapper  # type: ignore[return-value]


def plain_help(magic: Callable[..., Any]) -> str:
    """The magic's usage as a terminal shows it (IPython formats it for docstrings: ``::``):
    no reST markup, and the id or name shown as required (it is read as ``nargs="*"`` only to
    take a name of several words)."""
    parser = getattr(magic, "parser", None)
    if parser is None:
        return _plain_text(inspect.getdoc(magic) or "")
    plain = copy.copy(parser)
    plain.formatter_class = argparse.HelpFormatter
    plain.prog = f"%{parser.prog}"
    plain.description = _plain_text(parser.description or "")
    plain._actions = [copy.copy(action) for action in parser._actions]
    for action in plain._actions:
        if not action.option_strings and action.nargs == "*" and action.metavar == "ID_OR_NAME":
            action.nargs = "+"
    groups = []
    for group in parser._action_groups:
        copied = copy.copy(group)
        by_dest = {a.dest: a for a in plain._actions}
        copied._group_actions = [by_dest[a.dest] for a in group._group_actions]
        groups.append(copied)
    plain._action_groups = groups
    return plain.format_help()


def _plain_text(text: str) -> str:
    return text.replace("``", "")


def dash_value_error(magic: Callable[..., Any], line: str, err: UsageError) -> UsageError:
    """``err``, or for ``--order-by -name`` (argparse reads ``-name`` as an option) one naming
    the spelling that works: ``--order-by=-name``."""
    parser = getattr(magic, "parser", None)
    if parser is None or "expected one argument" not in str(err):
        return err
    words = line.split()
    takes_value = {
        option: action
        for action in parser._actions
        if isinstance(action, argparse._StoreAction) and action.nargs is None
        for option in action.option_strings
    }
    for option, value in itertools.pairwise(words):
        if option in takes_value and value.startswith("-") and value not in takes_value:
            return UsageError(
                f"{option} {value}: with a space, {value} reads as an option; "
                f"write {option}={value}"
            )
    return err


def answering_help(magic: Callable[..., Any]) -> Callable[..., Any]:
    """``%magic -h`` and ``%magic --help`` print the magic's usage instead of running it."""

    @functools.wraps(magic)
    def wrapper(line: str = "", *args: Any, **kwargs: Any) -> Any:
        words = line.split()
        options = words[: words.index("--")] if "--" in words else words
        if not {"-h", "--help"}.isdisjoint(options):
            print(plain_help(magic))
            return None
        try:
            return magic(line, *args, **kwargs)
        except UsageError as err:
            raise dash_value_error(magic, line, err) from None

    return wrapper


def unquote(value: str | None) -> str | None:
    """IPython's argument splitter keeps quotes: ``'My app'`` arrives with them."""
    if value and len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def words_of(values: list[str] | None) -> str:
    return " ".join(unquote(v) or "" for v in values or []).strip()
