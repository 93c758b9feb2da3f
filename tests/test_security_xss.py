"""Hostile README text cannot execute: the XSS corpus through ``render_markdown``.

Every line of ``tests/data/xss-payloads/*.txt`` (a public XSS corpus, MIT licensed), alone
and inside markdown contexts, is rendered and the HTML is parsed the way a browser does (html5lib, a
spec-compliant parser). ``executable_findings`` then looks for anything a browser could run.
A positive control runs the same check over unsanitized Python-Markdown output.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path

import html5lib
import markdown
import nh3
import pytest

from dr_notebook.cards import source_html, template_html
from dr_notebook.models import ApplicationSource, Template
from dr_notebook.render import render_markdown

PAYLOAD_DIR = Path(__file__).resolve().parent / "data" / "xss-payloads"

# Elements that run script, load active content, submit, or change the page's base/meta.
EXECUTABLE_ELEMENTS = frozenset(
    {"script", "iframe", "frame", "frameset", "object", "embed", "applet", "svg", "math"}
    | {"form", "input", "button", "textarea", "select", "isindex", "keygen"}
    | {"base", "meta", "link", "style", "template", "portal", "xml", "import", "noscript"}
    | {"video", "audio", "source", "track", "image", "animate", "set", "handler", "listener"}
)
URL_ATTRIBUTES = frozenset(
    {"href", "src", "action", "formaction", "data", "poster", "background", "srcset", "cite"}
    | {"codebase", "longdesc", "lowsrc", "dynsrc", "ping", "manifest", "icon", "profile"}
    | {"usemap", "archive", "classid", "itemtype", "folder", "to", "values", "from", "by"}
)
SCRIPT_SCHEMES = frozenset({"javascript", "vbscript", "data", "livescript", "mocha"})
SPECIAL_SCHEMES = frozenset({"http", "https", "ftp", "ws", "wss", "file"})

# The URL standard's preprocessing: C0 controls and space trimmed from both ends, every tab
# and newline removed. Written out here, apart from render.py, so the two cannot share a mistake.
C0_CONTROLS_AND_SPACE = "".join(chr(code) for code in range(0x21))
_ACTIVE_CSS = re.compile(r"expression|javascript:|behavior|url\(", re.IGNORECASE)


def url_scheme(url: str) -> str | None:
    """The scheme the URL standard's scheme states read (lower case); None for a relative URL."""
    if not url or not (url[0].isascii() and url[0].isalpha()):
        return None
    for index, char in enumerate(url):
        if char == ":":
            return url[:index].lower()
        if not (char.isascii() and (char.isalnum() or char in "+-.")):
            return None
    return None


def url_problem(value: str) -> str | None:
    """Why a URL attribute value is unsafe (script scheme or relative), per the URL standard."""
    url = "".join(c for c in value.strip(C0_CONTROLS_AND_SPACE) if c not in "\t\n\r")
    scheme = url_scheme(url)
    if scheme is None:
        return "relative URL"
    if scheme in SCRIPT_SCHEMES:
        return f"{scheme}: URL"
    rest = url[len(scheme) + 1 :]
    if scheme in SPECIAL_SCHEMES and rest[:2] not in ("//", "\\\\", "/\\", "\\/"):
        return "relative URL (special scheme without //)"
    return None


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1].rsplit(":", 1)[-1].lower()


def _urls(attribute: str, value: str) -> Iterator[str]:
    if attribute == "srcset":
        for candidate in value.split(","):
            parts = candidate.split()
            if parts:
                yield parts[0]
    else:
        yield value


@cache
def elements(html: str) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    """(tag, attributes) of every element, as a browser's HTML parser builds them in a <div>."""
    fragment = html5lib.parseFragment(
        html, container="div", treebuilder="etree", namespaceHTMLElements=False
    )
    return tuple(
        (element.tag, tuple(element.attrib.items()))
        for element in fragment.iter()
        if isinstance(element.tag, str) and element.tag != "DOCUMENT_FRAGMENT"
    )


@cache
def rendered(text: str) -> str:
    """``render_markdown`` memoised: several tests look at the same renders."""
    return render_markdown(text)


@cache
def executable_findings(html: str) -> tuple[str, ...]:
    """What a browser could execute (or fetch relative to the notebook server) in ``html``."""
    found: list[str] = []
    for raw_tag, attributes in elements(html):
        tag = _local(raw_tag)
        if tag in EXECUTABLE_ELEMENTS:
            found.append(f"<{tag}>")
        if raw_tag.startswith("{") and not raw_tag.startswith("{http://www.w3.org/1999/xhtml}"):
            found.append(f"foreign element <{tag}>")
        for raw_name, value in attributes:
            name = _local(raw_name)
            if name.startswith("on"):
                found.append(f"{tag}[{name}]")
            elif name in URL_ATTRIBUTES:
                for url in _urls(name, value):
                    problem = url_problem(url)
                    if problem:
                        found.append(f"{tag}[{name}]: {problem}")
            elif name == "style" and _ACTIVE_CSS.search(value):
                found.append(f"{tag}[style]: active CSS")
            elif name == "http-equiv":
                found.append(f"{tag}[http-equiv]")
    return tuple(found)


