"""Drift against the sandbox (simulated applications): Application.outdated, the frame's and
%dr_apps' outdated column, the card, update(source_version="latest"), folder_differs, and My
applications' "Move to latest"."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

import dr_notebook as drn
from dr_notebook.cards import application_html
from dr_notebook.gallery.applications import ApplicationsView

START = '#!/usr/bin/env bash\nexec python -m http.server "${PORT:-8080}"\n'


@pytest.fixture
def app(client: drn.Client) -> Any:
    source = client.app_sources.create(f"Drift {uuid.uuid4().hex[:6]}")
    client.app_sources.new_version(source, {"start-app.sh": START, "app.py": "v = 1\n"})
    made = client.applications.create(source, name=f"drift-{uuid.uuid4().hex[:6]}")
    yield made
    client.applications.delete(made)


def newer_version(client: drn.Client, app: drn.Application) -> drn.ApplicationSourceVersion:
    return client.app_sources.new_version(app.source_id or "", {"app.py": "v = 2\n"})


def test_outdated_follows_the_source_s_versions(client: drn.Client, app: drn.Application) -> None:
    fresh = client.applications.get(app)
    assert fresh.outdated is False and fresh.latest_source_version_id == app.source_version_id
    assert client.applications.get(app, drift=False).outdated is None  # not read: unknown
    assert "(latest)" in application_html(fresh) and "outdated" not in application_html(fresh)

    version = newer_version(client, app)
    stale = client.applications.get(app)
    assert stale.outdated is True and stale.latest_source_version_id == version.id
    card = application_html(stale)
    assert "outdated: the source has a newer version" in card and version.id in card
    frame = client.applications.frame(name=app.name)
    assert list(frame["outdated"]) == [True] and str(frame["outdated"].dtype) == "boolean"

    moved = client.applications.update(app, source_version="latest")
    assert moved.running and moved.source_version_id == version.id
    assert client.applications.get(app).outdated is False
    assert list(client.applications.frame(name=app.name)["outdated"]) == [False]


def test_folder_differs_reads_only(
    client: drn.Client, sandbox: Any, app: drn.Application, tmp_path: Path
) -> None:
    folder = tmp_path / "app"
    client.app_sources.download(app.source_id or "", folder, version=app.source_version_id or "")
    sandbox.reset_stats()
    assert client.applications.folder_differs(app, folder) is False
    (folder / "app.py").write_text("v = 3\n")
    assert client.applications.folder_differs(app, folder) is True
    assert [r for r in sandbox.stats()["requests"] if r["method"] != "GET"] == []
    (folder / "app.py").write_text("v = 1\n")
    (folder / ".dr_apps_ignore").write_text("scratch/\n")
    (folder / "scratch").mkdir()
    (folder / "scratch" / "notes.txt").write_text("local only")
    assert client.applications.folder_differs(app, folder) is False  # ignored files don't count


def test_my_applications_offers_move_to_latest(client: drn.Client, app: drn.Application) -> None:
    view = ApplicationsView(lambda: client)
    view.refresh()
    row = view.row(app.id)
    assert row.latest_button.layout.display == "none" and "outdated" not in row.summary.value
    version = newer_version(client, app)
    view.refresh()
    row = view.row(app.id)
    assert row.latest_button.layout.display is None and ">outdated<" in row.summary.value
    row.latest_button.click()
    assert client.applications.get(app, drift=False).source_version_id == version.id
    assert "Moving" in view.status.value
    moved = client.applications.wait(app, version=version)
    assert moved.running
    view.refresh()
    assert view.row(app.id).latest_button.layout.display == "none"


def test_dr_apps_shows_the_outdated_column(
    client: drn.Client, sandbox: Any, app: drn.Application, monkeypatch: pytest.MonkeyPatch
) -> None:
    from IPython.testing import globalipapp

    monkeypatch.setenv("DATAROBOT_ENDPOINT", sandbox.endpoint)
    monkeypatch.setenv("DATAROBOT_API_TOKEN", sandbox.token)
    monkeypatch.delenv("DATAROBOT_CONFIG_FILE", raising=False)
    globalipapp.start_ipython()
    ip = globalipapp.get_ipython()
    assert ip is not None
    ip.run_line_magic("load_ext", "dr_notebook")
    try:
        newer_version(client, app)
        frame = ip.run_line_magic("dr_apps", f"--name {app.name} --status running")
        assert (
            frame is not None and "outdated" in frame.columns and list(frame["outdated"]) == [True]
        )
    finally:
        ip.run_line_magic("unload_ext", "dr_notebook")
