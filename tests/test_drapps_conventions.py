"""Apps written in DataRobot's current template conventions, uploaded with ``drapps`` unchanged:
``src/`` with ``start-app.sh`` on 8080, dependencies in ``pyproject.toml`` (+ ``uv.lock``), the
``[DataRobot] Python 3.12 Applications Base`` environment; the apps call the platform."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import uv
from drapps_cli import Drapps

from dr_notebook.sandbox.runtime.interpreters import find_python
from dr_notebook.sandbox.testing import SandboxServer, processes_in, start_sandbox

pytestmark = [pytest.mark.slow, pytest.mark.skipif(os.name != "posix", reason="POSIX only")]
ENV_312 = "[DataRobot] Python 3.12 Applications Base"
PYTHON_312 = find_python("3.12")
needs_312 = pytest.mark.skipif(PYTHON_312 is None, reason="no Python 3.12 here")


def pyproject(*dependencies: str) -> str:
    listed = ", ".join(f'"{d}"' for d in dependencies)
    return (
        '[project]\nname = "convention-app"\nversion = "0.1.0"\n'
        f'requires-python = ">=3.12,<3.13"\ndependencies = [{listed}]\n\n'
        '[dependency-groups]\ndev = ["ruff"]\n\n[tool.uv]\npackage = false\n'
    )


STREAMLIT_START = """#!/usr/bin/env bash
set -euo pipefail
python3 -c 'import tinydb, streamlit; print("tinydb", tinydb.__version__)'
streamlit run --server.port=8080 --server.headless=true streamlit_app.py
"""
STREAMLIT_APP = """import os

import requests
import streamlit as st

endpoint = os.environ["DATAROBOT_ENDPOINT"].rstrip("/")
headers = {"Authorization": f"Bearer {os.environ['DATAROBOT_API_TOKEN']}"}
account = requests.get(f"{endpoint}/account/info/", headers=headers, timeout=10).json()
st.title(f"Hello {account['username']}")
"""
FLASK_START = "#!/usr/bin/env bash\nset -euo pipefail\nexec gunicorn -b 0.0.0.0:8080 app:app\n"
FLASK_APP = """import os

