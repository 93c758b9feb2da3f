"""render_markdown keeps README formatting, drops everything outside the allowlist; cards."""

from __future__ import annotations

import base64
import gc
import sys
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import html5lib
import pytest
from markdown_faults import DEEP, SLOW, FaultExtension

import dr_notebook as drn
from dr_notebook import cards, markdown_process, render
from dr_notebook.cards import source_html, template_html
from dr_notebook.markdown_process import EXTENSIONS, IN_PROCESS_CHARS, Converter, convert
from dr_notebook.models import ApplicationSource, Template
from dr_notebook.render import render_markdown, safe_url


def parse(html: str) -> list[tuple[str, dict[str, str]]]:
    fragment = html5lib.parseFragment(
        html, container="div", treebuilder="etree", namespaceHTMLElements=False
    )
    return [
        (el.tag, dict(el.attrib))
        for el in fragment.iter()
        if isinstance(el.tag, str) and el.tag != "DOCUMENT_FRAGMENT"
    ]


def test_allowlist_is_pinned() -> None:
    """Widening the allowlist must be a deliberate change to this test."""
    assert set(render.ALLOWED_TAGS) == {
        "h1", "h2", "h3", "h4", "h5", "h6", "p", "ul", "ol", "li", "dl", "dt", "dd",
        "blockquote", "em", "strong", "b", "i", "code", "pre", "kbd", "sub", "sup", "del",
        "ins", "hr", "br", "table", "caption", "thead", "tbody", "tfoot", "tr", "th", "td",
        "details", "summary", "a", "img",
    }  # fmt: skip
    assert {k: set(v) for k, v in render.ALLOWED_ATTRIBUTES.items()} == {
        "a": {"href", "title"},
        "img": {"src", "alt", "title", "width", "height"},
        "th": {"colspan", "rowspan"},
        "td": {"colspan", "rowspan"},
        "code": {"class"},
    }
    assert {
        tag: {a: set(v) for a, v in attrs.items()}
        for tag, attrs in render.ALLOWED_ATTRIBUTE_VALUES.items()
    } == {
        "th": {"align": {"left", "center", "right"}},
        "td": {"align": {"left", "center", "right"}},
    }
    links, images, rel = render.LINK_URL_SCHEMES, render.IMAGE_URL_SCHEMES, render.LINK_REL
    assert links == {"http", "https", "mailto"}
    assert images == {"https"}
    assert rel == "noopener noreferrer nofollow"


README = """# Churn app

Some *emphasis*, **strong**, `inline code` and <kbd>Ctrl</kbd>+<kbd>C</kbd>, H<sub>2</sub>O.

## Setup

| Step | Command | Time |
|:-----|:-------:|-----:|
| 1    | `pip`   | 2 s  |

```python
import datarobot
```

- [Docs](https://docs.datarobot.com/en "DataRobot docs")
- [Mail](mailto:team@example.com)
- ![diagram](https://example.com/diagram.png)

> Note: keep it <del>simple</del> <ins>short</ins>.

<details><summary>More</summary>Hidden text</details>

---
"""


def test_formatting_survives() -> None:
    html = render_markdown(README)
    elements = parse(html)
    tags = [tag for tag, _ in elements]
    for tag in ("h1", "h2", "table", "th", "td", "pre", "code", "blockquote", "ul", "li", "em"):
        assert tag in tags
    for tag in ("strong", "kbd", "sub", "del", "ins", "details", "summary", "hr", "img", "a"):
        assert tag in tags
    aligns = [attrs.get("align") for tag, attrs in elements if tag == "th"]
    assert aligns == ["left", "center", "right"]
    assert ("code", {"class": "language-python"}) in elements
    links = [attrs for tag, attrs in elements if tag == "a"]
    assert links[0] == {
        "href": "https://docs.datarobot.com/en",
        "title": "DataRobot docs",
        "rel": "noopener noreferrer nofollow",
    }
    assert links[1]["href"] == "mailto:team@example.com"
    assert ("img", {"alt": "diagram", "src": "https://example.com/diagram.png"}) in elements
    assert "import datarobot" in html


