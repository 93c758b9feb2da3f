"""The rich (HTML) display of templates, sources and applications, and the helpers the
gallery's HTML (``gallery/html.py``) shares. Every value the server sends is escaped; README
text goes through ``render.render_markdown``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import singledispatch
from html import escape

from dr_notebook.api_model import use_card_renderer
from dr_notebook.models import Application, ApplicationSource, Template
from dr_notebook.render import render_markdown

__all__ = [
    "CHIP",
    "MONO",
    "MUTED",
    "application_html",
    "application_link",
    "bundles_html",
    "card_html",
    "chips",
    "code",
    "environment_html",
    "escaped",
    "listed",
    "rows_html",
    "source_html",
    "status_badge",
    "template_html",
]


# Cards: inline styles with JupyterLab's CSS variables; the fallbacks are theme-neutral
# (inherit / translucent grey) so the same HTML reads on light and dark VS Code and Colab.
# The helpers below are shared by these cards and the gallery (``gallery/html.py``).
_CARD = (
    "border:1px solid var(--jp-border-color2, rgba(128,128,128,.35));border-radius:6px;"
    "padding:10px 14px;margin:4px 0;max-width:980px;"
    "font-family:var(--jp-ui-font-family, system-ui, -apple-system, 'Segoe UI', sans-serif);"
    "font-size:var(--jp-ui-font-size1, 13px);color:var(--jp-ui-font-color1, inherit);"
    "background:var(--jp-layout-color1, transparent);line-height:1.45"
)
_TITLE = "font-size:1.25em;font-weight:600;margin-right:8px"
MUTED = "color:var(--jp-ui-font-color2, inherit)"
CHIP = (
    "display:inline-block;padding:0 6px;margin:1px 3px 1px 0;border-radius:9px;font-size:.85em;"
    "color:var(--jp-ui-font-color1, inherit);"
    "border:1px solid var(--jp-border-color2, rgba(128,128,128,.35))"
)
_OK = "color:var(--jp-success-color1, #2e7d32);font-weight:600"
_OFF = "color:var(--jp-warn-color1, #e65100);font-weight:600"
_GRID = "display:grid;grid-template-columns:max-content 1fr;gap:3px 14px;margin:8px 0 4px 0"
MONO = "font-family:var(--jp-code-font-family, ui-monospace, SFMono-Regular, Menlo, monospace)"
_README = (
    "border-top:1px solid var(--jp-border-color2, rgba(128,128,128,.35));"
    "margin-top:10px;padding-top:6px"
)
MAX_LISTED = 30
"""Files listed on a card before "and N more"."""


def escaped(value: object) -> str:
    """A server value as escaped HTML text (None as "")."""
    return escape("" if value is None else str(value), quote=True)


def chips(values: Iterable[object]) -> str:
    """Values (tags, permissions) as small rounded chips."""
    return "".join(f'<span style="{CHIP}">{escaped(v)}</span>' for v in values)


def code(value: object) -> str:
    """A value (an id, a file name) in the code font."""
    return f'<code style="{MONO}">{escaped(value)}</code>'


def listed(names: Iterable[object], limit: int = MAX_LISTED) -> str:
    """The first ``limit`` names in the code font, then "and N more"."""
    names = list(names)
    shown = ", ".join(code(n) for n in names[:limit])
    more = len(names) - limit
    if more > 0:
        shown += f' <span style="{MUTED}">and {more} more</span>'
    return shown


def environment_html(environment_id: str | None, version_id: str | None) -> str:
    """An environment id and its version id ("" without an id)."""
    if not environment_id:
        return ""
    shown = code(environment_id)
    if version_id:
        shown += f' <span style="{MUTED}">version</span> {code(version_id)}'
    return shown


def bundles_html(default: str | None, bundle_ids: Iterable[str]) -> str:
    """Resource bundle ids, the default first."""
    bundles = [default] if default else []
    bundles += [b for b in bundle_ids if b not in bundles]
    return ", ".join(code(b) for b in bundles)


def rows_html(rows: Iterable[tuple[str, str]]) -> str:
    """A label/value grid; rows with an empty value are left out."""
    cells = "".join(
        f'<div style="{MUTED}">{escaped(label)}</div><div>{value}</div>'
        for label, value in rows
        if value
    )
    return f'<div style="{_GRID}">{cells}</div>'


def template_html(template: Template, images: Mapping[str, bytes] | None = None) -> str:
    """A compact HTML card for a template, over its README rendered by ``render_markdown``
    (``images``: the template's image files the README shows, see ``render_markdown``)."""
    t = template
    kind = t.template_type + (f" / {t.template_sub_type}" if t.template_sub_type else "")
    state = (
        f'<span style="{_OK}">enabled</span>'
        if t.enabled
        else f'<span style="{_OFF}">disabled</span>'
    )
    env = t.default_environment
    files = [f.name or f.id for f in t.files]
    rows = [
        ("id", code(t.id)),
        ("type", escaped(kind)),
        ("status", state),
        ("tags", chips(t.tags)),
        ("publisher", escaped(t.publisher or "")),
        ("category", escaped(t.category or "")),
        ("environment", environment_html(env.environment_id, env.environment_version_id)),
        (
            "resource bundle",
            bundles_html(t.default_resource_bundle_id, t.metadata.resource_bundle_ids),
        ),
        (f"files ({len(files)})", listed(files)),
    ]
    readme = render_markdown(t.readme, images=images)
    readme_part = (
        f'<div style="{_README}">{readme}</div>'
        if readme
        else f'<div style="{_README};{MUTED}"><em>No README.</em></div>'
    )
    description = f'<div style="{MUTED}">{escaped(t.description)}</div>' if t.description else ""
    return (
        f'<div class="dr-notebook-template" style="{_CARD}">'
        f'<div><span style="{_TITLE}">{escaped(t.name or t.id)}</span></div>'
        f"{description}{rows_html(rows)}{readme_part}</div>"
    )


def source_html(source: ApplicationSource) -> str:
    """A compact HTML card for an application source: id, name, version, files, permissions."""
    s = source
    version = s.latest_version
    label = escaped(version.label or "")
    if version.id:
        label += (" " if label else "") + code(version.id)
    creator = " ".join(x for x in (s.creator_first_name, s.creator_last_name) if x)
    created = s.created_at.strftime("%Y-%m-%d %H:%M UTC") if s.created_at else ""
    files = [item.file_path or item.file_name or item.id for item in s.files]
    rows = [
        ("id", code(s.id)),
        ("version", label),
        ("created", escaped(" by ".join(x for x in (created, creator) if x))),
        (f"files ({len(files)})", listed(files)),
        ("permissions", chips(s.permissions)),
    ]
    return (
        f'<div class="dr-notebook-source" style="{_CARD}">'
        f'<div><span style="{MUTED}">application source</span></div>'
        f'<div><span style="{_TITLE}">{escaped(s.name or s.id)}</span></div>'
        f"{rows_html(rows)}</div>"
    )


_BADGE = "display:inline-block;padding:0 8px;border-radius:9px;font-size:.85em;font-weight:600"
_BADGE_COLOURS = {
    "running": "var(--jp-success-color1, #2e7d32)",
    "failed": "var(--jp-error-color1, #c62828)",
    "stopped": "var(--jp-ui-font-color2, #757575)",
}
_BADGE_BUSY = "var(--jp-warn-color1, #e65100)"
APP_LINK_REL = "noopener noreferrer"


def status_badge(status: str | None) -> str:
    """An application status as a coloured badge (any value; unknown ones in the busy colour)."""
    text = status or "unknown"
    colour = _BADGE_COLOURS.get(text.lower(), _BADGE_BUSY)
    return (
        f'<span class="dr-notebook-status" style="{_BADGE};color:{colour};'
        f'border:1px solid {colour}">{escaped(text)}</span>'
    )


def application_link(url: str | None, label: str = "Open application") -> str:
    """A link that opens ``url`` in a new tab, only for an absolute http(s) URL ("" otherwise).

    Behind a Jupyter server that proxies the sandbox, the link goes through it
    (``dr_notebook.app_links``); the URL shown as text stays the API's.
    """
    from dr_notebook.app_links import link_href

    safe = link_href(url)
    if safe is None:
        return ""
    return (
        f'<a href="{escaped(safe)}" target="_blank" rel="{APP_LINK_REL}" '
        f'class="dr-notebook-open" style="{_LINK}">{escaped(label)}</a>'
    )


def _wrapping_code(value: str) -> str:
    """A long value (a URL) in the code font, wrapped anywhere rather than cut off."""
    return (
        f'<code style="{MONO};overflow-wrap:anywhere;word-break:break-all">{escaped(value)}</code>'
    )


# Widgets' HTML does not style links: spelled out, so it reads as a link everywhere.
_LINK = "color:var(--jp-content-link-color, #1a73e8);text-decoration:underline;cursor:pointer"


def application_html(application: Application) -> str:
    """A compact HTML card for an application: name, status, link, source, version (and
    whether it is outdated, when known), created, resources, and the build error when it failed.

    The "Open application" link appears only for an http/https ``application_url``; any other
    URL is shown as text and never as a link.
    """
    from dr_notebook.app_links import THROUGH_JUPYTER, through_link_base

    a = application
    created = a.created_at.strftime("%Y-%m-%d %H:%M UTC") if a.created_at else ""
    creator = " ".join(x for x in (a.creator_first_name, a.creator_last_name) if x)
    link = application_link(a.application_url)
    resources = a.resources or {}
    shown_resources = ", ".join(
        f"{key} {escaped(resources[key])}"
        for key in ("resourceLabel", "replicas")
        if resources.get(key) is not None
    )
    rows = [
        ("id", code(a.id)),
        ("url", _wrapping_code(a.application_url) if a.application_url else ""),
        (
            "link",
            f'<span class="dr-notebook-through-jupyter" style="{MUTED}">'
            f"{escaped(THROUGH_JUPYTER)}</span>"
            if link and through_link_base(a.application_url)
            else "",
        ),
        ("source", code(a.source_id) if a.source_id else ""),
        ("version", (code(a.source_version_id) + _drift(a)) if a.source_version_id else ""),
        ("created", escaped(" by ".join(x for x in (created, creator) if x))),
        ("resources", shown_resources),
        (
            "build error",
            f'<pre style="{MONO};margin:0;white-space:pre-wrap">{escaped(a.build_error)}</pre>'
            if a.build_error
            else "",
        ),
    ]
    return (
        f'<div class="dr-notebook-application" style="{_CARD}">'
        f'<div><span style="{MUTED}">application</span></div>'
        f'<div><span style="{_TITLE}">{escaped(a.name or a.id)}</span>{status_badge(a.status)}'
        f"{' &nbsp; ' + link if link else ''}</div>"
        f"{rows_html(rows)}</div>"
    )


def _drift(application: Application) -> str:
    """After the version: whether its source has a newer one (nothing when not known)."""
    if application.outdated is None:
        return ""
    if application.outdated:
        latest = code(application.latest_source_version_id or "")
        return (f' <span class="dr-notebook-outdated" style="color:#b45309">outdated: the source '
                f"has a newer version ({latest})</span>")  # fmt: skip
    return f' <span style="{MUTED}">(latest)</span>'


@singledispatch
def card_html(entity: object) -> str | None:
    """The HTML card of an API entity: chosen by its type; None for an entity without one."""
    return None


@card_html.register
def _(entity: Template) -> str | None:
    return template_html(entity)


@card_html.register
def _(entity: ApplicationSource) -> str | None:
    return source_html(entity)


@card_html.register
def _(entity: Application) -> str | None:
    return application_html(entity)


use_card_renderer(card_html)  # entities' _repr_html_ draws these cards from now on
