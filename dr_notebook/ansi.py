"""ANSI control sequences in application output: removed for text, turned into colour for HTML.

Apps print colours (``\\x1b[32m``), cursor moves and other escapes; shown raw they appear as
boxes or ``[32m`` litter. :func:`strip_ansi` removes every escape sequence and the other
control characters but tab; :func:`ansi_to_html` escapes the text and renders the SGR colour
and bold codes as ``<span style=...>`` (nothing else from the text becomes markup).
"""

from __future__ import annotations

import html
import re

__all__ = ["ansi_to_html", "colours_only", "strip_ansi"]

# CSI (ESC [ ... final), OSC (ESC ] ... BEL or ESC \), and two-character escapes.
_ESCAPE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[@-Z\\-_]"
    r"|\x9b[0-?]*[ -/]*[@-~]"
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SGR = re.compile(r"\x1b\[([0-9;]*)m")
_COLOURS = ("#000000", "#cd3131", "#0dbc79", "#e5e510", "#2472c8", "#bc3fbc", "#11a8cd", "#e5e5e5")
_BRIGHT = ("#666666", "#f14c4c", "#23d18b", "#f5f543", "#3b8eea", "#d670d6", "#29b8db", "#ffffff")


def strip_ansi(text: str) -> str:
    """``text`` without escape sequences or control characters (tabs kept)."""
    return _CONTROL.sub("", _ESCAPE.sub("", text))


def colours_only(text: str) -> str:
    """``text`` keeping only its SGR colour codes (which notebooks and terminals draw), every
    other escape sequence and control character removed."""
    out: list[str] = []
    position = 0
    for match in _SGR.finditer(text):
        out.append(strip_ansi(text[position : match.start()]))
        out.append(match.group(0))
        position = match.end()
    out.append(strip_ansi(text[position:]))
    return "".join(out)


def ansi_to_html(text: str) -> str:
    """``text`` as HTML-escaped markup, SGR colours and bold as styled spans."""
    out: list[str] = []
    style: dict[str, str] = {}
    opened = False
    position = 0
    for match in _SGR.finditer(text):
        out.append(html.escape(strip_ansi(text[position : match.start()])))
        position = match.end()
        _apply(style, match.group(1))
        if opened:
            out.append("</span>")
            opened = False
        if style:
            css = ";".join(f"{k}:{v}" for k, v in sorted(style.items()))
            out.append(f'<span style="{css}">')
            opened = True
    out.append(html.escape(strip_ansi(text[position:])))
    if opened:
        out.append("</span>")
    return "".join(out)


def _apply(style: dict[str, str], params: str) -> None:
    codes = [int(c) for c in params.split(";") if c.isdigit()] or [0]
    index = 0
    while index < len(codes):
        code = codes[index]
        if code == 0:
            style.clear()
        elif code == 1:
            style["font-weight"] = "bold"
        elif code == 22:
            style.pop("font-weight", None)
        elif 30 <= code <= 37:
            style["color"] = _COLOURS[code - 30]
        elif 90 <= code <= 97:
            style["color"] = _BRIGHT[code - 90]
        elif 40 <= code <= 47:
            style["background-color"] = _COLOURS[code - 40]
        elif code == 39:
            style.pop("color", None)
        elif code == 49:
            style.pop("background-color", None)
        elif code in (38, 48) and index + 1 < len(codes):
            # 256-colour and true-colour forms: skip their arguments (kept plain).
            index += 2 if codes[index + 1] == 5 else 4
        index += 1