def load_payloads() -> list[tuple[str, str]]:
    """(file:line, payload) for every non-blank line of every payload file."""
    if not PAYLOAD_DIR.is_dir():
        raise RuntimeError(f"XSS payload corpus not found at {PAYLOAD_DIR}")
    payloads = []
    files = sorted(PAYLOAD_DIR.glob("*.txt"))
    if not files:
        raise RuntimeError(f"no *.txt payload files in {PAYLOAD_DIR}")
    for path in files:
        text = path.read_bytes().decode("utf-8", errors="replace")
        for number, line in enumerate(text.split("\n"), 1):
            line = line.removesuffix("\r")
            if line.strip():
                payloads.append((f"{path.name}:{number}", line))
    return payloads


CONTEXTS: dict[str, Callable[[str], str]] = {
    "alone": lambda p: p,
    "heading": lambda p: f"# {p}\n\nText after.",
    "list item": lambda p: f"Intro.\n\n- first\n- {p}\n- last\n",
    "table cell": lambda p: f"| a | b |\n|:--|--:|\n| {p} | x |\n| y | z |\n",
    "link text": lambda p: f"See [{p}](https://example.com/docs).",
    "link url": lambda p: f"See [the docs]({p}) and ![image]({p}).",
    "quote": lambda p: f"> {p}\n>\n> quoted",
    "code": lambda p: f"```python\n{p}\n```\n\nand `{p}`",
}

PAYLOADS = load_payloads()


def test_corpus_is_complete() -> None:
    assert len(list(PAYLOAD_DIR.glob("*.txt"))) >= 15
    assert len(PAYLOADS) > 2500


@pytest.mark.parametrize("context", list(CONTEXTS))
def test_no_payload_renders_to_executable_html(context: str) -> None:
    wrap = CONTEXTS[context]
    failures = []
    for where, payload in PAYLOADS:
        html = rendered(wrap(payload))
        findings = executable_findings(html)
        if findings:
            failures.append(f"{where}: {findings} in {html[:200]!r}")
    assert not failures, f"{len(failures)} unsafe renders, e.g.:\n" + "\n".join(failures[:10])


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
INLINED_PNG = f"data:image/png;base64,{base64.b64encode(PNG).decode()}"
# What an inlined image URL is replaced with before the check, so that every other data: URL
# in the output is still flagged.
OWN_IMAGE = "https://inlined.invalid/own-image.png"


def with_template_images(payload: str) -> str:
    """The payload as an image URL and as text beside a real template image, rendered with the
    template's images: the payload itself is one of the template's file names too."""
    images = {"docs/shot.png": PNG, payload: PNG, "docs/evil.png": SVG_AS_PNG}
    text = f"![shot](docs/shot.png)\n\n![p]({payload}) {payload}\n\n![evil](docs/evil.png)"
    return render_markdown(text, images=images)


SVG_AS_PNG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>'


def test_no_payload_renders_to_executable_html_beside_template_images() -> None:
    failures, not_inlined = [], []
    for where, payload in PAYLOADS:
        html = with_template_images(payload)
        # The real image is inlined, unless the README fell back to plain text (too deep).
        if INLINED_PNG not in html and "README shown as plain text" not in html:
            not_inlined.append(where)
        findings = executable_findings(html.replace(INLINED_PNG, OWN_IMAGE))
        if findings:
            failures.append(f"{where}: {findings} in {html[:200]!r}")
    assert not failures, f"{len(failures)} unsafe renders, e.g.:\n" + "\n".join(failures[:10])
    assert not not_inlined, not_inlined[:10]


def test_positive_control_an_svg_named_png_would_be_caught() -> None:
    """Inlined, the SVG renamed .png would be flagged; rendered, it is not inlined at all."""
    as_uri = f"data:image/png;base64,{base64.b64encode(SVG_AS_PNG).decode()}"
    assert "data: URL" in " ".join(executable_findings(f'<img src="{as_uri}">'))
    html = with_template_images("x")
    assert "evil" in html and as_uri not in html and html.count("data:") == 1


