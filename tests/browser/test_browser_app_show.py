"""``app.show()`` in a real JupyterLab and Notebook 7: a Streamlit app shown inline renders its
own content inside the output cell's iframe, and answers a click over its websocket; directly
(the sandbox's proxy on its own origin) and through the Jupyter server's jupyter-server-proxy
(the iframe on Jupyter's origin, as on a remote JupyterHub). An app refusing framing is a link
saying why (and Chromium refuses it framed anyway). ``%dr_new_app --show`` in the demo's
Jupyter, JupyterLab and Notebook 7 side by side: one widget moving through the launch's stages,
then the app, or "failed" with the first error.

One Jupyter server for the module serves both front ends (Notebook 7 is the ``notebook``
server extension that ``jupyter notebook`` also starts; each test checks
``window.jupyterapp.name``); the launches use the session's demo Jupyter and sandbox."""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import nbformat
import pytest
from playwright.sync_api import Error as PlaywrightError
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
    const c = reply.content;
    return c.status === 'ok' ? 'ok' : `${c.ename}: ${c.evalue}`;
}"""
UIS = {
    # ui: (the notebook's URL path, before its name; window.jupyterapp.name)
    "lab": ("lab/tree/", "JupyterLab"),
    "notebook7": ("notebooks/", "Jupyter Notebook"),
}
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
    path, title = UIS[frontend]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    try:
        page.goto(f"{jupyter.url}{path}{name}?token={jupyter.token}")
        page.wait_for_function(KERNEL_IDLE, timeout=90_000)
        assert page.evaluate("() => window.jupyterapp.name") == title
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


class _Framing(BaseHTTPRequestHandler):
    """A real app whose path says which framing headers its page sends."""

    HEADERS: ClassVar[dict[str, tuple[str, str]]] = {
        "/deny": ("X-Frame-Options", "DENY"),
        "/csp": ("Content-Security-Policy", "frame-ancestors 'none'"),
    }

    def do_GET(self) -> None:
        body = b"<!doctype html><title>framed</title><p>the framing app's page</p>"
        self.send_response(200)
        header = self.HEADERS.get(self.path)
        if header:
            self.send_header(*header)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_HEAD(self) -> None:
        self.send_response(405)  # as some apps do: show() asks again with GET
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def framing_url() -> Iterator[str]:
    """``_Framing`` behind the sandbox's proxy: its ``/custom_applications/abc/`` URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Framing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        upstream = f"127.0.0.1:{server.server_address[1]}"
        with serve("front", env={"DR_PROXY_UPSTREAM": upstream}) as front:
            yield front.url + APP_PATH
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_an_app_that_refuses_framing_is_a_link_saying_why(
    browser: Any, setup: Setup, framing_url: str
) -> None:
    """Notebook 7: ``show(client=...)`` of an app sending ``X-Frame-Options: DENY`` or CSP
    ``frame-ancestors 'none'`` is a link with the reason, no iframe. Positive controls in the
    same page: framed anyway (no client, so nothing asked), Chromium refuses those pages and
    loads the one without the headers."""
    jupyter = setup.jupyter
    source = (
        "from IPython.display import display\n"
        "from dr_notebook.app_links import set_link_base\n"
        "from dr_notebook.client import Client\n"
        "from dr_notebook.models import Application\n"
        "set_link_base('direct')\n"
        f"client = Client(endpoint={framing_url.split('/custom_')[0]!r}, token='t' * 24)\n"
        "def app(path):\n"
        f"    return Application(id='abc', name=path, status='running',"
        f" application_url={framing_url!r} + path)\n"
        "for path in ('deny', 'csp'):\n"
        "    display(app(path).show(height=120, client=client))\n"
        "for path in ('deny', 'csp', 'plain'):\n"
        "    display(app(path).show(height=120))\n"
    )
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nb.cells.append(nbformat.v4.new_code_cell(source))
    nbformat.write(nb, setup.root / "framing.ipynb")
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    try:
        page.goto(f"{jupyter.url}notebooks/framing.ipynb?token={jupyter.token}")
        page.wait_for_function(KERNEL_IDLE, timeout=90_000)
        assert page.evaluate("() => window.jupyterapp.name") == "Jupyter Notebook"
        page.evaluate(RUN_ALL)
        views = page.locator(".dr-notebook-app-view")
        page.wait_for_function(
            "() => document.querySelectorAll('.dr-notebook-app-view').length === 5",
            timeout=60_000,
        )
        assert [o for o in page.evaluate(OUTPUTS) if o.get("output_type") == "error"] == []
        refused = [views.nth(0), views.nth(1)]
        for view, why in zip(
            refused, ["X-Frame-Options: DENY", "frame-ancestors 'none'"], strict=True
        ):
            assert view.locator("iframe").count() == 0
            assert why in view.locator(".dr-notebook-app-why").inner_text()
            link = view.get_by_role("link", name="Open application")
            assert link.get_attribute("target") == "_blank"
            assert (link.get_attribute("href") or "").startswith(framing_url)
        # The positive controls: the same pages framed anyway.
        frames = page.locator("iframe.dr-notebook-app-frame")
        assert frames.count() == 3
        plain = page.frame_locator("iframe.dr-notebook-app-frame >> nth=2")
        plain.get_by_text("the framing app's page").wait_for(timeout=30_000)
        page.wait_for_load_state("load")
        for index in (0, 1):  # blocked: Chromium's error page, not the app's
            frame = frames.nth(index).element_handle().content_frame()
            assert frame is not None
            assert frame.url.startswith("chrome-error:"), frame.url
        page.screenshot(path=str(ARTIFACTS / "app-show-framing-refused.png"))
    finally:
        try:
            page.evaluate("() => window.jupyterapp.serviceManager.sessions.shutdownAll()")
        finally:
            context.close()


