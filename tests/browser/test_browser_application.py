"""A launch in JupyterLab: %dr_new_app's card, its "Open application" link, the app's own page
in a new tab (the demo's sandbox runs applications: --run-apps), then nothing left running."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from dr_notebook.sandbox.settings import apps_dir_for
from dr_notebook.sandbox.testing import processes_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # it launches four templates

ROOT = Path(__file__).resolve().parents[2]
# The README's screenshots are rewritten only when asked (DR_NOTEBOOK_DOCS_SCREENSHOTS=1): each
# run shows a new application id, and a test run should not change tracked files.
SHOTS = ROOT / (
    "docs" if os.environ.get("DR_NOTEBOOK_DOCS_SCREENSHOTS") == "1" else "artifacts/browser"
)
RUN_IN_KERNEL = """async (code) => {
    const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
    const reply = await kernel.requestExecute({code}).done;
    return reply.content.status;
}"""


def test_open_application_link_shows_the_apps_own_page(lab_page) -> None:
    name = f"Browser Flask {uuid.uuid4().hex[:6]}"
    notebook = lab_page.lab.write_notebook(
        "launch.ipynb",
        [
            ("code", "%load_ext dr_notebook"),
            ("code", f'%dr_new_app Flask App Base --name "{name}"'),
        ],
    )
    lab_page.open(notebook)
    lab_page.run_all(timeout=240)
    assert lab_page.errors() == []
    lab_page.hide_sidebar()
    page = lab_page.page
    card = page.locator(".dr-notebook-application").first
    card.wait_for(timeout=60_000)
    assert name in card.inner_text() and "running" in card.inner_text()
    link = card.get_by_role("link", name="Open application")
    url = link.get_attribute("href")
    assert url and url.startswith("http://127.0.0.1:")
    assert link.get_attribute("target") == "_blank"
    apps = apps_dir_for(lab_page.lab.sandbox_db)
    try:
        with page.context.expect_page() as opened:
            link.click()
        app_page = opened.value
        app_page.wait_for_load_state()
        # The app answers at its applicationUrl itself, through the sandbox's proxy.
        assert app_page.url == url, app_page.url
        app_page.get_by_role("heading", name="Flask App Base").wait_for(timeout=30_000)
        assert "Connected to the DataRobot API" in app_page.inner_text("body")
        assert "simulated" not in app_page.inner_text("body")  # the app itself answered
        assert lab_page.tripwire.dialogs == []
        card.screenshot(path=str(SHOTS / "application-card.png"))
        app_page.set_viewport_size({"width": 760, "height": 180})
        app_page.screenshot(path=str(SHOTS / "application.png"))
        assert processes_in(apps)  # the application runs on this machine
    finally:
        status = page.evaluate(RUN_IN_KERNEL, f'%dr_app "{name}" --delete')
    assert status == "ok"
    assert processes_in(apps) == []


def gallery_cells(template: str) -> list[tuple[str, str]]:
    """A notebook showing the gallery searched down to ``template``."""
    return [
        ("code", "%load_ext dr_notebook"),
        (
            "code",
            "import dr_notebook as drn\n"
            "gallery = drn.TemplateGallery(drn.Client())\n"
            "gallery.wait()\n"
            f"gallery.search = {template!r}\n"
            "gallery",
        ),
    ]


# The link through JupyterLab's own address, as a remote JupyterLab needs it.
THROUGH_LAB = (
    "import os, urllib.parse\n"
    "port = urllib.parse.urlsplit(os.environ['DATAROBOT_ENDPOINT']).port\n"
    "get_ipython().run_line_magic('config', f\"DataRobotMagics.app_link_base = '/proxy/{port}'\")"
)


# (template, links, text only the app itself shows: Streamlit's needs its websocket)
LAUNCHES = [
    ("Flask App Base", "direct", "Connected to the DataRobot API"),
    ("Flask App Base", "jupyter-server-proxy", "Connected to the DataRobot API"),
    ("Streamlit App Base", "direct", "Score a CSV file"),
    ("Streamlit App Base", "jupyter-server-proxy", "Score a CSV file"),
    # Dash draws its page from /_dash-layout and its graph from a callback, both under the prefix.
    ("Churn Risk Explorer", "direct", "Churn Risk Explorer"),
    # Through Jupyter, the app learns the outer prefix from X-Forwarded-Prefix.
    ("Churn Risk Explorer", "jupyter-server-proxy", "Churn Risk Explorer"),
    # Gradio draws its page from /config and answers through its queue, under root_path.
    ("Sentiment Analyzer", "direct", "Sentiment Analyzer"),
]


@pytest.mark.parametrize(("template", "links", "text"), LAUNCHES)
def test_launch_from_the_gallery_and_open_the_app(
    lab_page, template: str, links: str, text: str
) -> None:
    cells = gallery_cells(template)
    if links == "jupyter-server-proxy":
        cells.insert(1, ("code", THROUGH_LAB))
    notebook = f"gallery-launch-{template.split()[0].lower()}-{links}.ipynb"
    lab_page.open(lab_page.lab.write_notebook(notebook, cells))
    lab_page.run_all(timeout=240)
    assert lab_page.errors() == []
    lab_page.hide_sidebar()
    page = lab_page.page
    gallery = page.locator(".dr-notebook-gallery").first
    gallery.get_by_role("button", name="Details").first.click(timeout=60_000)
    gallery.get_by_role("button", name="Launch application").click(timeout=30_000)
    card = gallery.locator(".dr-notebook-application").first
    card.wait_for(timeout=120_000)
    assert "running" in card.inner_text(), card.inner_text()
    link = card.get_by_role("link", name="Open application")
    href = link.get_attribute("href") or ""
    apps = apps_dir_for(lab_page.lab.sandbox_db)
    try:
        if links == "direct":
            assert href.startswith("http://127.0.0.1:") and "/custom_applications/" in href
        else:
            assert href.startswith("/proxy/") and "/custom_applications/" in href, href
        with page.context.expect_page() as opened:
            link.click()
        app_page = opened.value
        app_page.wait_for_load_state()
        if links == "jupyter-server-proxy":  # JupyterLab's address, then the sandbox's proxy
            assert app_page.url.startswith(lab_page.lab.base_url + "/proxy/"), app_page.url
        app_page.get_by_text(text).first.wait_for(timeout=90_000)
        if template == "Churn Risk Explorer":  # the callback's figure: plotly's legend
            app_page.locator(".legendtext", has_text="high").first.wait_for(timeout=60_000)
        if template == "Sentiment Analyzer":  # the queue's answer: the stub's label
            app_page.get_by_label("Review").fill("great service, love it")
            app_page.get_by_role("button", name="Score", exact=True).click()
            app_page.get_by_text("positive").first.wait_for(timeout=60_000)
        if links == "jupyter-server-proxy" and template == "Flask App Base":
            app_page.set_viewport_size({"width": 760, "height": 180})
            app_page.screenshot(path=str(SHOTS / "application-through-jupyter.png"))
        assert processes_in(apps)
    finally:
        status = page.evaluate(
            RUN_IN_KERNEL, "drn.Client().applications.delete(gallery.last_application)"
        )
    assert status == "ok"
    assert processes_in(apps) == []