@pytest.mark.parametrize(
    "markdown_text",
    [
        "[x](/api/contents)",
        "[x](../files/secret.txt)",
        "[x](#section)",
        "[x](//evil.example/x)",
        "[x](https:relative)",
        "[x](https:/one-slash)",
        "[x](javascript:alert(1))",
        "[x](JAVASCRIPT:alert(1))",
        '<a href="java&#x09;script:alert(1)">x</a>',
        '<a href="&#x01; javascript:alert(1)">x</a>',
        "[x](data:text/html,<script>alert(1)</script>)",
        "[x](vbscript:msgbox)",
        "[x](ftp://example.com/file)",
        "[x](file:///etc/passwd)",
    ],
)
def test_unsafe_or_relative_link_urls_are_dropped(markdown_text: str) -> None:
    links = [attrs for tag, attrs in parse(render_markdown(markdown_text)) if tag == "a"]
    assert links == [{"rel": "noopener noreferrer nofollow"}]


@pytest.mark.parametrize(
    "src", ["http://example.com/a.png", "a.png", "/files/a.png", "data:image/png;base64,AAAA"]
)
def test_images_need_https(src: str) -> None:
    images = [attrs for tag, attrs in parse(render_markdown(f"![alt]({src})")) if tag == "img"]
    assert images == [{"alt": "alt"}]


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 40
GIF = b"GIF89a" + b"\x00" * 40
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 40
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><circle r="4"/></svg>'
HTML = b"<html><body><script>alert(1)</script></body></html>"


def image_srcs(html: str) -> list[str | None]:
    return [attrs.get("src") for tag, attrs in parse(html) if tag == "img"]


@pytest.mark.parametrize(
    ("path", "data", "mime"),
    [("docs/a.png", PNG, "image/png"), ("shot.JPG", JPEG, "image/jpeg"),
     ("img/x.jpeg", JPEG, "image/jpeg"), ("anim.gif", GIF, "image/gif"),
     ("pic.webp", WEBP, "image/webp")],
)  # fmt: skip
def test_template_images_named_by_relative_path_are_inlined(path, data, mime) -> None:
    html = render_markdown(f"# T\n\n![shot](./{path})", images={path: data})
    assert image_srcs(html) == [f"data:{mime};base64,{base64.b64encode(data).decode()}"]


@pytest.mark.parametrize(
    ("path", "data"),
    [("docs/a.png", SVG), ("docs/a.png", HTML), ("docs/a.svg", SVG), ("docs/a.png", b""),
     ("docs/a.gif", PNG), ("docs/a.png", PNG + b"\x00" * render.MAX_INLINE_IMAGE_BYTES),
     ("docs/a.txt", PNG)],
)  # fmt: skip
def test_images_that_are_not_what_their_name_says_or_too_big_are_dropped(path, data) -> None:
    html = render_markdown(f"![shot]({path})", images={path: data})
    assert image_srcs(html) == [None]
    assert "data:" not in html
    # Positive control: the same reference with real PNG bytes under a .png name is inlined.
    assert "data:image/png" in render_markdown("![s](docs/ok.png)", images={"docs/ok.png": PNG})


@pytest.mark.parametrize(
    "src", ["../a.png", "docs/../../a.png", "/docs/a.png", "//host/a.png", "docs/a.png?x=1",
            "docs/a.png#frag", "file:docs/a.png", "other.png"],
)  # fmt: skip
def test_only_paths_inside_the_template_that_it_has_are_inlined(src: str) -> None:
    images = {"docs/a.png": PNG, "a.png": PNG, "../a.png": PNG, "/docs/a.png": PNG}
    assert image_srcs(render_markdown(f"![s]({src})", images=images)) == [None]


def test_data_urls_are_made_only_for_inlined_images() -> None:
    b64 = base64.b64encode(PNG).decode()
    html = render_markdown(
        f"[link](docs/a.png) <a href='docs/a.png'>raw</a> ![own](data:image/png;base64,{b64})"
        f" <img src='data:image/png;base64,{b64}'> ![ok](docs/a%20b.png)",
        images={"docs/a.png": PNG, "docs/a b.png": PNG},
    )
    links = [attrs for tag, attrs in parse(html) if tag == "a"]
    assert links == [{"rel": "noopener noreferrer nofollow"}] * 2
    assert image_srcs(html) == [None, None, f"data:image/png;base64,{b64}"]


