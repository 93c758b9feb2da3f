"""client.launch and client.applications against a sandbox that really runs the applications
(--run-apps): the whole loop, a failed build, the start stage, and no process left behind."""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
from broken_app import CRASH_FILES, CRASH_FIRST_ERROR, CRASH_PRINTS

import dr_notebook as drn
from dr_notebook import errors
from dr_notebook.models import LaunchStep
from dr_notebook.sandbox.testing import processes_in, start_sandbox

pytestmark = [pytest.mark.slow, pytest.mark.skipif(os.name != "posix", reason="POSIX only")]


@pytest.fixture(scope="module")
def sb() -> Any:
    with start_sandbox(run_apps=True) as server:
        yield server
    assert processes_in(server.apps_dir) == []


@pytest.fixture(scope="module")
def client(sb: Any) -> drn.Client:
    return drn.Client(sb.endpoint, sb.token, progress=False)


def test_launch_open_logs_download_change_roll_delete(
    client: drn.Client, sb: Any, tmp_path: Path
) -> None:
    steps: list[LaunchStep] = []
    app = client.launch(
        "Flask App Base", name=f"Real {uuid.uuid4().hex[:6]}", on_status=steps.append
    )
    assert app.running and steps[0].stage == "source" and steps[-1].stage == "running"
    page = requests.get(app.application_url or "", timeout=10)
    assert "<h1>Flask App Base</h1>" in page.text
    logs = client.applications.logs(app)
    assert logs.build_status == "completed" and logs.lines
    assert not any(sb.token in line for line in logs.lines)

    folder = tmp_path / "src"
    written = client.app_sources.download(app.source_id or "", folder)
    assert folder / "templates" / "index.html" in written
    index = folder / "templates" / "index.html"
    index.write_text(index.read_text().replace("<h1>", "<h1>Edited: "))
    version = client.app_sources.new_version(app.source_id or "", {"templates/index.html": index})
    rolled = client.applications.update(app, source_version=version)
    assert rolled.running and rolled.source_version_id == version.id
    again = requests.get(rolled.application_url or "", timeout=10)
    assert "<h1>Edited: Flask App Base</h1>" in again.text

    assert processes_in(sb.apps_dir / app.id)
    client.applications.delete(app)
    assert processes_in(sb.apps_dir / app.id) == []
    with pytest.raises(errors.NotFoundError):
        client.applications.get(app.id)


def runnable_source(client: drn.Client, script: str) -> Any:
    source = client.app_sources.create(f"Script {uuid.uuid4().hex[:6]}")
    client.app_sources.new_version(source, {"start-app.sh": script})
    return source


def test_a_failed_build_raises_with_the_build_error_and_the_last_lines(
    client: drn.Client, sb: Any
) -> None:
    script = "#!/usr/bin/env bash\necho booting\necho 'fatal: no config file' >&2\nexit 3\n"
    source = runnable_source(client, script)
    steps: list[LaunchStep] = []
    with pytest.raises(errors.ApplicationFailedError) as caught:
        client.applications.create(source, name="crasher", on_status=steps.append)
    err = caught.value
    assert err.build_error and "exited with code 3" in err.build_error
    assert err.application is not None and err.application.failed
    assert "exited with code 3" in err.summary and "\n" not in err.summary
    assert re.search(r": fatal: no config file \(start-app.sh exited with code 3 before "
                     r"answering on port \d+\)\.$", err.summary)  # fmt: skip
    assert str(err).splitlines() == [
        err.summary,
        "Last 2 lines of its output:",
        "booting",
        "fatal: no config file",
        f"Logs: client.applications.logs({err.application.id!r}).",
    ]
    assert "fatal: no config file" in err.log_tail
    assert steps[-1].stage == "failed" and steps[-1].application is not None
    assert sb.token not in str(err) and sb.token not in repr(err)
    client.applications.delete(err.application)


def test_a_traceback_keeps_its_line_breaks_and_the_message_one_hint(client: drn.Client) -> None:
    source = client.app_sources.create(f"Crash {uuid.uuid4().hex[:6]}")
    client.app_sources.new_version(source, CRASH_FILES)
    with pytest.raises(errors.ApplicationFailedError) as caught:
        client.applications.create(source, name="traceback crasher")
    err = caught.value
    assert err.application is not None
    lines = str(err).splitlines()
    reason = r" \(start-app.sh exited with code 1 before answering on port \d+\)\.$"
    assert lines[0] == err.summary and re.search(re.escape(CRASH_FIRST_ERROR) + reason, lines[0])
    tail = client.applications.logs(err.application).lines
    assert tail[: len(CRASH_PRINTS)] == list(CRASH_PRINTS) and len(tail) > 6  # control
    assert lines[1:] == [
        f"Last {len(tail)} lines of its output:",
        *tail,
        f"Logs: client.applications.logs({err.application.id!r}).",
    ]
    code = next(i for i, line in enumerate(lines) if "config = json.loads(" in line)
    assert re.fullmatch(r" +\^+", lines[code + 1])  # the caret line, on its own, under it
    assert str(err).count("Logs:") == 1 and str(err).count("booting") == 1
    assert str(err).count(CRASH_FIRST_ERROR) == 2  # the lead, and the traceback's own end
    client.applications.delete(err.application)


def test_an_app_slow_to_listen_reports_the_start_stage(client: drn.Client) -> None:
    script = '#!/usr/bin/env bash\nsleep 2\nexec python -m http.server "$PORT" --bind 127.0.0.1\n'
    source = runnable_source(client, script)
    steps: list[LaunchStep] = []
    app = client.applications.create(source, name="slow starter", on_status=steps.append)
    stages = [s.stage for s in steps]
    assert "start" in stages and stages[-1] == "running"
    assert stages.index("start") > stages.index("build")
    client.applications.delete(app)


def test_a_python_crash_leads_the_error_and_the_logs_with_its_first_error(
    client: drn.Client,
) -> None:
    script = (
        "#!/usr/bin/env bash\necho 'INFO starting'\n"
        "python -c 'import json; json.loads(\"{bad\")'\nexit 1\n"
    )
    source = runnable_source(client, script)
    with pytest.raises(errors.ApplicationFailedError) as caught:
        client.applications.create(source, name="python crasher")
    err = caught.value
    first = "json.decoder.JSONDecodeError: Expecting property name enclosed in double quotes"
    assert err.first_error and err.first_error.startswith(first)
    assert str(err).split(" s: ", 1)[1].startswith(first)  # it leads the message
    assert err.application is not None
    logs = client.applications.logs(err.application)
    assert logs.first_error == err.first_error
    assert client.applications.logs(err.application, grep="INFO").lines == ["INFO starting"]
    runtime = client.applications.logs(err.application, source="runtime")
    assert runtime.build_log is None and runtime.first_error == err.first_error
    client.applications.delete(err.application)
