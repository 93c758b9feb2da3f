"""Apps in DataRobot's current template conventions (``tests/apps/``), uploaded unchanged with
DataRobot's ``drapps`` to a ``--run-apps`` sandbox, built in the jail and opened in Chromium:
Streamlit from a ``uv.lock`` (its content comes over its websocket), Flask under gunicorn from
``pyproject.toml`` alone, and a Vite/React page on Node built with ``vite build
--base=/$BASE_PATH``, whose assets load under the app's URL. The three launch concurrently."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from drapps_cli import Drapps

from dr_notebook.sandbox.runtime.interpreters import find_python
from dr_notebook.sandbox.testing import SandboxServer, processes_in, start_sandbox

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(os.name != "posix", reason="POSIX only"),
    pytest.mark.skipif(find_python("3.12") is None, reason="no Python 3.12 here"),
    pytest.mark.skipif(shutil.which("npm") is None, reason="no npm here"),
]
APPS = Path(__file__).resolve().parents[1] / "apps"
PYTHON_ENV = "[DataRobot] Python 3.12 Applications Base"
NODE_ENV = "[DataRobot] NodeJS 22 Applications Base"
LAUNCHES = {  # app name: (folder under tests/apps, execution environment)
    "DrappsStreamlit": ("streamlit-uv", PYTHON_ENV),
    "DrappsFlask": ("flask-gunicorn", PYTHON_ENV),
    "DrappsReact": ("react-vite", NODE_ENV),
}


@pytest.fixture(scope="module")
def sb() -> Iterator[SandboxServer]:
    """One ``--run-apps`` sandbox for the module (the session's shared environments)."""
    with start_sandbox(run_apps=True, demo=False) as server:
        yield server
    assert processes_in(server.apps_dir) == []


@pytest.fixture(scope="module")
def apps(sb: SandboxServer, drapps_cli: Drapps) -> Iterator[dict[str, dict[str, Any]]]:
    """The three apps created with ``drapps create`` at once, each once running (or failed)."""
    with ThreadPoolExecutor(len(LAUNCHES)) as pool:
        launched = pool.map(lambda name: create(sb, drapps_cli, name), LAUNCHES)
        created = dict(zip(LAUNCHES, launched, strict=True))
    try:
        yield created
    finally:
        for app in created.values():
            sb.api("DELETE", f"customApplications/{app['id']}/")


def create(sb: SandboxServer, drapps_cli: Drapps, name: str) -> dict[str, Any]:
    """``drapps create -e <environment> -p <template>/src <name>``, as the templates' READMEs
    say; the application once its status is final."""
    folder, environment = LAUNCHES[name]
    src = APPS / folder / "src"
    result = drapps_cli.run(
        ["create", "-e", environment, "-p", str(src), name], sb.endpoint, sb.token,
        cwd=src.parent, timeout=600,
    )  # fmt: skip
    found = sb.api("GET", "customApplications/", params={"name": name}).json()["data"]
    ids = [app["id"] for app in found if app["name"] == name]
    assert ids, result.stdout + result.stderr
    deadline = time.monotonic() + 600
    while (app := sb.api("GET", f"customApplications/{ids[0]}/").json())["status"] not in (
        "running", "failed",
    ):  # fmt: skip
        assert time.monotonic() < deadline, app
        time.sleep(0.5)
    app["drapps"] = result
    return app


def logs(sb: SandboxServer, app: dict[str, Any]) -> dict[str, Any]:
    return sb.api("GET", f"customApplications/{app['id']}/logs/").json()


def running(sb: SandboxServer, app: dict[str, Any]) -> None:
    """The app runs and ``drapps`` said so, without the token."""
    said = app["drapps"].stdout + app["drapps"].stderr
    assert app["status"] == "running", (app.get("buildError"), logs(sb, app))
    assert app["drapps"].returncode == 0, said
    assert sb.token not in said


def test_streamlit_from_a_uv_lock_renders_over_its_websocket(browser, sb, apps) -> None:
    app = apps["DrappsStreamlit"]
    running(sb, app)
    build = logs(sb, app)["buildLog"]
    assert f"Execution environment: {PYTHON_ENV}." in build
    assert "Installing from uv.lock (frozen, without dev dependencies)." in build
    page = browser.new_page()
    try:
        page.goto(app["applicationUrl"])
        page.get_by_text("Streamlit from a uv.lock").wait_for(timeout=60_000)
        page.get_by_text("Signed in as sandbox@example.com").wait_for(timeout=30_000)
        page.get_by_role("button", name="Ask the gateway").click()
        page.get_by_text("[sandbox] local reply: hello from streamlit").wait_for(timeout=30_000)
    finally:
        page.close()


def test_flask_under_gunicorn_from_pyproject_alone_renders(browser, sb, apps) -> None:
    app = apps["DrappsFlask"]
    running(sb, app)
    build = logs(sb, app)["buildLog"]
    assert "Resolving pyproject.toml's dependencies (no uv.lock given)." in build
    page = browser.new_page()
    try:
        page.goto(app["applicationUrl"])
        page.get_by_role("heading", name="Flask under gunicorn").wait_for(timeout=30_000)
        deployments = page.get_by_role("list", name="deployments").inner_text()
        assert "Churn Predictor" in deployments and "Demand Forecaster" in deployments
    finally:
        page.close()


def test_a_vite_react_page_built_with_base_path_loads_its_assets_under_the_app(
    browser, sb, apps
) -> None:
    app = apps["DrappsReact"]
    running(sb, app)
    assert "Running build-app.sh." in logs(sb, app)["buildLog"]
    prefix = urlsplit(app["applicationUrl"]).path
    assert prefix == f"/custom_applications/{app['id']}/"
    page = browser.new_page()
    answers: list[tuple[str, int]] = []
    page.on("response", lambda response: answers.append((response.url, response.status)))
    try:
        page.goto(app["applicationUrl"])
        page.get_by_role("heading", name="Rendered by React").wait_for(timeout=30_000)
        projects = page.get_by_role("list", name="projects")
        projects.get_by_text("Customer Churn").wait_for(timeout=30_000)
        color = page.get_by_role("heading").evaluate("h => getComputedStyle(h).color")
        assert color == "rgb(12, 34, 56)"  # the built stylesheet applied
    finally:
        page.close()
    assets = [(urlsplit(url).path, status) for url, status in answers if "/assets/" in url]
    assert {path.rsplit(".", 1)[-1] for path, _ in assets} >= {"js", "css"}, answers
    assert all(path.startswith(prefix + "assets/") and status == 200 for path, status in assets)
    # control: the same files are not at the server's root, where a build without BASE_PATH
    # would have asked for them (the blank page)
    origin = app["applicationUrl"][: -len(prefix)]
    assert requests.get(origin + assets[0][0][len(prefix) - 1 :], timeout=30).status_code == 404
