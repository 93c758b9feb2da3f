"""The loop's magics in a real IPython shell against a sandbox that runs the apps: ``--param``
(text, @file, ? through getpass), a missing required one as one line, ``--follow`` and
``--sync [--watch]`` ending on the app's end or a kernel interrupt without a traceback."""

from __future__ import annotations

import _thread
import getpass
import os
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from IPython.core.interactiveshell import InteractiveShell
from IPython.testing import globalipapp
from IPython.utils.capture import capture_output

import dr_notebook as drn
from dr_notebook.sandbox.service.parameters import CREDENTIAL_MASK
from dr_notebook.sandbox.testing import processes_in, start_sandbox

pytestmark = [pytest.mark.slow, pytest.mark.skipif(os.name != "posix", reason="POSIX only")]

SECRET = "sk-typed-at-a-prompt-5150"
TICKER = """#!/usr/bin/env bash
python -m http.server "$PORT" --bind "${BIND_ADDRESS:-127.0.0.1}" >/dev/null 2>&1 &
i=0
while true; do printf "\\033[2K\\033[33mtick\\033[0m $i\\n"; i=$((i+1)); sleep 0.05; done
"""


@pytest.fixture(scope="module")
def sb() -> Iterator[Any]:
    with start_sandbox(run_apps=True) as server:
        yield server
    assert processes_in(server.apps_dir) == []


@pytest.fixture(scope="module")
def client(sb: Any) -> drn.Client:
    return drn.Client(sb.endpoint, sb.token, progress=False)


