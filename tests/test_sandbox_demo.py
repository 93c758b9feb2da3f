"""The demo catalogue loader and the synthetic template generator."""

from __future__ import annotations

import base64
import importlib
import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

from dr_notebook.render import render_markdown
from dr_notebook.sandbox.catalogue.loader import (
    CATALOGUE_DIR,
    CatalogueError,
    generate,
    load_catalogue,
)
from dr_notebook.sandbox.runtime import interpreters

TEMPLATE_YAML = """\
name: Streamlit App Base
description: A minimal Streamlit application.
templateType: customApplicationTemplate
templateSubType: streamlit
enabled: true
defaultResourceBundleId: cpu.small
defaultEnvironment:
  environmentId: 6543210fedcba98765432100
  environmentVersionId: 6543210fedcba98765432101
templateMetadata:
  tags: [streamlit, python]
  resourceBundleIds: [cpu.small, cpu.medium]
  classLabels: []
  templateTypeSpecificResources:
    serviceWebRequestsOnRootPath: false
  source:
    repo: https://example.com/streamlit
publisher: DataRobot
category: Data Apps
"""


def test_demo_readmes_show_their_own_screenshot_and_nothing_from_the_internet() -> None:
    for template in load_catalogue():
        files = dict(template.files)
        readme = files["README.md"].decode()
        assert "![" in readme and "](docs/screenshot.png)" in readme, template.name
        assert not re.search(r"!\[[^\]]*\]\(\s*https?:", readme), template.name
        png = files["docs/screenshot.png"]
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) < 30 * 1024, template.name
        html = render_markdown(readme, images=files)
        assert f"data:image/png;base64,{base64.b64encode(png).decode()}" in html, template.name


def write_entry(root: Path, slug: str, spec: str = TEMPLATE_YAML) -> Path:
    folder = root / slug
    (folder / "files" / "pages").mkdir(parents=True)
    (folder / "template.yaml").write_text(spec)
    (folder / "README.md").write_text("# Streamlit App Base\n\nRun it.\n")
    (folder / "files" / "app.py").write_text("import streamlit as st\n")
    (folder / "files" / "pages" / "about.py").write_text("st.write('about')\n")
    return folder


def test_catalogue_entry_becomes_a_template_with_readme_and_files(tmp_path):
    write_entry(tmp_path, "streamlit-base")
    [template] = load_catalogue(tmp_path)
    assert template.name == "Streamlit App Base"
    assert template.template_type == "customApplicationTemplate"
    assert template.template_sub_type == "streamlit"
    assert template.default_resource_bundle_id == "cpu.small"
    assert template.default_environment["environmentVersionId"] == "6543210fedcba98765432101"
    assert template.publisher == "DataRobot" and template.category == "Data Apps"
    meta = template.template_metadata
    assert meta["readme"].startswith("# Streamlit App Base")
    assert meta["tags"] == ["streamlit", "python"]
    assert meta["source"] == {"repo": "https://example.com/streamlit"}
    assert [name for name, _ in template.files] == ["README.md", "app.py", "pages/about.py"]


def test_entries_load_in_slug_order_and_missing_folder_is_empty(tmp_path):
    write_entry(tmp_path, "b-second")
    write_entry(tmp_path, "a-first", TEMPLATE_YAML.replace("Streamlit App Base", "First"))
    assert [t.name for t in load_catalogue(tmp_path)] == ["First", "Streamlit App Base"]
    assert load_catalogue(tmp_path / "absent") == []


@pytest.mark.parametrize("spec", ["name: [unclosed", "- a list", "description: no name\n"])
def test_broken_entries_name_their_file(tmp_path, spec):
    write_entry(tmp_path, "broken", spec)
    with pytest.raises(CatalogueError, match=r"template\.yaml"):
        load_catalogue(tmp_path)


def with_marker(marker: str) -> str:
    """TEMPLATE_YAML with ``templateMetadata.pageMarker`` (YAML text)."""
    return TEMPLATE_YAML.replace(
        "templateMetadata:\n", f"templateMetadata:\n  pageMarker: {marker}\n"
    )


@pytest.mark.parametrize(
    "marker",
    ['"<h1>Ready</h1>"', "{path: _stcore/health, text: ok}"],
)
def test_a_page_marker_is_a_text_or_a_path_and_a_text(tmp_path, marker):
    write_entry(tmp_path, "app", with_marker(marker))
    assert load_catalogue(tmp_path)[0].template_metadata["pageMarker"]


