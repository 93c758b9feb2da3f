"""How ``%dr_apps`` and ``%dr_templates`` frames read in a terminal: the columns a person reads
(name, status and URL; name and type), not twenty columns wrapped over many lines.

Only the frames the magics returned are shown this way (the plain-text formatter is looked up
by object); the frame itself keeps every column, and Jupyter shows its HTML table as usual.
"""

from __future__ import annotations

import re
import weakref
from typing import Any

import pandas as pd

from dr_notebook.enums import TEMPLATE_TYPE_LABELS

__all__ = ["compact", "plain_text"]

WIDTH = 80
_NAME_WIDTH = 36
# id(frame) -> the frame, while it lives: the frames to show compactly.
_FRAMES: weakref.WeakValueDictionary[int, pd.DataFrame] = weakref.WeakValueDictionary()
_COLUMNS: dict[int, tuple[str, ...]] = {}
_ORIGIN = re.compile(r"^[a-z][a-z0-9+.-]*://[^/]+", re.IGNORECASE)


def compact(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """Mark ``frame`` (returned by a magic) to be shown in a terminal with ``columns`` only."""
    _FRAMES[id(frame)] = frame
    _COLUMNS[id(frame)] = columns
    weakref.finalize(frame, _COLUMNS.pop, id(frame), None)
    return frame


def plain_text(frame: pd.DataFrame, printer: Any, cycle: bool) -> None:
    """IPython's ``text/plain`` printer for DataFrames: compact for a magic's frame."""
    if _FRAMES.get(id(frame)) is not frame:
        printer.text(repr(frame))
        return
    printer.text(_table(frame, _COLUMNS[id(frame)]))


def _table(frame: pd.DataFrame, columns: tuple[str, ...]) -> str:
    shown = frame[[c for c in columns if c in frame.columns]].copy()
    if "name" in shown.columns:
        shown["name"] = [_cut(str(v), _NAME_WIDTH) for v in shown["name"]]
    if "template_type" in shown.columns:
        shown["template_type"] = [
            TEMPLATE_TYPE_LABELS.get(str(v), str(v)) for v in shown["template_type"]
        ]
        shown = shown.rename(columns={"template_type": "type", "template_sub_type": "sub-type"})
    origin = None
    if "application_url" in shown.columns:
        urls = [str(v) if isinstance(v, str) else "" for v in shown["application_url"]]
        origin = _common_origin(urls)
        if origin:  # the server once in the footer, each app's path in the table
            urls = [u[len(origin) :] for u in urls]
        shown = shown.drop(columns="application_url")
        shown["name"] = [_cut(str(v), _name_width(shown, urls)) for v in shown["name"]]
        shown["url"] = urls
    text = shown.to_string(index=False, max_rows=60, na_rep="")
    hidden = len(frame.columns) - len(shown.columns)
    where = f"URLs on {origin}\n" if origin else ""
    return f"{text}\n{where}({len(frame)} rows; {hidden} more columns: use -o VAR for all of them)"


def _common_origin(urls: list[str]) -> str | None:
    """``scheme://host:port`` when every URL starts with the same one."""
    origins = {match.group(0) for u in urls if (match := _ORIGIN.match(u))}
    return origins.pop() if len(origins) == 1 and all(_ORIGIN.match(u) for u in urls) else None


def _name_width(shown: pd.DataFrame, urls: list[str]) -> int:
    """What is left of 80 columns for the name, beside the other columns and the URL."""
    others = [c for c in shown.columns if c != "name"]
    used = sum(max([len(c), *(len(str(v)) for v in shown[c])]) + 1 for c in others)
    used += max([3, *(len(u) for u in urls)]) + 1
    return max(12, min(_NAME_WIDTH, WIDTH - used))


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
