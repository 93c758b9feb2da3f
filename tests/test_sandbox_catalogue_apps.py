"""What a newcomer does with the demo: the demo's own configuration (a relative database,
``.sandbox/demo.db``, the demo catalogue, ``--run-apps``), every launchable application template
launched, and each one's page fetched through its link and checked for the marker its template
declares (``templateMetadata.pageMarker``), then again 20 s later: an app that answers once and
then crashes fails."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from dr_notebook.sandbox.catalogue.loader import load_catalogue
from dr_notebook.sandbox.runtime import isolation
from dr_notebook.sandbox.testing import SandboxServer, processes_in, start_sandbox

pytestmark = [pytest.mark.slow, pytest.mark.skipif(os.name != "posix", reason="POSIX only")]
# Enabled ones: a disabled template cannot be launched (422), on DataRobot as here.
APPS = [t for t in load_catalogue() if t.template_type == "customApplicationTemplate" and t.enabled]
LAUNCHABLE = [t for t in APPS if "localLaunch" not in t.template_metadata]
AT_ONCE = 6  # launches in flight: each builds an environment, then starts a framework
LATER_S = 20  # an app that crashes after its first answer is caught by the second look


@pytest.fixture(scope="module")
def sb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    # The demo's defaults: `make demo` runs `dr-notebook sandbox --db .sandbox/demo.db --run-apps`
    # from the clone; DR_NOTEBOOK_ENVS_DIR (the session's shared environments) stays as is.
    clone = tmp_path_factory.mktemp("clone")
    with start_sandbox(
        db_path=Path(".sandbox/demo.db"), cwd=clone, run_apps=True, app_start_timeout_s=180
    ) as server:
        yield server
    assert processes_in(server.apps_dir) == []
    assert isolation.marked(f"{server.apps_dir.resolve()}/") == []  # the socat doors too


def launch(sb: SandboxServer, name: str) -> dict[str, Any]:
    """Launch the template as the gallery does; the application once running or failed."""
    template = next(
        t for t in sb.api("GET", "customTemplates/", params={"search": name}).json()["data"]
        if t["name"] == name
    )  # fmt: skip
    source = sb.api(
        "POST", "customApplicationSources/fromCustomTemplate/",
        json={"customTemplateId": template["id"]},
    ).json()  # fmt: skip
    app = sb.api(
        "POST", "customApplications/", json={"applicationSourceId": source["id"], "name": name}
    ).json()
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and app.get("status") not in ("running", "failed"):
        time.sleep(0.5)
        app = get_app(sb, app["id"])
    return app


def get_app(sb: SandboxServer, app_id: str) -> dict[str, Any]:
    """The application, asked again once when a kept-alive connection was reset: with twenty
    apps starting on two cores, a poll can reach the server just as it closes an idle one."""
    try:
        return sb.api("GET", f"customApplications/{app_id}/").json()
    except requests.ConnectionError:
        return sb.api("GET", f"customApplications/{app_id}/").json()


def page_problem(url: str, marker: str | dict[str, str]) -> str | None:
    """None when the page at ``url`` works (its marker found), else what was found instead."""
    path, text = ("", marker) if isinstance(marker, str) else (marker["path"], marker["text"])
    try:
        page = requests.get(url, timeout=60)
        if page.status_code != 200:
            return f"{url} answered {page.status_code}: {page.text[:200]!r}"
        answer = requests.get(f"{url}{path}", timeout=60)
    except requests.RequestException as exc:
        return f"{url}{path}: {exc}"
    if answer.status_code != 200 or text not in answer.text:
        return f"{url}{path} answered {answer.status_code} without {text!r}: {answer.text[:200]!r}"
    return None


def problems(sb: SandboxServer, apps: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Every app whose status is not running or whose page lacks its marker, with why."""
    found = {}
    for template in LAUNCHABLE:
        app = get_app(sb, apps[template.name]["id"])
        if app["status"] != "running":
            logs = sb.api("GET", f"customApplications/{app['id']}/logs/").json()
            found[template.name] = f"{app['status']}: {app.get('buildError')} {logs['logs'][-5:]}"
            continue
        problem = page_problem(app["applicationUrl"], template.template_metadata["pageMarker"])
        if problem:
            found[template.name] = problem
    return found


@pytest.mark.timeout(1200)  # sixteen environments built cold on two cores: a hang, not slowness
def test_every_launchable_application_template_serves_its_page_and_keeps_serving_it(sb):
    assert len(LAUNCHABLE) >= 19
    assert [t.name for t in LAUNCHABLE if "pageMarker" not in t.template_metadata] == []
    with ThreadPoolExecutor(AT_ONCE) as pool:
        launched = list(pool.map(lambda t: launch(sb, t.name), LAUNCHABLE))
    apps = {app["name"]: app for app in launched}
    try:
        first = time.monotonic()
        assert problems(sb, apps) == {}
        time.sleep(max(0.0, first + LATER_S - time.monotonic()))  # one wait for all of them
        assert problems(sb, apps) == {}
        # control: the check tells an error page from the page (a Dash marker at a FastAPI app)
        fastapi = apps["FastAPI Prediction Service"]["applicationUrl"]
        assert page_problem(fastapi, {"path": "_dash-layout", "text": "Churn Risk Explorer"})
        monitoring = apps["Model Monitoring Dashboard"]["applicationUrl"]
        assert dash_refresh(monitoring).status_code == 200  # a notice, not a 500, without data
    finally:
        for app in launched:
            sb.api("DELETE", f"customApplications/{app['id']}/")
    assert processes_in(sb.apps_dir) == []


def dash_refresh(url: str) -> requests.Response:
    """Model Monitoring Dashboard's first callback, as its page calls it."""
    outputs = [
        {"id": "grid", "property": "data"},
        {"id": "grid", "property": "columns"},
        {"id": "notice", "property": "children"},
    ]
    body = {
        "output": "..grid.data...grid.columns...notice.children..",
        "outputs": outputs,
        "inputs": [{"id": "tick", "property": "n_intervals", "value": None}],
        "changedPropIds": [],
    }
    return requests.post(f"{url}_dash-update-component", json=body, timeout=60)


def test_a_template_that_cannot_run_locally_says_why_before_launch(sb):
    blocked = [t for t in APPS if "localLaunch" in t.template_metadata]
    assert {t.name for t in blocked} == {
        "Node.js & React Base App", "What-if Simulator", "Slack Bot App"
    }  # fmt: skip
    served = {
        t["name"]: t["templateMetadata"]
        for t in sb.api("GET", "customTemplates/", params={"limit": 100}).json()["data"]
    }
    for template in blocked:
        reason = template.template_metadata["localLaunch"]
        assert reason["supported"] is False and len(reason["reason"]) > 40
        assert served[template.name]["localLaunch"] == reason  # the API serves it as is
        readme = template.template_metadata["readme"]
        assert "## Running it locally" in readme and reason["reason"] in readme


def test_every_page_marker_is_served_with_its_template(sb):
    served = {
        t["name"]: t["templateMetadata"]
        for t in sb.api("GET", "customTemplates/", params={"limit": 100}).json()["data"]
    }
    for template in LAUNCHABLE:
        assert served[template.name]["pageMarker"] == template.template_metadata["pageMarker"]