@pytest.fixture
def shell(sb: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[InteractiveShell]:
    monkeypatch.setenv("DATAROBOT_ENDPOINT", sb.endpoint)
    monkeypatch.setenv("DATAROBOT_API_TOKEN", sb.token)
    monkeypatch.delenv("DATAROBOT_CONFIG_FILE", raising=False)
    globalipapp.start_ipython()
    ip = globalipapp.get_ipython()
    assert ip is not None
    ip.run_line_magic("load_ext", "dr_notebook")
    ip.run_line_magic("config", "DataRobotMagics.progress = False")
    yield ip
    ip.run_line_magic("unload_ext", "dr_notebook")
    ip.config.DataRobotMagics.clear()


def run(ip: InteractiveShell, source: str) -> tuple[Any, BaseException | None, str]:
    with capture_output() as captured:
        result = ip.run_cell(source, store_history=True)
    shown = [str(o.data) for o in captured.outputs]
    error = result.error_in_exec or result.error_before_exec
    return result.result, error, "\n".join([captured.stdout, captured.stderr, *shown])


def rendered(error: BaseException | None) -> list[str]:
    assert error is not None
    return error._render_traceback_()  # type: ignore[attr-defined]


def test_a_missing_required_parameter_is_one_line_naming_it(
    shell: InteractiveShell, client: drn.Client
) -> None:
    sources = len(client.app_sources.list())
    _, error, _ = run(shell, "%dr_new_app NIM-hosted LLM Chat --name nim-missing --param NOPE=1")
    [line] = rendered(error)
    assert line.startswith("RuntimeParameterError: ")
    assert "missing required NIM_API_KEY (API key for the NIM deployment)" in line
    assert "NOPE: not a parameter" in line
    assert len(client.app_sources.list()) == sources  # nothing was created
    _, error, _ = run(shell, "%dr_new_app Flask App Base --param =x")
    assert "NAME=VALUE" in rendered(error)[0]


def test_params_from_text_a_file_and_a_hidden_prompt(
    shell: InteractiveShell, client: drn.Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prompt = tmp_path / "prompt.txt"
    prompt.write_text("Answer in French.\n")
    asked: list[str] = []
    monkeypatch.setattr(getpass, "getpass", lambda text="": asked.append(text) or SECRET)
    name = f"nim-{uuid.uuid4().hex[:6]}"
    app, error, output = run(
        shell,
        f"%dr_new_app NIM-hosted LLM Chat --name {name} --no-wait --param NIM_API_KEY=? "
        f"--param NIM_BASE_URL='http://nim.local/v1' --param DEFAULT_TEMPERATURE=@{prompt}",
    )
    assert error is None and isinstance(app, drn.models.Application)
    assert asked == ["NIM_API_KEY: "]
    built = client.app_sources.runtime_parameters(app.source_id or "", app.source_version_id or "")
    values = {p.field_name: p.current_value for p in built}
    assert values == {
        "NIM_BASE_URL": "http://nim.local/v1",
        "NIM_API_KEY": CREDENTIAL_MASK,
        "DEFAULT_TEMPERATURE": "Answer in French.",
    }
    history = "\n".join(shell.history_manager.input_hist_raw)  # type: ignore[union-attr]
    assert "NIM_API_KEY=?" in history  # positive control: the line is there
    assert SECRET not in history and SECRET not in output and SECRET not in repr(app)
    for found in client.applications.list(name=name):
        client.applications.delete(found)


def test_follow_streams_until_the_app_ends_and_an_interrupt_is_one_line(
    shell: InteractiveShell, client: drn.Client
) -> None:
    source = client.app_sources.create(f"Ticker {uuid.uuid4().hex[:6]}")
    client.app_sources.new_version(source, {"start-app.sh": TICKER}, base_version=None)
    app = client.applications.create(source, name=f"ticker-{uuid.uuid4().hex[:6]}")
    threading.Timer(2.0, client.applications.delete, args=(app,)).start()
    _, error, output = run(shell, f"%dr_app {app.id} --follow")
    assert error is None and "tick" in output and "no more lines to follow (it ended" in output
    assert "\x1b[33mtick\x1b[0m" in output and "\x1b[2K" not in output  # colours kept only

    again = client.applications.create(source, name=f"ticker-{uuid.uuid4().hex[:6]}")
    threading.Timer(1.5, _thread.interrupt_main).start()
    _, error, output = run(shell, f"%dr_app {again.id} --follow")
    assert error is None and "Traceback" not in output
    assert "Stopped following" in output
    client.applications.delete(again)


def test_sync_and_watch_roll_a_folder_onto_the_app(
    shell: InteractiveShell, client: drn.Client, tmp_path: Path
) -> None:
    app = client.launch("Flask App Base", name=f"edit-{uuid.uuid4().hex[:6]}")
    folder = tmp_path / "flask"
    client.app_sources.download(app.source_id or "", folder)
    index = folder / "templates" / "index.html"
    index.write_text(index.read_text().replace("<h1>", "<h1>Magic: "))
    _, error, output = run(shell, f"%dr_app {app.id} --sync {folder}")
    assert error is None and "1 changed (templates/index.html)" in output
    assert "<h1>Magic: Flask" in requests.get(app.application_url or "", timeout=10).text

    def save_then_interrupt() -> None:
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and "Watching " not in captured():
                time.sleep(0.05)  # polls the cell's output for the line the watch prints
            index.write_text(index.read_text().replace("Magic: ", "Watched: "))
            deadline = time.monotonic() + 30
            # the roll's line, printed into the cell's captured output
            while time.monotonic() < deadline and "-> version" not in captured():
                time.sleep(0.1)
        finally:
            _thread.interrupt_main()

    def captured() -> str:
        getvalue = getattr(sys.stdout, "getvalue", None)  # capture_output's StringIO
        return getvalue() if getvalue is not None else ""

    threading.Thread(target=save_then_interrupt).start()
    _, error, output = run(shell, f"%dr_app {app.id} --sync {folder} --watch")
    assert error is None and "Traceback" not in output
    assert "Watching" in output and "Stopped watching" in output and "(1 synced)" in output
    assert "<h1>Watched: Flask" in requests.get(app.application_url or "", timeout=10).text
    _, error, _ = run(shell, f"%dr_app {app.id} --watch")
    assert "--watch goes with --sync" in str(error)
    client.applications.delete(app)