def test_rendered_payloads_use_only_the_allowlist() -> None:
    """Stricter than executability: no element, attribute or class outside the allowlist."""
    from dr_notebook.render import ALLOWED_ATTRIBUTE_VALUES, ALLOWED_ATTRIBUTES, ALLOWED_TAGS

    problems = set()
    htmls = {rendered(wrap(payload)) for _, payload in PAYLOADS for wrap in CONTEXTS.values()}
    for html in htmls:
        for tag, attributes in elements(html):
            if tag not in ALLOWED_TAGS:
                problems.add(f"tag {tag}")
            for name, value in attributes:
                if tag == "a" and name == "rel":
                    ok = value == "noopener noreferrer nofollow"
                elif name == "class":
                    ok = tag == "code" and re.fullmatch(r"language-[\w+#.-]+", value) is not None
                else:
                    allowed = ALLOWED_ATTRIBUTES.get(tag, frozenset())
                    values = ALLOWED_ATTRIBUTE_VALUES.get(tag, {})
                    ok = name in allowed or value in values.get(name, ())
                if not ok:
                    problems.add(f"{tag}[{name}={value!r}]")
    assert not problems


def test_positive_control_flags_raw_markdown_output() -> None:
    """The check is not blind: unsanitized Python-Markdown output trips it for most payloads."""
    md = markdown.Markdown(extensions=["fenced_code", "tables"])
    flagged = sum(bool(executable_findings(md.reset().convert(p))) for _, p in PAYLOADS)
    # Measured: 1521 of 2654 lines. The rest is markup Python-Markdown escapes by itself
    # (unquoted attributes) or bare text (event handler names, JS snippets, URL-encoded strings).
    assert flagged > 0.5 * len(PAYLOADS), f"only {flagged}/{len(PAYLOADS)} flagged"
    # The same lines put into a notebook as raw HTML (what IPython.display.HTML would show).
    flagged_raw = sum(bool(executable_findings(p)) for _, p in PAYLOADS)
    assert flagged_raw > 0.5 * len(PAYLOADS), f"only {flagged_raw}/{len(PAYLOADS)} flagged"


def test_positive_control_flags_nh3_defaults() -> None:
    """nh3's default allowlist keeps relative URLs; the check notices what ours removes."""
    html = nh3.clean('<a href="/api/contents">x</a><img src="../files/a.png">')
    assert "relative URL" in " ".join(executable_findings(html))
    assert not executable_findings(render_markdown('<a href="/api/contents">x</a>'))


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<script>alert(1)</script>", "<script>"),
        ("<svg><g onload=alert(1)></g></svg>", "g[onload]"),
        ("<math><mi xlink:href='javascript:alert(1)'>x</mi></math>", "<math>"),
        ("<a href=' \x01java\tscript:alert(1)'>x</a>", "javascript: URL"),
        ("<a href='JaVaScRiPt&#x3A;alert(1)'>x</a>", "javascript: URL"),
        ("<a href='&#x0A;javascript:alert(1)'>x</a>", "javascript: URL"),
        ("<img src='data:image/svg+xml,<svg onload=alert(1)>'>", "data: URL"),
        ("<a href='vbscript:msgbox(1)'>x</a>", "vbscript: URL"),
        ("<img srcset='https://a.example/x.png 1x, javascript:alert(1) 2x'>", "javascript: URL"),
        ("<a href='/tree/secret'>x</a>", "relative URL"),
        ("<a href='https:foo'>x</a>", "relative URL"),
        ("<b onmouseover=alert(1)>x</b>", "b[onmouseover]"),
        ("<form action='https://a.example'><button>x</button></form>", "<form>"),
        ("<meta http-equiv=refresh content='0;url=https://a.example'>", "<meta>"),
        ("<p style='background:url(javascript:alert(1))'>x</p>", "active CSS"),
    ],
)
def test_check_catches_each_kind(html: str, expected: str) -> None:
    assert expected in " ".join(executable_findings(html))


def test_check_passes_safe_html() -> None:
    html = (
        '<h1>T</h1><a href="https://a.example/x" rel="noopener">a</a>'
        '<a href="mailto:x@a.example">m</a><img src="https://a.example/i.png" alt="i">'
    )
    assert executable_findings(html) == ()


def test_cards_escape_every_server_value() -> None:
    """Names, descriptions, tags, ids and file names with payloads stay text in the cards."""
    hostile = [p for _, p in PAYLOADS[:: max(1, len(PAYLOADS) // 300)]]
    for payload in hostile:
        template = Template.from_api(
            {
                "id": payload,
                "name": payload,
                "description": payload,
                "templateType": payload,
                "templateSubType": payload,
                "defaultResourceBundleId": payload,
                "defaultEnvironment": {"environmentId": payload, "environmentVersionId": payload},
                "templateMetadata": {"readme": payload, "tags": [payload, "ok"]},
                "items": [{"id": payload, "name": payload}],
                "publisher": payload,
                "category": payload,
            }
        )
        source = ApplicationSource.from_api(
            {
                "id": payload,
                "name": payload,
                "creatorFirstName": payload,
                "permissions": [payload],
                "latestVersion": {
                    "id": payload,
                    "label": payload,
                    "items": [{"id": payload, "fileName": payload, "filePath": payload}],
                },
            }
        )
        for html in (template_html(template), source_html(source)):
            assert executable_findings(html) == (), (payload, html)
