"""Streamlit and Dash through the sandbox's proxy in Chromium: their own content appears only
once Streamlit's websocket and Dash's callbacks work; Streamlit once more through a Jupyter
server's jupyter-server-proxy. The frameworks go into an environment of their own (uv)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from uv import find_uv_bin

from dr_notebook.sandbox.testing.proxy import free_port, jupyter_server, serve

pytestmark = [pytest.mark.browser, pytest.mark.slow]

APP = "/custom_applications/abc"
ROOT = Path(__file__).resolve().parents[2]
# Rewritten in docs/ only when asked, as test_browser_application.py does.
SHOTS = ROOT / (
    "docs" if os.environ.get("DR_NOTEBOOK_DOCS_SCREENSHOTS") == "1" else "artifacts/browser"
)
STREAMLIT_APP = """
import streamlit as st
st.title("Hello through the proxy")
if st.button("Press"):
    st.write("pressed over the websocket")
"""
# Dash as DataRobot advises: pages ask for assets under the external prefix, routes at "/".
DASH_APP = """
import os
from dash import Dash, Input, Output, dcc, html
prefix = f"/custom_applications/{os.environ['APPLICATION_ID']}/"
app = Dash(__name__, requests_pathname_prefix=prefix, routes_pathname_prefix="/")
app.layout = html.Div([html.H1("Dash"), dcc.Input(id="typed", value="first"), html.Div(id="out")])


@app.callback(Output("out", "children"), Input("typed", "value"))
def echo(value):
    return f"the callback says {value}"


app.run(host="127.0.0.1", port=int(os.environ["PORT"]))
"""


@pytest.fixture(scope="module")
def frameworks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Python with streamlit and dash (uv's cache makes later runs quick)."""
    uv = find_uv_bin()
    venv = tmp_path_factory.mktemp("frameworks") / "venv"
    python = venv / "bin" / "python"
    subprocess.run([uv, "venv", "-q", "-p", sys.executable, str(venv)], check=True)
    installed = subprocess.run(
        [uv, "pip", "install", "-q", "-p", str(python), "streamlit", "dash"],
        capture_output=True,
        text=True,
    )
    assert installed.returncode == 0, f"streamlit and dash not installed: {installed.stderr[-300:]}"
    return python


@pytest.fixture
def app_process() -> Iterator[list[subprocess.Popen[bytes]]]:
    """The apps a test starts, ended after it."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        process.terminate()
        process.wait(15)


def start(started: list, argv: list[str], port: int, env: dict[str, str] | None = None) -> str:
    """Start an app on ``port`` and wait until it answers; its ``host:port``."""
    output = tempfile.TemporaryFile()  # noqa: SIM115 (the app writes to it after we return)
    process = subprocess.Popen(
        argv,
        env={**os.environ, "PORT": str(port), **(env or {})},
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    started.append(process)
    deadline = time.monotonic() + 90
    while True:
        if process.poll() is not None:
            output.seek(0)
            said = output.read().decode(errors="replace")[-1500:]
            raise AssertionError(f"{argv} exited with {process.returncode}:\n{said}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
            return f"127.0.0.1:{port}"
        except httpx.TransportError:
            assert time.monotonic() < deadline, f"{argv} did not answer"
            time.sleep(0.3)


def test_streamlit_through_the_proxy_and_through_jupyter(
    browser, frameworks: Path, app_process: list, tmp_path: Path
) -> None:
    (tmp_path / "app.py").write_text(STREAMLIT_APP)
    port = free_port()
    argv = [str(frameworks), "-m", "streamlit", "run", str(tmp_path / "app.py")]
    argv += [f"--server.port={port}", "--server.address=127.0.0.1", "--server.headless=true"]
    argv += ["--browser.gatherUsageStats=false"]
    upstream = start(app_process, argv, port)
    with (
        serve("front", env={"DR_PROXY_UPSTREAM": upstream}) as front,
        jupyter_server(tmp_path) as jupyter,
    ):
        page = browser.new_page()
        try:
            for url in (
                f"{front.url}{APP}/",
                f"{jupyter.origin}{jupyter.proxied(front.port or 0)}{APP}/?token={jupyter.token}",
            ):
                page.goto(url)
                page.get_by_text("Hello through the proxy").wait_for(timeout=60_000)
                page.get_by_role("button", name="Press").click()
                page.get_by_text("pressed over the websocket").wait_for(timeout=30_000)
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.set_viewport_size({"width": 760, "height": 300})
            page.screenshot(path=str(SHOTS / "streamlit-through-jupyter.png"))
        finally:
            page.close()


def test_dash_callbacks_through_the_proxy(
    browser, frameworks: Path, app_process: list, tmp_path: Path
) -> None:
    (tmp_path / "app.py").write_text(DASH_APP)
    port = free_port()
    upstream = start(
        app_process, [str(frameworks), str(tmp_path / "app.py")], port, {"APPLICATION_ID": "abc"}
    )
    with serve("front", env={"DR_PROXY_UPSTREAM": upstream}) as front:
        page = browser.new_page()
        try:
            page.goto(f"{front.url}{APP}/")
            page.get_by_text("the callback says first").wait_for(timeout=60_000)
            page.locator("#typed").fill("second")
            page.get_by_text("the callback says second").wait_for(timeout=30_000)
        finally:
            page.close()
