"""DataRobot's build and run variables: ``BASE_PATH`` (``custom_applications/<id>``, no leading
slash) for ``build-app.sh`` and the run, so a page built with ``/$BASE_PATH/assets/...`` links
loads its assets through the application's URL."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests

from dr_notebook.sandbox.testing import SandboxServer, processes_in, start_sandbox

pytestmark = [pytest.mark.slow, pytest.mark.skipif(os.name != "posix", reason="POSIX only")]

# What `vite build --base=/$BASE_PATH` produces, written by a shell build as DataRobot runs it.
BUILD = b"""#!/usr/bin/env bash
set -euo pipefail
mkdir -p dist/assets
printf 'body { color: rgb(1, 2, 3); }\\n' > dist/assets/index-3f2a.css
printf 'document.title = "built";\\n' > dist/assets/index-3f2a.js
cat > dist/index.html <<HTML
<!doctype html><html><head>
<link rel="stylesheet" href="/$BASE_PATH/assets/index-3f2a.css">
<script type="module" src="/$BASE_PATH/assets/index-3f2a.js"></script>
</head><body><div id="root"></div></body></html>
HTML
python3 -c 'import json, os; print(json.dumps({k: os.environ.get(k) for k in
  ("BASE_PATH", "APPLICATION_ID", "DATAROBOT_ENDPOINT", "DATAROBOT_API_TOKEN",
   "PYTHONUNBUFFERED")}))' > dist/build-env.json
"""
START = b"""#!/usr/bin/env bash
set -euo pipefail
printf '%s' "$BASE_PATH" > dist/run-base-path.txt
cd dist && exec python3 -m http.server "${PORT:-8080}"
"""


@pytest.fixture(scope="module")
def sb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    envs: Path = tmp_path_factory.mktemp("envs")
    with start_sandbox(run_apps=True, demo=False, envs_dir=envs) as server:
        yield server
    assert processes_in(server.apps_dir) == []


def launch(sb: SandboxServer, files: dict[str, bytes], name: str) -> dict:
    source = sb.api("POST", "customApplicationSources/", json={"name": name}).json()
    version = source["latestVersion"]["id"]
    response = sb.api(
        "PATCH", f"customApplicationSources/{source['id']}/versions/{version}/",
        files=[("file", (p, d)) for p, d in files.items()],
        data=[("filePath", p) for p in files],
    )  # fmt: skip
    assert response.status_code == 200, response.text
    body = {"name": name, "applicationSourceId": source["id"]}
    created = sb.api("POST", "customApplications/", json=body, allow_redirects=False)
    assert created.status_code == 202, created.text
    app_id = created.json()["id"]
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        app = sb.api("GET", f"customApplications/{app_id}/").json()
        if app["status"] in ("running", "failed"):
            return app
        time.sleep(0.25)
    raise AssertionError(sb.api("GET", f"customApplications/{app_id}/logs/").text)


def test_a_page_built_with_base_path_loads_its_assets_through_the_app_url(sb):
    app = launch(sb, {"build-app.sh": BUILD, "start-app.sh": START}, "base path")
    assert app["status"] == "running", app.get("buildError")
    url = app["applicationUrl"]
    assert url == f"{sb.base_url}/custom_applications/{app['id']}/"
    page = requests.get(url, timeout=30)
    assert page.status_code == 200
    links = re.findall(r'(?:href|src)="([^"]+)"', page.text)
    assert links == [f"/custom_applications/{app['id']}/assets/index-3f2a.{ext}" for ext in
                     ("css", "js")]  # fmt: skip
    for link in links:  # resolved against the page, as a browser does
        asset = requests.get(urljoin(url, link), timeout=30)
        assert asset.status_code == 200 and asset.text.strip().endswith(("}", ";")), link
    seen = requests.get(url + "build-env.json", timeout=30).json()
    assert seen == {
        "BASE_PATH": f"custom_applications/{app['id']}",
        "APPLICATION_ID": app["id"],
        "DATAROBOT_ENDPOINT": sb.endpoint,
        "DATAROBOT_API_TOKEN": None,  # a build is not given the token
        "PYTHONUNBUFFERED": "1",
    }
    assert requests.get(url + "run-base-path.txt", timeout=30).text == seen["BASE_PATH"]
    assert sb.token not in json.dumps(seen)
    assert sb.api("DELETE", f"customApplications/{app['id']}/").status_code == 204