import requests
from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/")
def index():
    endpoint = os.environ["DATAROBOT_ENDPOINT"].rstrip("/")
    headers = {"Authorization": f"Bearer {os.environ['DATAROBOT_API_TOKEN']}"}
    chat = requests.post(
        f"{endpoint}/genai/llmgw/chat/completions/", headers=headers, timeout=10,
        json={"model": "azure/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
    ).json()
    projects = requests.get(f"{endpoint}/projects/", headers=headers, timeout=10).json()
    return jsonify(reply=chat["choices"][0]["message"]["content"],
                   projects=[p["projectName"] for p in projects])
"""


@pytest.fixture(scope="module")
def sb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    envs = tmp_path_factory.mktemp("envs")
    with start_sandbox(run_apps=True, demo=False, envs_dir=envs) as server:
        yield server
    assert processes_in(server.apps_dir) == []


def template(root: Path, files: dict[str, str]) -> Path:
    """A repository as DataRobot's templates lay it out; returns its ``src/``."""
    (root / "template_info.json").parent.mkdir(parents=True)
    (root / "template_info.json").write_text(
        '{"templateType": "customApplicationTemplate", '
        f'"executionEnvironmentName": "{ENV_312}"}}\n'
    )
    src = root / "src"
    for name, text in files.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_text(text)
    return src


def create(drapps_cli: Drapps, sb: SandboxServer, src: Path, name: str) -> dict:
    result = drapps_cli.run(
        ["create", "-e", ENV_312, "-p", str(src), name], sb.endpoint, sb.token,
        cwd=src.parent, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert sb.token not in result.stdout + result.stderr
    found = sb.api("GET", "customApplications/", params={"name": name}).json()["data"]
    app_id = next(app["id"] for app in found if app["name"] == name)
    deadline = time.monotonic() + 900
    while (app := sb.api("GET", f"customApplications/{app_id}/").json())["status"] not in (
        "running", "failed",
    ):  # fmt: skip
        assert time.monotonic() < deadline, sb.api("GET", f"customApplications/{app_id}/logs/").text
        time.sleep(0.5)
    return app


def build_log(sb: SandboxServer, app: dict) -> str:
    return sb.api("GET", f"customApplications/{app['id']}/logs/").json()["buildLog"]


@needs_312
def test_a_streamlit_app_from_a_uv_lock(drapps_cli: Drapps, sb, tmp_path):
    src = template(tmp_path / "streamlit-repo", {
        "start-app.sh": STREAMLIT_START, "streamlit_app.py": STREAMLIT_APP,
        "pyproject.toml": pyproject("streamlit", "requests", "tinydb==4.8.0"),
    })  # fmt: skip
    subprocess.run(
        [uv.find_uv_bin(), "lock", "--quiet", "--python", str(PYTHON_312)],
        cwd=src, check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    assert (src / "uv.lock").is_file()
    app = create(drapps_cli, sb, src, "ConventionStreamlit")
    log = build_log(sb, app)
    assert app["status"] == "running", app.get("buildError") or log
    assert f"Execution environment: {ENV_312}." in log
    assert "Installing from uv.lock (frozen, without dev dependencies)." in log
    health = requests.get(app["applicationUrl"] + "_stcore/health", timeout=30)
    assert health.status_code == 200 and health.text == "ok"
    logs = sb.api("GET", f"customApplications/{app['id']}/logs/").json()["logs"]
    assert "tinydb 4.8.0" in logs
    assert sb.api("DELETE", f"customApplications/{app['id']}/").status_code == 204


@needs_312
def test_a_flask_app_under_gunicorn_from_pyproject_alone(drapps_cli: Drapps, sb, tmp_path):
    src = template(tmp_path / "flask-repo", {
        "start-app.sh": FLASK_START, "app.py": FLASK_APP,
        "pyproject.toml": pyproject("flask", "gunicorn", "requests"),
    })  # fmt: skip
    app = create(drapps_cli, sb, src, "ConventionFlask")
    log = build_log(sb, app)
    assert app["status"] == "running", app.get("buildError") or log
    assert "Resolving pyproject.toml's dependencies (no uv.lock given)." in log
    body = requests.get(app["applicationUrl"], timeout=30).json()
    assert body["reply"] == "[sandbox] local reply: hi"
    assert "Customer Churn" in body["projects"]
    assert sb.api("DELETE", f"customApplications/{app['id']}/").status_code == 204


def test_a_project_needing_a_python_the_environment_lacks_fails_saying_how(
    drapps_cli: Drapps, sb, tmp_path
):
    src = template(tmp_path / "old-repo", {
        "start-app.sh": FLASK_START, "app.py": FLASK_APP,
        "pyproject.toml": pyproject("flask").replace(">=3.12,<3.13", "==3.99.*"),
    })  # fmt: skip
    result = drapps_cli.run(
        ["create", "-e", ENV_312, "-p", str(src), "NeedsPython399"], sb.endpoint, sb.token,
        cwd=src.parent, timeout=300,
    )  # fmt: skip
    found = sb.api("GET", "customApplications/", params={"name": "NeedsPython399"}).json()["data"]
    app_id = next(app["id"] for app in found if app["name"] == "NeedsPython399")
    deadline = time.monotonic() + 120
    while (app := sb.api("GET", f"customApplications/{app_id}/").json())["status"] != "failed":
        assert time.monotonic() < deadline, app
        time.sleep(0.25)
    error = app["buildError"] or ""
    assert "requires Python ==3.99.*" in error and ENV_312 in error, error
    assert result.returncode is not None
    sb.api("DELETE", f"customApplications/{app_id}/")