def test_inlined_images_share_one_budget() -> None:
    size = render.MAX_INLINE_IMAGE_BYTES - len(PNG)
    images = {f"i{n}.png": PNG + bytes([n]) * size for n in range(6)}
    html = render_markdown(" ".join(f"![x](i{n}.png) ![again](i0.png)" for n in range(6)),
                           images=images)  # fmt: skip
    srcs = image_srcs(html)
    fit = render.MAX_INLINE_IMAGES_BYTES // render.MAX_INLINE_IMAGE_BYTES
    # i0 counts once however often it is shown; i1.. until the budget is spent.
    assert len(set(filter(None, srcs))) == fit
    assert [bool(src) for src in srcs[::2]] == [n < fit for n in range(6)]
    assert all(srcs[1::2])


def test_attribute_values_are_checked() -> None:
    html = render_markdown(
        '<img src="https://example.com/a.png" width="120" height="50%" title="t">'
        '<table><tr><td colspan="2" rowspan="x" align="justify">c</td></tr></table>'
        '<code class="hljs language-rust other">x</code><pre class="language-js">y</pre>'
    )
    elements = parse(html)
    assert ("img", {"src": "https://example.com/a.png", "width": "120", "title": "t"}) in elements
    assert ("td", {"colspan": "2"}) in elements
    assert ("code", {"class": "language-rust"}) in elements
    assert ("pre", {}) in elements


def test_no_style_id_class_or_generic_attributes() -> None:
    html = render_markdown(
        '<p style="color:red" id="x" class="c" lang="en" title="t" dir="rtl" data-x="1">hi</p>'
        '<h2 id="h" class="c">T</h2><div style="position:fixed">d</div><span class="s">s</span>'
    )
    elements = parse(html)
    assert {tag for tag, _ in elements} == {"p", "h2"}
    assert all(attrs == {} for _, attrs in elements)
    assert "d" in html and "s" in html


def test_forms_media_and_embedded_content_are_gone() -> None:
    html = render_markdown(
        "<form><input value=x><button>b</button></form><iframe src=https://a.example></iframe>"
        "<svg><circle r=1 /></svg><math><mi>x</mi></math><video src=https://a.example/v>"
        "<object data=https://a.example/o></object><style>p{}</style><script>s()</script>"
        "<base href=https://a.example/><meta http-equiv=refresh><link rel=stylesheet>"
    )
    assert parse(html) == [] or {tag for tag, _ in parse(html)} <= {"p"}
    assert "s()" not in html and "p{}" not in html


def test_safe_url_follows_the_url_standard_preprocessing() -> None:
    assert safe_url(" \x00https://a.example/x\x1f ", {"https"}) == "https://a.example/x"
    assert safe_url("ht\ttp\ns://a.example/", {"https"}) == "https://a.example/"
    assert safe_url("https://a.example/", {"http"}) is None
    assert safe_url("mailto:a@b.example", {"mailto"}) == "mailto:a@b.example"
    assert safe_url("https://", {"https"}) is None
    assert safe_url("https://[broken/", {"https"}) is None


def test_huge_readme_is_cut_with_a_note() -> None:
    text = ("word " * 200 + "\n\n") * 1200  # 1,202,400 bytes = 1.15 MiB
    html = render_markdown(text)
    assert "README cut: showing the first 1.0 MiB of 1.1 MiB." in html
    assert len(html.encode()) < 1.1 * 1024 * 1024
    small = render_markdown("é" * 10, max_bytes=5)
    assert small.startswith("<p>éé</p>")
    assert "README cut" in small


def test_empty_readme() -> None:
    assert render_markdown("") == ""
    assert render_markdown(None) == ""


def test_render_markdown_is_public() -> None:
    assert drn.render_markdown is render_markdown


def _template(**overrides: object) -> Template:
    data = {
        "id": "65f1c0ffee0000000000abcd",
        "name": "Churn <app> & co",
        "description": 'Predicts "churn"',
        "templateType": "customApplicationTemplate",
        "templateSubType": "streamlit",
        "enabled": False,
        "defaultResourceBundleId": "cpu.small",
        "defaultEnvironment": {"environmentId": "env1", "environmentVersionId": "ver1"},
        "templateMetadata": {
            "readme": "# Hello\n\n<script>alert(1)</script>",
            "tags": ["Python", "<b>bold</b>"],
            "resourceBundleIds": ["cpu.small", "cpu.large"],
        },
        "items": [{"id": f"f{i}", "name": f"file{i}.py"} for i in range(35)],
        "publisher": "DataRobot",
        "category": "Churn",
    }
    data.update(overrides)
    return Template.from_api(data)


