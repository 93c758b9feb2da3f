"""The developer's loop against a sandbox that runs the apps (--run-apps): follow_logs sees the
lines made after it started and ends on delete; sync changes the page served; runtime
parameters and defaults reach the app's environment; credentials stay out of every output."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

import dr_notebook as drn
from dr_notebook.sandbox.testing import processes_in, start_sandbox

pytestmark = [pytest.mark.slow, pytest.mark.skipif(os.name != "posix", reason="POSIX only")]

TICKER = """#!/usr/bin/env bash
python -m http.server "$PORT" --bind "${BIND_ADDRESS:-127.0.0.1}" >/dev/null 2>&1 &
i=0
while true; do echo "tick $i"; i=$((i+1)); sleep 0.05; done
"""
ENV_APP = """#!/usr/bin/env bash
env | grep '^MLOPS_RUNTIME_PARAM_' | sort | sed 's/^/param /'
printf '%s' "$MLOPS_RUNTIME_PARAM_TOKEN" | sha256sum | sed 's/^/sha256 /'
exec python -m http.server "$PORT" --bind "${BIND_ADDRESS:-127.0.0.1}"
"""
METADATA = """\
runtimeParameterDefinitions:
  - fieldName: GREETING
    type: string
    defaultValue: hello
  - fieldName: LIMIT
    type: numeric
    minValue: 1
    maxValue: 10
  - fieldName: TOKEN
    type: credential
"""


@pytest.fixture(scope="module")
def sb() -> Any:
    with start_sandbox(run_apps=True) as server:
        yield server
    assert processes_in(server.apps_dir) == []


@pytest.fixture(scope="module")
def client(sb: Any) -> drn.Client:
    return drn.Client(sb.endpoint, sb.token, progress=False)


def app_from(client: drn.Client, files: dict[str, str], **kwargs: Any) -> drn.models.Application:
    source = client.app_sources.create(f"Live {uuid.uuid4().hex[:6]}")
    client.app_sources.new_version(source, files, base_version=None)
    return client.applications.create(source, name=f"live-{uuid.uuid4().hex[:6]}", **kwargs)


def test_follow_logs_sees_new_lines_once_and_ends_on_delete(client: drn.Client, sb: Any) -> None:
    app = app_from(client, {"start-app.sh": TICKER})
    seen: list[str] = []
    enough = threading.Event()

    def reader() -> None:
        for line in client.applications.follow_logs(app, timeout=60):
            seen.append(line)
            if len(seen) >= 40:
                enough.set()

    follower = threading.Thread(target=reader)
    follower.start()
    assert enough.wait(30), seen
    client.applications.delete(app)
    follower.join(15)
    assert not follower.is_alive()  # deleting the application ended the iterator
    numbers = [int(line.split()[1]) for line in seen if line.startswith("tick ")]
    # every line once and none missing, from the first the server held to the last read
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
    assert processes_in(sb.apps_dir / app.id) == []


def test_sync_changes_the_page_served(client: drn.Client, tmp_path: Path) -> None:
    app = client.launch("Flask App Base", name=f"edit-{uuid.uuid4().hex[:6]}")
    folder = tmp_path / "flask"
    client.app_sources.download(app.source_id or "", folder)
    index = folder / "templates" / "index.html"
    index.write_text(index.read_text().replace("<h1>", "<h1>Synced: "))
    result = client.applications.sync(app, folder)
    assert result.changed == ("templates/index.html",) and result.application.running
    page = requests.get(result.application.application_url or "", timeout=10)
    assert "<h1>Synced: Flask App Base</h1>" in page.text
    client.applications.delete(app)


def test_parameters_and_defaults_reach_the_app_and_the_credential_stays_hidden(
    client: drn.Client,
) -> None:
    secret = "sk-live-secret-31337"
    app = app_from(
        client,
        {"start-app.sh": ENV_APP, "metadata.yaml": METADATA},
        runtime_parameters={"LIMIT": "3", "TOKEN": secret},
    )
    lines = client.applications.logs(app).lines
    params = dict(line[6:].split("=", 1) for line in lines if line.startswith("param "))
    assert params["MLOPS_RUNTIME_PARAM_GREETING"] == "hello"  # the default
    assert params["MLOPS_RUNTIME_PARAM_LIMIT"] == "3"
    assert params["MLOPS_RUNTIME_PARAM_TOKEN"] == "[redacted]"  # printed, but not served
    payload = {"credentialType": "api_token", "apiToken": secret}
    given = json.dumps({"type": "credential", "payload": payload})
    digest = next(line.split()[1] for line in lines if line.startswith("sha256 "))
    assert digest == hashlib.sha256(given.encode()).hexdigest()  # the app has it...
    version = client.app_sources.version(app.source_id or "", app.source_version_id or "")
    # ...nothing else shows it
    assert secret not in repr(version.runtime_parameters) and secret not in repr(app)
    assert secret not in str(version.to_api())
    client.applications.delete(app)


COLOUR_TICKER = TICKER.replace('echo "tick $i"', 'printf "\\033[32mtick\\033[0m $i\\n"')


def test_the_gallery_follow_toggle_streams_coloured_lines_without_making_widgets(
    client: drn.Client,
) -> None:
    import ipywidgets as widgets

    from dr_notebook.gallery.applications import ApplicationsView

    app = app_from(client, {"start-app.sh": COLOUR_TICKER})
    view = ApplicationsView(lambda: client)
    view.refresh()
    view.show_logs(app.id)
    created: list[str] = []
    widgets.Widget.on_widget_constructed(lambda w: created.append(type(w).__name__))
    setters: set[int] = set()
    view.logs.observe(lambda _c: setters.add(threading.get_ident()), names="value")
    try:
        view.follow.value = True
        assert view.following == app.id
        deadline = time.monotonic() + 30
        # show_logs already put the last lines there: wait for the Follow thread's own view
        while time.monotonic() < deadline and not (
            view.logs.value.count("tick") >= 20 and "Following the logs" in view.logs.value
        ):
            time.sleep(0.1)
            view._guard.drain()  # the Follow thread posts; this (the face's) thread applies
        shown = view.logs.value
        assert shown.count("tick") >= 20 and "Following the logs" in shown
        assert '<span style="color:#0dbc79">tick</span>' in shown and "\x1b" not in shown
        client.applications.delete(app)
        while time.monotonic() < deadline and view.follow.value:
            time.sleep(0.1)
            view._guard.drain()
        assert not view.follow.value and view.following is None  # ended with the app
        assert "the application ended" in view.logs.value
    finally:
        widgets.Widget._widget_construction_callback = None
        view.stop_following()
    assert created == []
    assert setters == {threading.get_ident()}
