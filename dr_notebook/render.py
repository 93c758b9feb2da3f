"""Markdown to sanitized HTML, and the rich (HTML) display of templates and sources.

README text is written by other users of a shared DataRobot, so it is hostile input: Jupyter
executes scripts and event handlers in HTML a live kernel displays. ``render_markdown`` turns
markdown into HTML with Python-Markdown and then keeps only an explicit allowlist with nh3.
Everything else the server sends (names, descriptions, tags, ids, file names) is escaped.
"""

from __future__ import annotations

import base64
import posixpath
import re
from collections.abc import Callable, Iterable, Mapping
from html import escape
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

import nh3

from dr_notebook.markdown_process import IN_PROCESS_CHARS, Converter, convert

if TYPE_CHECKING:
    from dr_notebook.models import Application, ApplicationSource, Template

__all__ = [
    "ALLOWED_ATTRIBUTES",
    "ALLOWED_ATTRIBUTE_VALUES",
    "ALLOWED_TAGS",
    "CHIP",
    "IMAGE_URL_SCHEMES",
    "INLINE_IMAGE_TYPES",
    "LINK_REL",
    "LINK_URL_SCHEMES",
    "MAX_INLINE_IMAGES_BYTES",
    "MAX_INLINE_IMAGE_BYTES",
    "MAX_README_BYTES",
    "MONO",
    "MUTED",
    "RENDER_TIMEOUT",
    "application_html",
    "application_link",
    "bundles_html",
    "chips",
    "code",
    "environment_html",
    "escaped",
    "image_data_uri",
    "listed",
    "readme_image_path",
    "render_markdown",
    "rows_html",
    "safe_url",
    "source_html",
    "status_badge",
    "template_html",
]

MAX_README_BYTES = 1024 * 1024
"""READMEs longer than this (UTF-8 bytes) are cut, with a visible note."""

RENDER_TIMEOUT = 5.0
"""Seconds a README may take to format; slower ones are shown as plain text, with a note."""

_TABLE_TAGS = {"table", "caption", "thead", "tbody", "tfoot", "tr", "th", "td"}
ALLOWED_TAGS: frozenset[str] = frozenset(
    {"h1", "h2", "h3", "h4", "h5", "h6", "p", "ul", "ol", "li", "dl", "dt", "dd", "blockquote"}
    | {"em", "strong", "b", "i", "code", "pre", "kbd", "sub", "sup", "del", "ins", "hr", "br"}
    | _TABLE_TAGS
    | {"details", "summary", "a", "img"}
)
"""The only elements a rendered README may contain."""

ALLOWED_ATTRIBUTES: Mapping[str, frozenset[str]] = {
    "a": frozenset({"href", "title"}),
    "img": frozenset({"src", "alt", "title", "width", "height"}),
    "th": frozenset({"colspan", "rowspan"}),
    "td": frozenset({"colspan", "rowspan"}),
    "code": frozenset({"class"}),  # only "language-*", see _filter_attribute
}
"""Attributes kept per element (values further checked by ``_filter_attribute``)."""

ALLOWED_ATTRIBUTE_VALUES: Mapping[str, Mapping[str, frozenset[str]]] = {
    "th": {"align": frozenset({"left", "center", "right"})},
    "td": {"align": frozenset({"left", "center", "right"})},
}
"""Attributes kept only with one of these exact values."""

LINK_URL_SCHEMES = frozenset({"http", "https", "mailto"})
IMAGE_URL_SCHEMES = frozenset({"https"})
LINK_REL = "noopener noreferrer nofollow"

# Elements whose whole content goes, not just the tags (text inside them is never README prose).
_DROP_WITH_CONTENT = frozenset(
    {"script", "style", "template", "svg", "math", "iframe", "object", "embed", "noscript"}
    | {"noembed", "noframes", "textarea", "title", "xmp", "select"}
)

INLINE_IMAGE_TYPES: Mapping[str, str] = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
}
"""Raster images a README may show from its template's own files (never SVG: it can script)."""

