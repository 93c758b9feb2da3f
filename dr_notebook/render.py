"""Markdown to sanitized HTML (the cards that show it are in ``cards.py``).

README text is written by other users of a shared DataRobot, so it is hostile input: Jupyter
executes scripts and event handlers in HTML a live kernel displays. ``render_markdown`` turns
markdown into HTML with Python-Markdown and then keeps only an explicit allowlist with nh3.
Everything else the server sends (names, descriptions, tags, ids, file names) is escaped.
"""

from __future__ import annotations

import atexit
import base64
import posixpath
import re
from collections.abc import Callable, Iterable, Mapping
from html import escape
from urllib.parse import unquote, urlsplit

import nh3

from dr_notebook.markdown_process import IN_PROCESS_CHARS, Converter, convert

__all__ = [
    "ALLOWED_ATTRIBUTES",
    "ALLOWED_ATTRIBUTE_VALUES",
    "ALLOWED_TAGS",
    "IMAGE_URL_SCHEMES",
    "INLINE_IMAGE_TYPES",
    "LINK_REL",
    "LINK_URL_SCHEMES",
    "MAX_INLINE_IMAGES_BYTES",
    "MAX_INLINE_IMAGE_BYTES",
    "MAX_README_BYTES",
    "RENDER_TIMEOUT",
    "image_data_uri",
    "readme_image_path",
    "render_markdown",
    "safe_url",
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
atexit.register(_converter.stop)  # the helper process ends with this one, not after it


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