def test_template_card_shows_the_fields_escaped() -> None:
    t = _template()
    html = t._repr_html_()
    assert html == template_html(t)
    for text in (
        "Churn &lt;app&gt; &amp; co",
        "Predicts &quot;churn&quot;",
        "customApplicationTemplate / streamlit",
        "disabled",
        "65f1c0ffee0000000000abcd",
        "&lt;b&gt;bold&lt;/b&gt;",
        "env1",
        "ver1",
        "cpu.small",
        "cpu.large",
        "files (35)",
        "file0.py",
        "and 5 more",
        "DataRobot",
        "<h1>Hello</h1>",
    ):
        assert text in html, text
    assert "file34.py" not in html
    assert "<script" not in html
    assert "var(--jp-border-color2" in html and "var(--jp-ui-font-color1" in html


def test_template_card_without_readme() -> None:
    t = _template(templateMetadata={"tags": []}, enabled=True)
    html = template_html(t)
    assert "No README." in html and "enabled" in html and "disabled" not in html


def test_source_card() -> None:
    source = ApplicationSource.from_api(
        {
            "id": "aaaabbbbccccddddeeeeffff",
            "name": "Churn <source>",
            "createdAt": "2026-01-02T03:04:05Z",
            "creatorFirstName": "Ada",
            "creatorLastName": "Lovelace",
            "permissions": ["CAN_VIEW", "CAN_UPDATE"],
            "latestVersion": {
                "id": "111122223333444455556666",
                "label": "v1",
                "items": [{"id": "i1", "fileName": "app.py", "filePath": "app/app.py"}],
            },
        }
    )
    html = source._repr_html_()
    assert html == source_html(source)
    for text in (
        "aaaabbbbccccddddeeeeffff",
        "Churn &lt;source&gt;",
        "v1",
        "111122223333444455556666",
        "app/app.py",
        "CAN_VIEW",
        "CAN_UPDATE",
        "2026-01-02 03:04 UTC by Ada Lovelace",
    ):
        assert text in html, text
    assert source.created_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def test_long_readme_is_formatted_like_a_short_one() -> None:
    """Long text is converted in a helper process; the HTML is the same."""
    section = (
        "## Part\n\nSome *text* with [a link](https://example.com/x).\n\n| a |\n|---|\n| 1 |\n\n"
    )
    long_text = section * 40
    assert len(long_text) > IN_PROCESS_CHARS
    converted = convert(long_text)
    assert converted is not None
    assert render_markdown(long_text) == render._sanitize(converted)
    assert render_markdown(long_text).count("<h2>") == 40


FAULTS_SCRIPT = Path(__file__).with_name("markdown_faults.py")


