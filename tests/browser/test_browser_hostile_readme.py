"""A hostile README runs no script and fetches nothing unsafe in JupyterLab, and the harness
that says so catches an unsanitized payload (positive control)."""

from __future__ import annotations

import base64
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]


def hostile_readme(marker: str) -> str:
    """Markdown whose every payload names ``marker`` (in the alert text or the URL it loads)."""
    m = marker
    return f"""# Hostile README {m}

An innocent paragraph with a [safe link](https://example.com/{m}-safe-link).

![https image](https://example.invalid/{m}-https.png)

![own screenshot](docs/{m}-own.png) ![svg as png](./docs/{m}-evil.png)
![html as png](docs/{m}-page.png) ![data url](data:image/png;base64,{OWN_PNG_B64})

<script>alert('{m}-script')</script>
<img src="x-{m}-onerror.png" onerror="alert('{m}-onerror')">
<img src="http://example.invalid/{m}-http.png" alt="plain http image">
![relative image](images/{m}-relative.png)
![http image](http://example.invalid/{m}-md-http.png)
<svg onload="alert('{m}-svg')"><circle r="4"/></svg>
<svg><animate onbegin="alert('{m}-animate')" attributeName="x" dur="1s"/></svg>
<iframe src="javascript:alert('{m}-iframe')"></iframe>
<iframe srcdoc="<script>parent.alert('{m}-srcdoc')</script>"></iframe>
<object data="javascript:alert('{m}-object')"></object>
<embed src="http://example.invalid/{m}-embed.swf">
<details open ontoggle="alert('{m}-details')"><summary>open me</summary>body</details>
<p onmouseover="alert('{m}-mouseover')" onclick="confirm('{m}-click')">hover me</p>
<input autofocus onfocus="prompt('{m}-focus')">
<body onload="alert('{m}-body')">
<math><mtext><table><mglyph><style><img src=x onerror="alert('{m}-mglyph')">
</style></mglyph></table></mtext></math>
<a href="javascript:alert('{m}-js-link')">javascript link</a>
<a href="JaVaScRiPt&colon;alert('{m}-entity-link')">entity link</a>
<a href="&#1;javascript:alert('{m}-control-link')">control link</a>
[markdown js link](javascript:alert('{m}-md-link'))
<link rel="stylesheet" href="http://example.invalid/{m}-style.css">
<style>@import url("http://example.invalid/{m}-import.css");</style>
<div style="background-image: url('http://example.invalid/{m}-bg.png')">styled</div>
<meta http-equiv="refresh" content="0; url=javascript:alert('{m}-meta')">
<form action="javascript:alert('{m}-form')"><button>go</button></form>
<video><source onerror="alert('{m}-video')"></video>
<base href="http://example.invalid/{m}-base/">

## Usage {m}

| payload | cell |
|---|---|
| <img src=y onerror="alert('{m}-table')"> | [x](javascript:alert('{m}-table-link')) |

> <img src="http://example.invalid/{m}-quote.png">
"""


OWN_PNG = ROOT / "dr_notebook/sandbox/catalogue/flask-app-base/files/docs/screenshot.png"
OWN_PNG_B64 = base64.b64encode(OWN_PNG.read_bytes()).decode()


def template_files(marker: str) -> dict[str, bytes]:
    """The hostile template's images: a real PNG, and an SVG and an HTML page named .png."""
    return {
        f"docs/{marker}-own.png": OWN_PNG.read_bytes(),
        f"docs/{marker}-evil.png": (
            f'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(\'{marker}-svg-png\')">'
            "<circle r='4'/></svg>"
        ).encode(),
        f"docs/{marker}-page.png": f"<html><script>alert('{marker}-html-png')</script>".encode(),
    }


