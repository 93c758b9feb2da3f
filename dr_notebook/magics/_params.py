"""``--param NAME=VALUE`` options of the magics, as ``{name: value}`` for the client.

A value with spaces is quoted whole: ``--param "TITLE=My app"``.

``NAME=VALUE`` is the text itself; ``NAME=@path`` reads the file (``~`` expanded; text, with a
final newline dropped); ``NAME=?`` asks with ``getpass``, so the value is neither echoed nor
kept in the input history (only the ``?`` is). Types are the client's business: it reads
``"0.5"`` and ``"true"`` for numbers and booleans.
"""

from __future__ import annotations

import getpass
import re
from collections.abc import Callable, Iterable
from pathlib import Path

from dr_notebook.errors import InvalidArgumentError
from dr_notebook.magics._options import unquote

__all__ = ["ASK", "parse_params"]

ASK = "?"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def parse_params(
    options: Iterable[str] | None, ask: Callable[[str], str] | None = None
) -> dict[str, str]:
    """The values of repeated ``--param`` options (a later one for the same name wins);
    ``ask`` reads a hidden value (default: ``getpass.getpass``)."""
    values: dict[str, str] = {}
    for option in options or ():
        name, sep, raw = _unquote(option).partition("=")
        name, raw = name.strip(), _unquote(raw)
        if not sep or not _NAME.fullmatch(name):
            raise InvalidArgumentError(
                f"--param {option!r}: write NAME=VALUE, NAME=@file or NAME=? (asks, hidden)."
            )
        if raw == ASK:
            values[name] = (ask or getpass.getpass)(f"{name}: ")
        elif raw.startswith("@") and len(raw) > 1:
            path = Path(raw[1:]).expanduser()
            if not path.is_file():
                raise InvalidArgumentError(f"--param {name}=@{raw[1:]}: no such file.")
            text = path.read_text(encoding="utf-8")
            values[name] = text[:-1] if text.endswith("\n") else text
        else:
            values[name] = raw
    return values


def _unquote(text: str) -> str:
    """IPython's argument splitter keeps quotes: ``NAME='a b'`` arrives with them."""
    return unquote(text) or ""