@pytest.fixture
def faulty_markdown(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Markdown with the SLOW and DEEP lines, in this process and in the helper process."""
    monkeypatch.setattr(markdown_process, "EXTENSIONS", [*EXTENSIONS, FaultExtension()])
    monkeypatch.setattr(markdown_process, "_local", threading.local())
    converter = Converter([sys.executable, str(FAULTS_SCRIPT)])
    monkeypatch.setattr(render, "_converter", converter)
    yield
    converter.stop()


# Short text is converted in process, where nothing could stop a slow conversion: the slow
# case needs text long enough for the helper process.
@pytest.mark.parametrize(
    ("fault", "padding"),
    [(SLOW, IN_PROCESS_CHARS), (DEEP, 0), (DEEP, IN_PROCESS_CHARS)],
    ids=["slow-helper", "deep-in-process", "deep-helper"],
)
def test_slow_or_deep_markdown_falls_back_to_plain_text(
    faulty_markdown: None, fault: str, padding: int
) -> None:
    hostile = f"{fault}\n\n<script>alert(1)</script>\n" + " " * padding
    # Collected garbage first: a finalizer that the collector runs at the bottom of the deep
    # recursion reports its warning with no stack left, which pytest's hook cannot process.
    gc.collect()
    html = render_markdown(hostile, timeout=0.5)
    assert "README shown as plain text" in html
    assert html.startswith("<pre>") and "&lt;script&gt;" in html and "<script" not in html
    # control: the same text without the fault is formatted
    assert "README shown as plain text" not in render_markdown(hostile.replace(fault, "x"))
    # what comes next is formatted again: a fresh Markdown instance, a new helper process
    after = "# Next\n\nIntro.\n\n- one\n- two\n\n" + "word " * (padding // 5)
    html = render_markdown(after)
    assert html.startswith("<h1>Next</h1>") and "<li>two</li>" in html, html[:200]


def test_super_linear_markdown_falls_back_to_plain_text() -> None:
    """Real input that today's Python-Markdown takes tens of seconds on (its link scanning)."""
    html = render_markdown("[a](b " * 10_000 + "\n<script>alert(1)</script>", timeout=0.5)
    assert "README shown as plain text" in html
    assert html.startswith("<pre>") and "<script" not in html
    assert "<h1>Next</h1>" in render_markdown("# Next\n\n" + "word " * 400)


def test_long_readme_without_child_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where no helper process may start (a daemon process), long text is converted in place."""

    def refuse(self: object) -> None:
        raise OSError("cannot start a process here")

    converter = Converter()
    monkeypatch.setattr(Converter, "_start", refuse)
    monkeypatch.setattr(render, "_converter", converter)
    assert "<h1>Title</h1>" in render_markdown("# Title\n\n" + "word " * 400)


def test_long_readme_in_a_script_does_not_rerun_the_script(tmp_path) -> None:
    """The helper process is a plain subprocess: a script without a main guard runs once."""
    import subprocess
    import sys

    marker = tmp_path / "runs.txt"
    script = tmp_path / "script.py"
    script.write_text(
        "from dr_notebook import render_markdown\n"
        f"open({str(marker)!r}, 'a').write('run\\n')\n"
        "html = render_markdown('# Title\\n\\n' + 'word ' * 400)\n"
        "assert '<h1>Title</h1>' in html\n"
    )
    subprocess.run([sys.executable, str(script)], check=True, timeout=60)
    assert marker.read_text().splitlines() == ["run"]


# the application card


def card_links(fragment: str) -> list[dict[str, str]]:
    """The <a> elements of a card as a browser's parser sees them."""
    tree = html5lib.parseFragment(fragment, namespaceHTMLElements=False)
    return [dict(a.attrib) for a in tree.iter("a")]


@pytest.mark.parametrize(
    "url",
    ["javascript:alert(1)", " JAVASCRIPT:alert(1)", "data:text/html,<b>x</b>", "/relative/app",
     "https:no-host", "vbscript:x", "java\tscript:alert(1)"],
)  # fmt: skip
def test_the_card_links_only_http_and_https(url: str) -> None:
    app = drn.Application.from_api({"id": "a1", "name": "x", "status": "running",
                                     "applicationUrl": url})  # fmt: skip
    fragment = app._repr_html_() or ""
    assert card_links(fragment) == []
    assert "Open application" not in fragment


def test_the_card_escapes_and_links_a_real_url() -> None:
    app = drn.Application.from_api({
        "id": "a1", "name": "<script>alert('n')</script>", "status": "<img src=x onerror=y>",
        "applicationUrl": 'https://apps.example.com/custom_applications/a1/?q="><script>',
        "customApplicationSourceId": "s1", "customApplicationSourceVersionId": "v1",
        "createdAt": "2024-05-01T10:00:00Z", "resources": {"resourceLabel": "cpu.small"},
    })  # fmt: skip
    fragment = app._repr_html_() or ""
    [link] = card_links(fragment)  # positive control: a safe URL is linked
    assert link["href"] == 'https://apps.example.com/custom_applications/a1/?q="><script>'
    assert link["target"] == "_blank" and link["rel"] == "noopener noreferrer"
    assert "text-decoration:underline" in link["style"]  # looks like a link in widgets too
    assert "overflow-wrap:anywhere" in fragment  # a long URL wraps, not cut off
    tree = html5lib.parseFragment(fragment, namespaceHTMLElements=False)
    assert not list(tree.iter("script")) and not list(tree.iter("img"))
    assert "2024-05-01 10:00 UTC" in fragment and "cpu.small" in fragment
    assert "s1" in fragment and "v1" in fragment


def test_the_status_badge_takes_any_value() -> None:
    assert "running" in cards.status_badge("running")
    unknown = cards.status_badge("hibernating")
    assert "hibernating" in unknown and cards.status_badge(None).count("unknown") == 1
    assert unknown != cards.status_badge("failed").replace("failed", "hibernating")