def test_hostile_readme_is_inert_in_dr_template_and_gallery(lab_page) -> None:
    marker = f"drnxss{uuid.uuid4().hex[:10]}"
    name = lab_page.lab.write_notebook(
        "hostile.ipynb",
        [
            (
                "code",
                "import pathlib, tempfile\n"
                "import dr_notebook as drn\n"
                "client = drn.Client()\n"
                f"readme = {hostile_readme(marker)!r}\n"
                "folder = pathlib.Path(tempfile.mkdtemp())\n"
                "(folder / 'docs').mkdir()\n"
                "(folder / 'README.md').write_text(readme)\n"
                "(folder / 'start-app.sh').write_text('#!/bin/sh\\nexec streamlit run app.py\\n')\n"
                f"for path, data in {template_files(marker)!r}.items():\n"
                "    (folder / path).write_bytes(data)\n"
                "env = client.templates.resolve('Streamlit App Base').default_environment\n"
                "hostile = client.templates.create(\n"
                f"    name='Hostile {marker}', description='XSS payloads',\n"
                "    template_type='customApplicationTemplate', template_sub_type='streamlit',\n"
                "    default_environment=env, file=folder)\n"
                "hostile.id",
            ),
            ("code", "%load_ext dr_notebook\n%dr_template {hostile.id}"),
            (
                "code",
                f"gallery = drn.TemplateGallery(client)\ngallery.search = {marker!r}\n"
                "gallery.selected_id = hostile.id\ngallery",
            ),
        ],
    )
    lab_page.open(name)
    lab_page.run_all()
    assert lab_page.errors() == []
    page = lab_page.page
    heading = page.get_by_role("heading", name=f"Hostile README {marker}")
    # Rendered twice: by %dr_template and in the gallery's detail pane.
    heading.nth(1).wait_for(timeout=30_000)
    assert heading.count() == 2
    lab_page.settle()
    report = lab_page.tripwire.report(page, marker)
    lab_page.hide_sidebar()
    lab_page.screenshot("hostile-readme")
    # Only the real PNG was inlined, once per rendering; the README's own data: URL, the SVG and
    # the HTML page named .png were not.
    assert report == {
        "hooked": [], "dialogs": [], "requests": [], "dom": [], "inlined": ["png", "png"]
    }  # fmt: skip
    images = page.locator(".jp-OutputArea-output img[alt='own screenshot']")
    assert images.count() == 2
    assert all(images.nth(i).evaluate("img => img.naturalWidth > 100") for i in range(2))
    # The README did render images: the https one was requested (and only that one).
    assert any(f"{marker}-https.png" in url for url in lab_page.tripwire.requests)


def test_positive_control_catches_unsanitized_html(lab_page) -> None:
    marker = f"drnctl{uuid.uuid4().hex[:10]}"
    name = lab_page.lab.write_notebook(
        "control.ipynb",
        [
            (
                "code",
                "import base64, markdown\nfrom IPython.display import HTML\n"
                f"readme = {hostile_readme(marker)!r}\n"
                f"files = {template_files(marker)!r}\n"
                "planted = ''.join(\n"
                "    f'<img src=\"data:image/png;base64,{base64.b64encode(data).decode()}\">'\n"
                "    for data in files.values())\n"
                "HTML(markdown.markdown(readme) + planted)",
            ),
        ],
    )
    lab_page.open(name)
    lab_page.run_all()
    assert lab_page.errors() == []
    lab_page.page.get_by_role("heading", name=f"Hostile README {marker}").wait_for()
    lab_page.settle()
    report = lab_page.tripwire.report(lab_page.page, marker)
    # Every detector of the harness sees the raw payload.
    assert any(f"{marker}-onerror" in call for call in report["hooked"]), report
    assert any(f"{marker}-mouseover" in call for call in report["hooked"]), report
    assert any(f"{marker}-http.png" in url for url in report["requests"]), report
    assert any(f"{marker}-relative.png" in url for url in report["requests"]), report
    assert any(item.startswith("attribute on") for item in report["dom"]), report
    assert any(item.startswith("href=javascript") for item in report["dom"]), report
    # Images inlined without the byte check: the SVG and the HTML page named .png are caught
    # (the real PNG, planted and in the README's own data: URL, passes).
    assert report["inlined"] == ["png", "png"], report
    assert sum(item.startswith("inlined non-image") for item in report["dom"]) == 2, report
