"""Entities as plain text, for terminals: what IPython shows where it cannot show HTML.

Text from the server is shown without HTML tags and without control characters, so that a
template's name or README cannot move the cursor, retitle the window or hide text.
"""

from __future__ import annotations

import html
import re
import textwrap
import unicodedata
from typing import Protocol

import nh3

from dr_notebook.enums import TEMPLATE_TYPE_LABELS

__all__ = ["README_LINES", "plain", "template_text"]

#: How many lines of the README the text form shows.
README_LINES = 8
_ABOUT_WIDTH = 90

# Escape sequences (CSI, OSC and other ESC-introduced ones) and bidirectional overrides.
_ESCAPES = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)?|.)?")
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")


def plain(text: str | None) -> str:
    """``text`` without escape sequences or control characters (tabs become spaces)."""
    if not text:
        return ""
    text = _BIDI.sub("", _ESCAPES.sub("", text)).replace("\t", "    ")
    return "".join(c for c in text if c == "\n" or unicodedata.category(c) != "Cc")


def _readme_lines(readme: str) -> list[str]:
    """The README's lines as text: tags removed (script and style content too), blank runs
    collapsed, no blank lines at either end."""
    text = html.unescape(nh3.clean(plain(readme), tags=set()))
    lines: list[str] = []
    for line in text.splitlines():
        line = line.rstrip()
        if line or (lines and lines[-1]):
            lines.append(line)
    while lines and not lines[-1]:
        lines.pop()
    return lines


class Template(Protocol):
    """What the text form reads of a template (``models.Template``; a typing-only reference:
    models imports this module)."""

    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    @property
    def template_type(self) -> str: ...

    @property
    def template_sub_type(self) -> str | None: ...

    @property
    def enabled(self) -> bool: ...

    @property
    def tags(self) -> list[str]: ...

    @property
    def readme(self) -> str | None: ...


def template_text(template: Template, readme_lines: int = README_LINES) -> str:
    """A template for a terminal: its name, then type, state, tags, id and description, then
    the first ``readme_lines`` lines of its README."""
    kind = plain(template.template_type) or "unknown"
    if template.template_sub_type:
        kind += f" / {plain(template.template_sub_type)}"
    label = TEMPLATE_TYPE_LABELS.get(template.template_type)
    if label:
        kind += f" ({label})"
    fields = [
        ("type", kind),
        ("state", "enabled" if template.enabled else "disabled"),
        ("tags", ", ".join(plain(tag) for tag in template.tags)),
        ("id", plain(template.id)),
        ("about", textwrap.shorten(plain(template.description), _ABOUT_WIDTH, placeholder=" …")),
    ]
    lines = [plain(template.name).strip() or plain(template.id) or "(a template without a name)"]
    lines += [f"  {name + ':':<7}{value}" for name, value in fields if value]
    readme = _readme_lines(template.readme or "")
    if readme:
        lines += ["", *(f"  {line}" if line else "" for line in readme[:readme_lines])]
        rest = len(readme) - readme_lines
        if rest > 0:
            lines.append(f"  … {rest} more lines (the whole README: template.readme)")
    return "\n".join(lines)