MAX_INLINE_IMAGE_BYTES = 256 * 1024
"""Larger template images are not inlined."""

MAX_INLINE_IMAGES_BYTES = 1024 * 1024
"""At most this many image bytes are inlined into one README (they are saved with the notebook)."""

# The first bytes each image type starts with (WebP: "RIFF", a size, then "WEBP").
_MAGIC: Mapping[str, re.Pattern[bytes]] = {
    "image/png": re.compile(rb"\x89PNG\r\n\x1a\n"),
    "image/jpeg": re.compile(rb"\xff\xd8\xff"),
    "image/gif": re.compile(rb"GIF8[79]a"),
    "image/webp": re.compile(rb"RIFF.{4}WEBP", re.DOTALL),
}

_LANGUAGE_CLASS = re.compile(r"language-[A-Za-z0-9_+#.-]{1,40}")
_SMALL_NUMBER = re.compile(r"[0-9]{1,4}")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
# The URL standard strips leading/trailing C0 controls and spaces, and removes tab/newline
# anywhere; browsers then read the scheme from what is left.
_C0_AND_SPACE = "".join(chr(c) for c in range(0x21))
_TAB_NEWLINE = re.compile("[\t\n\r]")


def safe_url(value: str, schemes: Iterable[str]) -> str | None:
    """The URL as a browser would read it, if absolute with one of ``schemes``; else None.

    Relative URLs are refused: in Jupyter they become requests to the notebook server.
    """
    url = _TAB_NEWLINE.sub("", value.strip(_C0_AND_SPACE))
    match = _SCHEME.match(url)
    if match is None or match.group(1).lower() not in schemes:
        return None
    scheme = match.group(1).lower()
    if scheme in ("http", "https"):
        # "https:foo" or "https:/x" resolve against the page's own URL: require "//host".
        rest = url[match.end() :]
        if not rest.startswith("//"):
            return None
        try:
            host = urlsplit(url).hostname
        except ValueError:
            return None
        if not host:
            return None
    return url


def readme_image_path(src: str) -> str | None:
    """The template file a relative image URL names (``./docs/a.png`` -> ``docs/a.png``), if it
    is a raster image inside the template; None for anything else (absolute, ``..``, SVG...)."""
    url = _TAB_NEWLINE.sub("", src.strip(_C0_AND_SPACE))
    if not url or _SCHEME.match(url) or any(c in url for c in "?#\\") or url.startswith("/"):
        return None
    path = posixpath.normpath(unquote(url))
    if path.startswith(("/", "../")) or path == "..":
        return None
    return path if posixpath.splitext(path)[1].lower() in INLINE_IMAGE_TYPES else None


def image_data_uri(path: str, data: bytes) -> str | None:
    """``data:`` URI of a template image, if its bytes are the type its extension says and it is
    at most ``MAX_INLINE_IMAGE_BYTES``; else None."""
    mime = INLINE_IMAGE_TYPES.get(posixpath.splitext(path)[1].lower())
    if mime is None or not data or len(data) > MAX_INLINE_IMAGE_BYTES:
        return None
    if not _MAGIC[mime].match(data):
        return None
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _filter_attribute(tag: str, attribute: str, value: str) -> str | None:
    if attribute == "href":
        return safe_url(value, LINK_URL_SCHEMES)
    if attribute == "src":
        return safe_url(value, IMAGE_URL_SCHEMES)
    if attribute == "class":
        if tag != "code":
            return None
        for token in value.split():
            if _LANGUAGE_CLASS.fullmatch(token):
                return token
        return None
    if attribute in ("width", "height", "colspan", "rowspan"):
        return value if _SMALL_NUMBER.fullmatch(value.strip()) else None
    return value


def _cleaner(
    attribute_filter: Callable[[str, str, str], str | None] = _filter_attribute,
) -> nh3.Cleaner:
    return nh3.Cleaner(
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(_DROP_WITH_CONTENT),
        attributes={"*": set(), **{tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()}},
        tag_attribute_values={
            tag: {attr: set(values) for attr, values in attrs.items()}
            for tag, attrs in ALLOWED_ATTRIBUTE_VALUES.items()
        },
        attribute_filter=attribute_filter,
        url_schemes=set(LINK_URL_SCHEMES),
        link_rel=LINK_REL,
        strip_comments=True,
    )


