"""Execution environments over HTTP: DataRobot's shapes, read by DataRobot's own client."""

from __future__ import annotations

import shutil
import subprocess
import sys

import datarobot as dr
import pytest
from datarobot.models.execution_environment import ExecutionEnvironment
from datarobot.models.execution_environment_version import ExecutionEnvironmentVersion

from dr_notebook.sandbox.runtime.interpreters import (
    BASE_PACKAGES,
    environment_id,
    find_python,
    version_id,
)
from dr_notebook.sandbox.testing import start_sandbox

OWN = f"{sys.version_info.major}.{sys.version_info.minor}"


@pytest.fixture(scope="module")
def sb():
    with start_sandbox(demo=False) as server:
        yield server


def test_one_environment_per_python_with_the_base_packages(sb):
    page = sb.api("GET", "executionEnvironments/").json()
    names = [env["name"] for env in page["data"]]
    assert (
        page["totalCount"] == len(names) and f"[DataRobot] Python {OWN} Applications Base" in names
    )
    own = next(
        env for env in page["data"] if env["name"] == f"[DataRobot] Python {OWN} Applications Base"
    )
    assert own["id"] == environment_id(OWN) and len(own["id"]) == 24
    assert own["latestVersion"]["id"] == version_id(OWN)
    assert own["useCases"] == ["customApplication"] and own["programmingLanguage"] == "python"
    for package in ("streamlit", "dash", "flask", "fastapi", "gradio", "datarobot"):
        assert package in BASE_PACKAGES and package in own["description"]


def test_filters_single_items_and_404s(sb):
    found = sb.api("GET", "executionEnvironments/", params={"searchFor": f"python {OWN}"})
    assert [env["id"] for env in found.json()["data"]] == [environment_id(OWN)]
    assert sb.api("GET", "executionEnvironments/", params={"searchFor": "R 4"}).json()["data"] == []
    other_use = sb.api("GET", "executionEnvironments/", params={"useCases": "customModel"})
    assert other_use.json()["totalCount"] == 0
    env = environment_id(OWN)
    assert sb.api("GET", f"executionEnvironments/{env}/").json()["id"] == env
    versions = sb.api("GET", f"executionEnvironments/{env}/versions/").json()
    assert [v["id"] for v in versions["data"]] == [version_id(OWN)]
    one = sb.api("GET", f"executionEnvironments/{env}/versions/{version_id(OWN)}/").json()
    assert one["environmentId"] == env and one["buildStatus"] == "success"
    for path in (
        f"executionEnvironments/{'0' * 24}/",
        f"executionEnvironments/{version_id(OWN)}/",  # a version id is not an environment id
        f"executionEnvironments/{env}/versions/{'0' * 24}/",
    ):
        response = sb.api("GET", path)
        assert response.status_code == 404 and "execution environment" in response.json()["message"]


def test_datarobots_client_reads_them(sb):
    dr.Client(endpoint=sb.endpoint, token=sb.token)  # pyright: ignore[reportPrivateImportUsage]
    try:
        environments = ExecutionEnvironment.list(search_for=f"Python {OWN}")
        assert [env.id for env in environments] == [environment_id(OWN)]
        env = ExecutionEnvironment.get(environment_id(OWN))
        assert env.latest_version is not None and env.latest_version.id == version_id(OWN)
        assert env.use_cases == ["customApplication"]
        versions = ExecutionEnvironmentVersion.list(env.id)
        assert [v.build_status for v in versions] == ["success"]
        assert ExecutionEnvironmentVersion.get(env.id, version_id(OWN)).environment_id == env.id
    finally:
        dr.client.set_client(None)  # pyright: ignore[reportArgumentType]


def test_datarobots_environments_by_name_each_with_the_python_it_names(sb):
    page = sb.api("GET", "executionEnvironments/", params={"limit": 100}).json()
    by_name = {env["name"]: env for env in page["data"]}
    for version in ("3.12", "3.11"):  # listed even where absent: a build then says how to add it
        env = by_name[f"[DataRobot] Python {version} Applications Base"]
        python = find_python(version)
        assert (python is not None) == ("not installed here" not in env["description"])
        if python:
            listed = env["latestVersion"]["description"].rsplit("(", 1)[1].rstrip(")")
            probe = [listed, "-c", "import sys; print(sys.version_info[:2])"]
            major, minor = version.split(".")
            assert subprocess.run(probe, capture_output=True, text=True).stdout.strip() == (
                f"({major}, {minor})"
            )
    node = shutil.which("node") is not None
    for name in ("[DataRobot] NodeJS 22 Applications Base",
                 "[DataRobot] NodeJS 22.14.0 Applications Base"):  # fmt: skip
        assert (name in by_name) == node
        if node:
            found = sb.api("GET", "executionEnvironments/", params={"searchFor": name}).json()
            assert name in [env["name"] for env in found["data"]]
            assert by_name[name]["programmingLanguage"] == "other"
            assert "Node.js v" in by_name[name]["description"]


def test_pythons_are_found_as_uv_finds_them_and_in_pyenv():
    assert find_python(OWN) is not None
    assert find_python("3.99") is None


def test_a_python_uv_installed_is_found_in_uvs_folder_without_running_uv(tmp_path, monkeypatch):
    python = tmp_path / "cpython-3.97.1-linux-x86_64-gnu" / "bin" / "python3.97"
    python.parent.mkdir(parents=True)
    python.write_text(f"#!/bin/sh\necho 3.97 {python}\n")
    python.chmod(0o755)
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "no-pyenv"))
    assert find_python("3.97") is None  # control: not there yet
    monkeypatch.setenv("UV_PYTHON_INSTALL_DIR", str(tmp_path))
    assert find_python("3.97") == str(python)