# In the page, as each change is drawn (a poll from here could miss a quick stage): the launch
# widget's stage in bold (LaunchView's _ON style), its texts, and whether it ended (the app's
# iframe or "failed").
RECORD_LAUNCH = """() => {
    const record = {stages: [], texts: [], done: false};
    window.__drnLaunch = record;
    const bold = /<span style="font-weight:600;[^"]*">(?:✓ )?([a-z ]+)<\\/span>/;
    const look = () => {
        const all = document.querySelectorAll('.jp-OutputArea-output .widget-html-content');
        const el = all[all.length - 1];
        if (!el || record.done) return;
        const html = el.innerHTML;
        if (html.includes('dr-notebook-app-frame') || html.includes('>failed<')) {
            record.done = true;
            return;
        }
        if (!record.texts.includes(el.innerText)) record.texts.push(el.innerText);
        const stage = bold.exec(html);
        if (stage && record.stages[record.stages.length - 1] !== stage[1]) {
            record.stages.push(stage[1]);
        }
    };
    new MutationObserver(look).observe(
        document.body, {subtree: true, childList: true, characterData: true});
}"""
ORDER = ["creating the source", "building", "starting", "running"]
FAILING_START = """#!/usr/bin/env bash
echo "a line that is no error"
echo "RuntimeError: the failing app's first error" >&2
exit 3
"""


class Launch:
    """One UI's notebook running ``%dr_new_app ... --show``: what its launch widget showed."""

    def __init__(self, lab_page: Any, ui: str, label: str, app_name: str) -> None:
        self.lab_page, self.ui, self.app_name = lab_page, ui, app_name
        notebook = lab_page.lab.write_notebook(
            f"launch-show-{ui}-{uuid.uuid4().hex[:6]}.ipynb",
            [
                ("code", "%load_ext dr_notebook"),
                ("code", f'%dr_new_app {label} --name "{app_name}" --show -o app'),
            ],
        )
        path, title = UIS[ui]
        lab_page.open(notebook, url=f"{lab_page.lab.base_url}/{path}{notebook}")
        assert lab_page.page.evaluate("() => window.jupyterapp.name") == title
        self.widget = lab_page.page.locator(".jp-OutputArea-output .widget-html-content").last
        lab_page.page.evaluate(RECORD_LAUNCH)
        self.stages: list[str] = []  # each new bold stage, in the order drawn
        self.texts: set[str] = set()

    def done(self) -> bool:
        """Whether the widget shows the app or the failure; what it showed is then read."""
        record = self.lab_page.page.evaluate("() => window.__drnLaunch")
        self.stages, self.texts = record["stages"], set(record["texts"])
        return record["done"]

    def screenshot(self, name: str) -> None:
        """A picture for people, taken if the loaded machine allows it in time."""
        with contextlib.suppress(PlaywrightError):
            self.lab_page.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), timeout=15_000)

    def widgets(self) -> int:
        """How many widget outputs the notebook has (one: the steps, then the app)."""
        return sum(WIDGET in o.get("data", {}) for o in self.lab_page.outputs())

    def delete(self) -> str:
        """Delete the application in the kernel; the request's status."""
        code = f'%dr_app "{self.app_name}" --delete'
        return self.lab_page.page.evaluate(RUN_IN_KERNEL, code)


def watch(launches: list[Launch], seconds: float) -> None:
    """Run every notebook at once, then look at each widget until all have ended."""
    for launch in launches:
        launch.lab_page.run_all(wait=False)
    deadline = time.monotonic() + seconds
    waiting = list(launches)
    while waiting and time.monotonic() < deadline:
        waiting = [launch for launch in waiting if not launch.done()]
        launches[0].lab_page.page.wait_for_timeout(250)
    assert not waiting, [(w.ui, w.stages, w.texts) for w in waiting]