_CLEANER = _cleaner()


def _sanitize(html: str, images: Mapping[str, bytes] | None = None) -> str:
    if not images:
        return _CLEANER.clean(html)
    files = {p: data for name, data in images.items() if (p := readme_image_path(name))}
    inlined: dict[str, str | None] = {}
    budget = [MAX_INLINE_IMAGES_BYTES]

    def inline(path: str) -> str | None:
        if path not in inlined:
            uri = image_data_uri(path, files[path]) if path in files else None
            if uri is not None and len(files[path]) > budget[0]:
                uri = None
            budget[0] -= len(files[path]) if uri is not None else 0
            inlined[path] = uri
        return inlined[path]

    def filter_attribute(tag: str, attribute: str, value: str) -> str | None:
        kept = _filter_attribute(tag, attribute, value)
        if kept is None and tag == "img" and attribute == "src":
            # The one place a data: URL is made: from the template's own checked image bytes.
            path = readme_image_path(value)
            return inline(path) if path is not None else None
        return kept

    return _cleaner(filter_attribute).clean(html)


_converter = Converter()


def render_markdown(
    text: str | None,
    *,
    images: Mapping[str, bytes] | None = None,
    max_bytes: int = MAX_README_BYTES,
    timeout: float = RENDER_TIMEOUT,
) -> str:
    """Markdown as sanitized HTML that is safe to display in a notebook.

    Only the elements in ``ALLOWED_TAGS`` survive; links keep http/https/mailto URLs, images
    https URLs; relative URLs, scripts, event handlers, styles, ids and classes (other than
    ``language-*`` on code) are removed. Text over ``max_bytes`` is cut, and text that takes
    longer than ``timeout`` seconds to format is shown as plain text, each with a note.

    ``images`` maps template file paths (``docs/shot.png``) to their bytes: an image the README
    names by that relative path is shown inline as a ``data:`` URI if it is PNG, JPEG, GIF or
    WebP (checked on the bytes, not only the name) and small enough; nothing is fetched here.
    """
    if not text:
        return ""
    text = str(text)
    note = ""
    size = len(text.encode("utf-8"))
    if size > max_bytes:
        text = text.encode("utf-8")[:max_bytes].decode("utf-8", errors="ignore")
        note = f"<p><em>README cut: showing the first {_size(max_bytes)} of {_size(size)}.</em></p>"
    html = convert(text) if len(text) <= IN_PROCESS_CHARS else _converter.convert(text, timeout)
    if html is None:
        html = f"<pre>{escape(text, quote=False)}</pre>"
        note += (
            "<p><em>README shown as plain text: formatting it took over "
            f"{timeout:g} s or nested too deeply.</em></p>"
        )
    return _sanitize(html, images) + note


def _size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MiB"
    if n >= 1024:
        return f"{n / 1024:.0f} KiB"
    return f"{n} bytes"


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
    """A link that opens ``url`` in a new tab, only for an absolute http(s) URL ("" otherwise)."""
    safe = safe_url(url, {"http", "https"}) if url else None
    if safe is None:
        return ""
    return (
        f'<a href="{escaped(safe)}" target="_blank" rel="{APP_LINK_REL}" '
        f'class="dr-notebook-open">{escaped(label)}</a>'
    )


def application_html(application: Application) -> str:
    """A compact HTML card for an application: name, status, link, source, version, created,
    resources, and the build error when it failed.

    The "Open application" link appears only for an http/https ``application_url``; any other
    URL is shown as text and never as a link.
    """
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
        ("url", code(a.application_url) if a.application_url else ""),
        ("source", code(a.source_id) if a.source_id else ""),
        ("version", code(a.source_version_id) if a.source_version_id else ""),
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
