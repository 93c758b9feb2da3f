"""HTML fragments of the gallery: escaped server values, styled with JupyterLab CSS variables.

Every value from the server goes through ``html.escape``; the README is the one exception and
goes through ``render_markdown`` instead. The ``var(--jp-..., fallback)`` styles follow the
JupyterLab theme (light or dark) and fall back to neutral values in Notebook 7 and VS Code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from html import escape
from typing import Any, NamedTuple

__all__ = [
    "APPLICATION_TYPE",
    "CARD_COLUMNS",
    "CardView",
    "badges_html",
    "card_view",
    "create_blocker",
    "description_html",
    "detail_header_html",
    "detail_info_html",
    "message_html",
    "progress_html",
    "readme_html",
]

APPLICATION_TYPE = "customApplicationTemplate"

_FONT = (
    "font-family:var(--jp-ui-font-family, system-ui, sans-serif);"
    "color:var(--jp-ui-font-color1, inherit);line-height:1.4"
)
_MUTED = "color:var(--jp-ui-font-color2, inherit)"
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
_TAG = (
    "display:inline-block;padding:0 6px;margin:1px 3px 1px 0;border-radius:9px;font-size:.8em;"
    "color:var(--jp-ui-font-color2, inherit);"
    "border:1px solid var(--jp-border-color2, rgba(128,128,128,.35))"
)
_DISABLED = (
    "display:inline-block;padding:0 6px;margin:1px 3px 1px 0;border-radius:3px;font-size:.85em;"
    "color:var(--jp-warn-color0, #e65100);border:1px solid var(--jp-warn-color1, #e65100)"
)
_MONO = "font-family:var(--jp-code-font-family, ui-monospace, monospace);font-size:.9em"
_KINDS = {
    "info": "var(--jp-info-color1, #0277bd)",
    "error": "var(--jp-error-color1, #d32f2f)",
    "warn": "var(--jp-warn-color1, #e65100)",
    "ok": "var(--jp-success-color1, #2e7d32)",
}
_EXCERPT = 140
_MAX_FILES = 30

# Short badge labels for the known template types (unknown types show as sent).
TYPE_LABELS = {
    APPLICATION_TYPE: "application",
    "customMetricTemplate": "metric",
    "customJobTemplate": "job",
}


def _e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


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
    label = TYPE_LABELS.get(kind, kind)
    parts = [f'<span style="{_TYPE_BADGE}" title="{_e(kind)}">{_e(label)}</span>']
    if row.get("template_sub_type"):
        parts.append(f'<span style="{_BADGE}">{_e(row["template_sub_type"])}</span>')
    if not row.get("enabled", True):
        parts.append(f'<span style="{_DISABLED}">disabled</span>')
    # A tag that only repeats the sub-type badge would show it twice.
    sub_type = str(row.get("template_sub_type") or "").casefold()
    tags = [tag for tag in row.get("tags") or [] if str(tag).casefold() != sub_type]
    parts += [f'<span style="{_TAG}">{_e(tag)}</span>' for tag in tags[:max_tags]]
    if len(tags) > max_tags:
        parts.append(f'<span style="{_MUTED};font-size:.8em">+{len(tags) - max_tags}</span>')
    return f'<div style="{_FONT}">{"".join(parts)}</div>'


def description_html(row: Mapping[str, Any]) -> str:
    """The description excerpt of a card."""
    text = excerpt(row.get("description") or "")
    body = _e(text) if text else "<em>No description.</em>"
    return f'<div style="{_FONT};{_MUTED};font-size:.9em">{body}</div>'


class CardView(NamedTuple):
    """What one card shows for a template: its id, its name, and badges over the excerpt."""

    id: str
    name: str
    body: str


#: The catalogue columns a card shows.
CARD_COLUMNS = (
    "id",
    "name",
    "description",
    "template_type",
    "template_sub_type",
    "enabled",
    "tags",
)


def card_view(row: Mapping[str, Any]) -> CardView:
    """The card values of a catalogue row (see ``Catalogue.record``)."""
    return CardView(
        id=row["id"],
        name=row.get("name") or row["id"],
        body=badges_html(row) + description_html(row),
    )


def message_html(text: str, kind: str = "info") -> str:
    """A one-line notice (``kind``: info, error, warn, ok); empty text gives ""."""
    if not text:
        return ""
    color = _KINDS.get(kind, _KINDS["info"])
    return (
        f'<div style="{_FONT};border-left:3px solid {color};padding:2px 8px;margin:4px 0">'
        f"{_e(text)}</div>"
    )


def progress_html(text: str) -> str:
    """The progress line under the create button."""
    return f'<div style="{_FONT};{_MUTED}">{_e(text)}</div>' if text else ""


def create_blocker(row: Mapping[str, Any]) -> str:
    """Why no application source can be created from this template ("" when it can)."""
    if row.get("template_type") != APPLICATION_TYPE:
        kind = row.get("template_type") or "unknown"
        return f"Only {APPLICATION_TYPE} templates make application sources; this one is a {kind}."
    if not row.get("enabled", True):
        return "This template is disabled, so no application source can be created from it."
    return ""


def readme_html(rendered: str) -> str:
    """The README pane: ``rendered`` is ``render_markdown`` output (already sanitized)."""
    # Widget HTML inherits a 28px line height from ipywidgets; READMEs read better at 1.5.
    body = rendered or "<p><em>This template has no README.</em></p>"
    return f'<div class="dr-notebook-readme" style="{_FONT};line-height:1.5">{body}</div>'


def detail_header_html(row: Mapping[str, Any]) -> str:
    """Name, id, badges and full description of the selected template."""
    return (
        f'<div style="{_FONT}">'
        f'<div style="font-size:1.2em;font-weight:600">{_e(row.get("name") or row.get("id"))}</div>'
        f'<div style="{_MUTED};{_MONO}">{_e(row.get("id"))}</div>'
        f"{badges_html(row, max_tags=50)}"
        f'<div style="margin-top:4px">{_e(row.get("description") or "")}</div></div>'
    )


def _code(value: Any) -> str:
    return f'<code style="{_MONO}">{_e(value)}</code>'


def _rows(rows: Iterable[tuple[str, str]]) -> str:
    cells = "".join(
        f'<div style="{_MUTED}">{_e(label)}</div><div>{value}</div>' for label, value in rows
    )
    grid = "display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:6px 0"
    return f'<div style="{_FONT};{grid}">{cells}</div>'


def detail_info_html(row: Mapping[str, Any]) -> str:
    """Files, default environment, resource bundles, publisher and category of a template."""
    files = list(row.get("files") or [])
    shown = ", ".join(_code(name) for name in files[:_MAX_FILES]) or "<em>none listed</em>"
    if len(files) > _MAX_FILES:
        shown += f' <span style="{_MUTED}">and {len(files) - _MAX_FILES} more</span>'
    environment = _code(row["environment_id"]) if row.get("environment_id") else "<em>none</em>"
    if row.get("environment_version_id"):
        environment += f' <span style="{_MUTED}">version</span> '
        environment += _code(row["environment_version_id"])
    default_bundle = row.get("default_resource_bundle_id") or ""
    bundles = [default_bundle] if default_bundle else []
    bundles += [b for b in row.get("resource_bundle_ids") or [] if b not in bundles]
    bundle_text = ", ".join(_code(b) for b in bundles) or "<em>none</em>"
    if default_bundle and len(bundles) > 1:
        bundle_text += f' <span style="{_MUTED}">(first is the default)</span>'
    rows = [
        (f"files ({len(files)})", shown),
        ("default environment", environment),
        ("resource bundle", bundle_text),
        ("publisher", _e(row.get("publisher") or "") or "<em>unknown</em>"),
        ("category", _e(row.get("category") or "") or "<em>none</em>"),
    ]
    return _rows(rows)