@pytest.mark.parametrize(
    "marker", ['""', "{path: /_stcore/health, text: ok}", "{path: config}", "[a]", "3"]
)
def test_a_malformed_page_marker_names_its_file(tmp_path, marker):
    write_entry(tmp_path, "app", with_marker(marker))
    with pytest.raises(CatalogueError, match=r"template\.yaml: templateMetadata\.pageMarker"):
        load_catalogue(tmp_path)


def test_packaged_catalogue_loads_and_is_what_the_sandbox_serves(sandbox):
    entries = load_catalogue(CATALOGUE_DIR)
    assert len(entries) >= 30
    served, url = [], "customTemplates/"
    while url:  # other tests may add templates to the shared sandbox: read every page
        body = sandbox.api("GET", url, role="viewer").json()
        served += [(t["name"], t["templateType"], len(t["items"])) for t in body["data"]]
        url = body["next"]
    expected = [(t.name, t.template_type, len(t.files)) for t in entries]
    assert set(expected) <= set(served)
    for entry in entries:
        assert entry.template_sub_type, f"{entry.name}: the official client needs a sub-type"
        assert entry.default_environment["environmentId"], entry.name


def test_generated_templates_are_varied_and_reproducible():
    templates = generate(2000, seed=11)
    assert [t.name for t in generate(50, seed=11)] == [t.name for t in templates[:50]]
    types = Counter(t.template_type for t in templates)
    assert set(types) == {"customApplicationTemplate", "customMetricTemplate", "customJobTemplate"}
    assert types.most_common(1)[0][0] == "customApplicationTemplate"
    assert len({t.template_sub_type for t in templates}) >= 10
    assert len({t.publisher for t in templates}) >= 4 and len({t.category for t in templates}) >= 5
    assert len({t.name for t in templates}) == 2000
    tags = Counter(tag for t in templates for tag in t.template_metadata["tags"])
    assert len(tags) >= 15 and max(tags.values()) < 2000
    assert any(not t.enabled for t in templates) and sum(t.enabled for t in templates) > 1800
    for t in templates[:20]:
        assert t.template_metadata["readme"].startswith("# ")
        assert t.files and t.files[0][0] == "README.md"
    assert len({t.created_at for t in templates}) > 1900


LEGACY = {"Flask Dashboard (Python 3.8)", "Streamlit Chat (Legacy)"}


def test_python_app_templates_follow_datarobots_current_conventions():
    """As DataRobot's own templates (streamlit-app-base, qa-app-streamlit, slack-bot-app, 2026):
    ``pyproject.toml`` (no build system, ``[tool.uv] package = false``) whose
    ``requires-python`` is the Python of the execution environment the template names, with the
    ``uv.lock`` made from it; only the legacy templates keep a ``requirements.txt``."""
    tomllib = importlib.import_module("tomllib")
    current, legacy = [], []
    for spec_path in sorted(CATALOGUE_DIR.glob("*/template.yaml")):
        src = spec_path.parent / "files"
        if not (src / "start-app.sh").is_file() or (src / "package.json").is_file():
            continue
        spec = yaml.safe_load(spec_path.read_text())
        if (src / "requirements.txt").is_file():
            legacy.append(spec["name"])
            continue
        current.append(spec["name"])
        project = tomllib.loads((src / "pyproject.toml").read_text())
        lock = tomllib.loads((src / "uv.lock").read_text())
        version = re.fullmatch(
            r"\[DataRobot\] Python (3\.\d+) Applications Base", spec["executionEnvironmentName"]
        ).group(1)  # type: ignore[union-attr]
        assert spec["defaultEnvironment"] == {
            "environmentId": interpreters.environment_id(version),
            "environmentVersionId": interpreters.version_id(version),
        }, spec_path
        assert project["project"]["requires-python"] == f">={version},<3.{int(version[2:]) + 1}"
        assert project["tool"]["uv"]["package"] is False and "build-system" not in project
        assert lock["requires-python"] == f"=={version}.*", spec_path
        root = next(p for p in lock["package"] if p["source"] == {"virtual": "."})
        assert root["name"] == project["project"]["name"]
        locked = sorted(
            d["name"] + d.get("specifier", "") for d in root["metadata"]["requires-dist"]
        )
        wanted = sorted(
            re.sub(r"\[.*\]", "", d).replace(" ", "") for d in project["project"]["dependencies"]
        )
        assert locked == wanted, f"{spec_path}: uv.lock is not the lock of pyproject.toml"
    assert set(legacy) == LEGACY
    assert len(current) >= 18