# The launches use the session's demo (not this module's server): a group of their own, so
# that they run beside the inline tests.
LAUNCHES = pytest.mark.xdist_group("test_browser_app_show-launches")


def second_page(lab_page: Any) -> Any:
    """Another page in the same browser context (the fixture shuts every session down)."""
    return type(lab_page)(lab_page.page.context.new_page(), lab_page.lab, lab_page.tripwire)


@LAUNCHES
@pytest.mark.timeout(600)  # two launches at once on a loaded machine: a hang, not slowness
def test_a_launch_is_one_live_widget_that_becomes_the_app(lab_page: Any) -> None:
    """The demo's Jupyter server (its sandbox runs apps), in JupyterLab and Notebook 7 at once:
    ``%dr_new_app --show`` draws the launch in one widget, updated in place (its bold stage
    moves on), which ends as the Streamlit app in an iframe."""
    tag = uuid.uuid4().hex[:6]
    pages = {"lab": lab_page, "notebook7": second_page(lab_page)}
    launches = [
        Launch(page, ui, "Streamlit App Base", f"Shown inline {ui} {tag}")
        for ui, page in pages.items()
    ]
    try:
        watch(launches, 300)  # a first build of Streamlit's environment included
        for launch in launches:
            assert launch.stages, launch.texts
            assert launch.stages == sorted(launch.stages, key=ORDER.index), launch.stages
            assert len(launch.texts) >= 2, launch.texts  # redrawn while it launched
            text = launch.widget.inner_text()
            assert launch.app_name in text and "running" in text
            frame = launch.widget.locator("iframe.dr-notebook-app-frame")
            # The launch's last update redraws the output (its text/plain): the iframe again.
            frame.wait_for(timeout=60_000)
            # The sandbox's own origin, framed by Jupyter's: the sandbox lets it.
            src = frame.get_attribute("src") or ""
            assert src.startswith("http://") and not src.startswith(lab_page.lab.base_url), src
            app = launch.lab_page.page.frame_locator(
                ".widget-html-content iframe.dr-notebook-app-frame"
            )
            app.get_by_text("Score a CSV file").first.wait_for(timeout=90_000)
            launch.lab_page.wait_for_cells(timeout=60)
            assert launch.lab_page.errors() == [], launch.ui
            assert launch.widgets() == 1, launch.ui  # one widget: the steps, then the app
            launch.screenshot(f"app-show-launch-widget-{launch.ui}")
    finally:
        statuses = [launch.delete() for launch in launches]
    assert statuses == ["ok", "ok"]


@LAUNCHES
@pytest.mark.timeout(600)  # two launches at once on a loaded machine: a hang, not slowness
def test_a_failed_launch_is_the_widget_saying_why(lab_page: Any) -> None:
    """An app whose start exits with an error, in JupyterLab and Notebook 7 at once: the launch
    widget moves through its stages, then says "failed" with the app's first error, in place;
    the cell ends with the error's one line."""
    tag = uuid.uuid4().hex[:6]
    template = f"Failing Start {tag}"
    pages = {"lab": lab_page, "notebook7": second_page(lab_page)}
    launches = [Launch(page, ui, template, f"Failing {ui} {tag}") for ui, page in pages.items()]
    made = lab_page.page.evaluate(
        RUN_IN_KERNEL,
        "import pathlib, tempfile, dr_notebook as drn\n"
        "folder = pathlib.Path(tempfile.mkdtemp())\n"
        f"(folder / 'start-app.sh').write_text({FAILING_START!r})\n"
        "client = drn.Client()\n"
        f"client.templates.create({template!r}, description='Its start fails.',"
        " template_type='application', template_sub_type='python',"
        " default_environment=client.templates.resolve('Flask App Base'), file=folder)",
    )
    assert made == "ok"
    try:
        watch(launches, 180)
        for launch in launches:
            assert launch.stages, launch.texts  # the steps were drawn before the failure
            assert launch.stages == sorted(launch.stages, key=ORDER.index), launch.stages
            launch.lab_page.wait_for_cells(timeout=60)
            text = launch.widget.inner_text()
            assert "failed" in text and "the failing app's first error" in text, text
            assert not launch.widget.locator("iframe").count()
            errors = launch.lab_page.errors()
            assert len(errors) == 1 and errors[0].startswith("ApplicationFailedError"), errors
            assert launch.widgets() == 1, launch.ui
            launch.screenshot(f"app-show-launch-failed-{launch.ui}")
    finally:
        statuses = [launch.delete() for launch in launches]
        statuses.append(
            lab_page.page.evaluate(
                RUN_IN_KERNEL, f"client.templates.delete(client.templates.resolve({template!r}))"
            )
        )
    assert statuses == ["ok", "ok", "ok"]
