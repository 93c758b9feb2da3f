"""``app.show()`` in a real JupyterLab and Notebook 7: a Streamlit app shown inline renders its
own content inside the output cell's iframe, and answers a click over its websocket; directly
(the sandbox's proxy on its own origin) and through the Jupyter server's jupyter-server-proxy
(the iframe on Jupyter's origin, as on a remote JupyterHub)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest
from test_browser_frameworks import STREAMLIT_APP, frameworks, start  # noqa: F401

from dr_notebook.sandbox.testing.proxy import Jupyter, free_port, jupyter_server, serve

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "browser"
APP_PATH = "/custom_applications/abc/"
KERNEL_IDLE = """() => {
    const app = window.jupyterapp;
    const w = app && app.shell.currentWidget;
    return !!(w && w.sessionContext && w.sessionContext.session
              && w.sessionContext.session.kernel
              && w.sessionContext.session.kernel.status === 'idle');
}"""
RUN_ALL = "() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }"
WIDGET = "application/vnd.jupyter.widget-view+json"
RUN_IN_KERNEL = """async (code) => {
    const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
    const reply = await kernel.requestExecute({code}).done;
    return reply.content.status;
}"""
OUTPUTS = """() => window.jupyterapp.shell.currentWidget.content.widgets
    .filter(c => c.model.type === 'code').flatMap(c => c.model.outputs.toJSON())"""


@dataclass
class Setup:
    """The Streamlit app behind the sandbox's proxy, and a Jupyter server serving notebooks."""

    front_url: str
    front_port: int
    jupyter: Jupyter
    root: Path


@pytest.fixture(scope="module")
def setup(
    frameworks: Path,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Setup]:
    root = tmp_path_factory.mktemp("show")
    (root / "app.py").write_text(STREAMLIT_APP)
    port = free_port()
    argv = [str(frameworks), "-m", "streamlit", "run", str(root / "app.py")]
    argv += [f"--server.port={port}", "--server.address=127.0.0.1", "--server.headless=true"]
    argv += ["--browser.gatherUsageStats=false"]
    started: list[Any] = []
    try:
        upstream = start(started, argv, port)
        with (
            serve("front", env={"DR_PROXY_UPSTREAM": upstream}) as front,
            jupyter_server(root) as jupyter,
        ):
            assert front.port is not None
            yield Setup(front.url, front.port, jupyter, root)
    finally:
        for process in started:
            process.terminate()
            process.wait(15)


def notebook(setup: Setup, name: str, link_base: str) -> str:
    """A notebook whose one cell shows the app inline (``link_base``: how links go)."""
    url = setup.front_url + APP_PATH
    source = (
        "from dr_notebook.app_links import set_link_base\n"
        "from dr_notebook.models import Application\n"
        f"set_link_base({link_base!r})\n"
        f"app = Application(id='abc', name='Streamlit inline', status='running', "
        f"application_url={url!r})\n"
        "app.show(height=420)"
    )
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nb.cells.append(nbformat.v4.new_code_cell(source))
    nbformat.write(nb, setup.root / name)
    return name


@pytest.mark.parametrize("route", ["direct", "jupyter-server-proxy"])
@pytest.mark.parametrize("frontend", ["lab", "notebook7"])
def test_streamlit_shown_inline_renders_and_answers_over_its_websocket(
    browser: Any, setup: Setup, frontend: str, route: str
) -> None:
    jupyter = setup.jupyter
    proxied = jupyter.proxied(setup.front_port)
    base = "direct" if route == "direct" else proxied
    name = notebook(setup, f"show-{frontend}-{route}.ipynb", base)
    where = f"lab/tree/{name}" if frontend == "lab" else f"notebooks/{name}"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    try:
        page.goto(f"{jupyter.url}{where}?token={jupyter.token}")
        page.wait_for_function(KERNEL_IDLE, timeout=90_000)
        page.evaluate(RUN_ALL)
        frame_element = page.locator("iframe.dr-notebook-app-frame")
        frame_element.wait_for(timeout=60_000)
        src = frame_element.get_attribute("src") or ""
        expected = proxied + APP_PATH if route != "direct" else setup.front_url + APP_PATH
        assert src == expected, src
        assert "allow-scripts" in (frame_element.get_attribute("sandbox") or "")
        bar = page.locator(".dr-notebook-app-bar")
        assert "Streamlit inline" in bar.inner_text() and "running" in bar.inner_text()
        assert bar.get_by_role("link", name="Open in a new tab").get_attribute("href") == src
        app = page.frame_locator("iframe.dr-notebook-app-frame")
        app.get_by_text("Hello through the proxy").wait_for(timeout=60_000)
        app.get_by_role("button", name="Press").click()
        app.get_by_text("pressed over the websocket").wait_for(timeout=30_000)
        outputs = page.evaluate(OUTPUTS)
        assert [o for o in outputs if o.get("output_type") == "error"] == []
        assert jupyter.token not in json.dumps(outputs)
        page.screenshot(path=str(ARTIFACTS / f"app-show-{frontend}-{route}.png"))
    finally:
        page.screenshot(path=str(ARTIFACTS / f"last-app-show-{frontend}-{route}.png"))
        try:
            page.evaluate(
                "() => window.jupyterapp && window.jupyterapp.serviceManager.sessions.shutdownAll()"
            )
        finally:
            context.close()


def test_a_launch_is_one_live_widget_that_becomes_the_app(lab_page: Any) -> None:
    """The demo's JupyterLab (its sandbox runs apps): ``%dr_new_app --show`` draws the launch
    in one widget, updated in place, which ends as the Streamlit app in an iframe."""
    name = f"Shown inline {uuid.uuid4().hex[:6]}"
    notebook = lab_page.lab.write_notebook(
        "launch-show.ipynb",
        [
            ("code", "%load_ext dr_notebook"),
            ("code", f'%dr_new_app Streamlit App Base --name "{name}" --show -o app'),
        ],
    )
    lab_page.open(notebook)
    lab_page.run_all(wait=False)
    page = lab_page.page
    widget = page.locator(".jp-OutputArea-output .widget-html-content").last
    launch = widget.locator(".dr-notebook-launch")
    launch.wait_for(timeout=120_000)
    seen = {launch.inner_text()}
    frame = widget.locator("iframe.dr-notebook-app-frame")
    deadline = time.monotonic() + 300  # a first build of Streamlit's environment included
    try:
        while not frame.count() and time.monotonic() < deadline:
            if launch.count():
                seen.add(launch.inner_text())
            page.wait_for_timeout(200)
            assert not lab_page.errors(), lab_page.errors()
        frame.wait_for(timeout=1_000)
        assert any("building" in text for text in seen), seen
        assert name in widget.inner_text() and "running" in widget.inner_text()
        app = page.frame_locator(".widget-html-content iframe.dr-notebook-app-frame")
        app.get_by_text("Score a CSV file").first.wait_for(timeout=90_000)
        outputs = lab_page.outputs()
        widgets = [o for o in outputs if WIDGET in o.get("data", {})]
        assert len(widgets) == 1, outputs  # one widget: the steps, then the app
        lab_page.wait_for_cells(timeout=60)
        assert lab_page.errors() == []
        page.screenshot(path=str(ARTIFACTS / "app-show-launch-widget.png"))
    finally:
        status = page.evaluate(RUN_IN_KERNEL, f'%dr_app "{name}" --delete')
    assert status == "ok"
