"""HTML fragments of the gallery: escaped server values, styled with JupyterLab CSS variables.

Every value from the server goes through ``html.escape``; the README is the one exception and
goes through ``render_markdown`` instead. The ``var(--jp-..., fallback)`` styles follow the
JupyterLab theme (light or dark) and fall back to neutral values in Notebook 7 and VS Code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from dr_notebook.cards import (
    CHIP,
    MUTED,
    bundles_html,
    chips,
    code,
    environment_html,
    escaped,
    listed,
    rows_html,
)
from dr_notebook.enums import APPLICATION_TEMPLATE, TEMPLATE_TYPE_LABELS

__all__ = [
    "CARD_COLUMNS",
    "CardView",
    "badges_html",
    "card_view",
    "create_blocker",
    "description_html",
    "detail_header_html",
    "detail_info_html",
    "message_html",
    "notice_html",
    "progress_html",
    "readme_html",
]

_FONT = (
    "font-family:var(--jp-ui-font-family, system-ui, sans-serif);"
    "color:var(--jp-ui-font-color1, inherit);line-height:1.4"
)
_BADGE = (
    "display:inline-block;padding:0 6px;margin:1px 3px 1px 0;border-radius:3px;font-size:.85em;"
    "background:var(--jp-layout-color2, rgba(128,128,128,.15));"
    "color:var(--jp-ui-font-color1, inherit);"
    "border:1px solid var(--jp-border-color2, rgba(128,128,128,.35))"
)
_TYPE_BADGE = (
    "display:inline-block;padding:0 6px;margin:1px 3px 1px 0;border-radius:3px;font-size:.85em;"
    # Blue 700 in both JupyterLab themes: white text reads on it in light and dark alike.
    "background:var(--jp-brand-color1, #1976d2);color:#fff;"
    "border:1px solid var(--jp-brand-color1, #1976d2)"
)
_DISABLED = (
    "display:inline-block;padding:0 6px;margin:1px 3px 1px 0;border-radius:3px;font-size:.85em;"
    "color:var(--jp-warn-color0, #e65100);border:1px solid var(--jp-warn-color1, #e65100)"
)
_KINDS = {
    "info": "var(--jp-info-color1, #0277bd)",
    "error": "var(--jp-error-color1, #d32f2f)",
    "warn": "var(--jp-warn-color1, #e65100)",
    "ok": "var(--jp-success-color1, #2e7d32)",
}
_EXCERPT = 140


def excerpt(text: str, limit: int = _EXCERPT) -> str:
    """``text`` on one line, cut at a word boundary near ``limit`` characters with an ellipsis."""
    flat = " ".join(str(text or "").split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit].rsplit(" ", 1)[0] or flat[:limit]
    return cut.rstrip(" ,.;:") + "…"


def badges_html(row: Mapping[str, Any], max_tags: int = 4) -> str:
    """Type and sub-type badges, a "disabled" badge when needed, then the first tags."""
    kind = row.get("template_type") or ""
    label = TEMPLATE_TYPE_LABELS.get(kind, kind)
    parts = [f'<span style="{_TYPE_BADGE}" title="{escaped(kind)}">{escaped(label)}</span>']
    if row.get("template_sub_type"):
        parts.append(f'<span style="{_BADGE}">{escaped(row["template_sub_type"])}</span>')
    if not row.get("enabled", True):
        parts.append(f'<span style="{_DISABLED}">disabled</span>')
    # A tag that only repeats the sub-type badge would show it twice.
    sub_type = str(row.get("template_sub_type") or "").casefold()
    tags = [tag for tag in row.get("tags") or [] if str(tag).casefold() != sub_type]
    parts.append(chips(tags[:max_tags]))
    if len(tags) > max_tags:
        parts.append(f'<span style="{CHIP};{MUTED}">+{len(tags) - max_tags}</span>')
    return f'<div style="{_FONT}">{"".join(parts)}</div>'


def description_html(row: Mapping[str, Any]) -> str:
    """The description excerpt of a card."""
    text = excerpt(row.get("description") or "")
    body = escaped(text) if text else "<em>No description.</em>"
    return f'<div style="{_FONT};{MUTED};font-size:.9em">{body}</div>'


class CardView(NamedTuple):
    """What one card shows for a template: its id, its name, and badges over the excerpt."""

    id: str
    name: str
    body: str


#: The catalogue columns a card shows.
CARD_COLUMNS = (
    "id",
    "name",
    "enabled",
    "template_type",
    "template_sub_type",
    "tags",
    "description",
)


def card_view(row: Mapping[str, Any]) -> CardView:
    """The card values of a catalogue row (see ``Catalogue.record``)."""
    return CardView(
        id=row["id"],
        name=row.get("name") or row["id"],
        body=badges_html(row) + description_html(row),
    )


def message_html(text: str, kind: str = "info") -> str:
    """A notice (``kind``: info, error, warn, ok), its line breaks kept (a traceback's caret
    lines stay under their code); empty text gives ""."""
    if not text:
        return ""
    color = _KINDS.get(kind, _KINDS["info"])
    return (
        f'<div style="{_FONT};border-left:3px solid {color};padding:2px 8px;margin:4px 0;'
        f'white-space:pre-wrap">'
        f"{escaped(text)}</div>"
    )


def notice_html(
    load_error: str, *, total: int, loading: bool, endpoint: str | None, matches: int
) -> str:
    """The line above the cards: a load error, an empty catalogue, or no match ("": none)."""
    if load_error:
        return message_html(load_error, "error")
    if total == 0:
        if loading:
            return ""
        where = f" on {endpoint}" if endpoint is not None else ""
        return message_html(
            f"The catalogue is empty: there are no custom templates{where} yet.", "warn"
        )
    if matches == 0:
        return message_html(
            "No template matches the search and filters: clear some of them.", "info"
        )
    return ""


def progress_html(text: str) -> str:
    """The progress line under the create button."""
    return f'<div style="{_FONT};{MUTED}">{escaped(text)}</div>' if text else ""


def create_blocker(row: Mapping[str, Any], *, launch: bool = False) -> str:
    """Why no application source (with ``launch``, no running application) can be made from
    this template ("" when it can)."""
    if row.get("template_type") != APPLICATION_TEMPLATE:
        kind = row.get("template_type") or "unknown"
        return (
            f"Only {APPLICATION_TEMPLATE} templates make application sources; this one is a {kind}."
        )
    if not row.get("enabled", True):
        return "This template is disabled, so no application source can be created from it."
    if launch and row.get("local_launch"):
        return f"This template's app cannot run here: {row['local_launch']}"
    return ""


def readme_html(rendered: str) -> str:
    """The README pane: ``rendered`` is ``render_markdown`` output (already sanitized)."""
    # Widget HTML inherits a 28px line height from ipywidgets; READMEs read better at 1.5.
    body = rendered or "<p><em>This template has no README.</em></p>"
    return f'<div class="dr-notebook-readme" style="{_FONT};line-height:1.5">{body}</div>'


def detail_header_html(row: Mapping[str, Any]) -> str:
    """Name, id, badges and full description of the selected template."""
    title = escaped(row.get("name") or row.get("id"))
    return (
        f'<div style="{_FONT}">'
        f'<div style="font-size:1.2em;font-weight:600">{title}</div>'
        f'<div style="{MUTED}">{code(row.get("id"))}</div>'
        f"{badges_html(row, max_tags=50)}"
        f'<div style="margin-top:4px">{escaped(row.get("description") or "")}</div></div>'
    )


def detail_info_html(row: Mapping[str, Any]) -> str:
    """Files, default environment, resource bundles, publisher and category of a template."""
    files = list(row.get("files") or [])
    bundles = bundles_html(
        row.get("default_resource_bundle_id"), row.get("resource_bundle_ids") or []
    )
    rows = [
        (f"files ({len(files)})", listed(files) or "<em>none listed</em>"),
        (
            "default environment",
            environment_html(row.get("environment_id"), row.get("environment_version_id"))
            or "<em>none</em>",
        ),
        ("resource bundle", bundles or "<em>none</em>"),
        ("publisher", escaped(row.get("publisher") or "") or "<em>unknown</em>"),
        ("category", escaped(row.get("category") or "") or "<em>none</em>"),
    ]
    return f'<div style="{_FONT}">{rows_html(rows)}</div>'
