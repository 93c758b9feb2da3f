"""Source creation against an asynchronous server: 202, polling, 303, failures, timeouts."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

import dr_notebook as drn
from dr_notebook import errors
from dr_notebook.models import ApplicationSource, AsyncStatus, Template
from dr_notebook.sandbox.testing import SandboxServer

CREATE = "POST customApplicationSources/fromCustomTemplate/"


@pytest.fixture
def client(sandbox: SandboxServer) -> Iterator[drn.Client]:
    with drn.Client(sandbox.endpoint, sandbox.token, progress=False) as c:
        yield c


@pytest.fixture
def app_template(client: drn.Client) -> Template:
    return client.templates.resolve("Streamlit App Base")


def test_waits_through_statuses_to_the_source(
    client: drn.Client, app_template: Template, sandbox_settings: Callable[..., SandboxServer]
) -> None:
    sb = sandbox_settings(async_sources=True, async_delay_ms=1200)
    sb.reset_stats()
    seen: list[AsyncStatus] = []
    source = client.app_sources.create_from_template(app_template.id, on_status=seen.append)
    assert isinstance(source, ApplicationSource)
    assert sorted(i.file_path for i in source.files) == sorted(f.name for f in app_template.files)
    states = [s.status for s in seen]
    assert states[-1] == "COMPLETED"
    assert set(states[:-1]) <= {"INITIALIZED", "RUNNING"} and len(states) >= 2
    assert seen[-1].location is not None and source.id in seen[-1].location
    counts = sb.stats()["counts"]
    assert counts[CREATE] == 1
    polls = sum(n for key, n in counts.items() if key.startswith("GET status/"))
    assert polls == len(seen)
    # Back-off from 0.5 s: a 1.2 s job takes a handful of polls, not dozens.
    assert polls <= 6


def test_wait_false_returns_the_status_and_wait_finishes_it(
    client: drn.Client, app_template: Template, sandbox_settings: Callable[..., SandboxServer]
) -> None:
    sandbox_settings(async_sources=True, async_delay_ms=400)
    status = client.app_sources.create_from_template(app_template, wait=False)
    assert isinstance(status, AsyncStatus)
    assert status.status in {"INITIALIZED", "RUNNING"} and status.status_id
    source = client.app_sources.wait(status, timeout=30)
    assert isinstance(source, ApplicationSource)
    assert client.app_sources.get(source.id).name == source.name


@pytest.mark.parametrize("outcome", ["ERROR", "ABORTED", "EXPIRED"])
def test_failed_jobs_raise_with_the_job_message(
    client: drn.Client,
    app_template: Template,
    sandbox_settings: Callable[..., SandboxServer],
    outcome: str,
) -> None:
    sandbox_settings(async_sources=True, async_delay_ms=0, async_outcome=outcome)
    seen: list[AsyncStatus] = []
    with pytest.raises(errors.AsyncOperationError) as info:
        client.app_sources.create_from_template(app_template.id, on_status=seen.append)
    err = info.value
    assert err.status is not None and err.status.status == outcome
    assert str(err).startswith(f"Creating the application source from template {app_template.id}")
    assert f"ended {outcome}" in str(err)
    assert err.status.message and err.status.message in str(err)
    assert seen[-1].status == outcome


def test_timeout(
    client: drn.Client, app_template: Template, sandbox_settings: Callable[..., SandboxServer]
) -> None:
    sandbox_settings(async_sources=True, async_delay_ms=60_000)
    with pytest.raises(errors.AsyncTimeoutError) as info:
        client.app_sources.create_from_template(app_template.id, timeout=1)
    assert isinstance(info.value, TimeoutError)
    assert "did not finish within 1 s" in str(info.value)
    assert "client.app_sources.wait('http" in str(info.value)
    assert info.value.status is not None and info.value.status.status in {"INITIALIZED", "RUNNING"}


def test_completed_status_without_location_is_an_error_not_a_wait(
    client: drn.Client,
    app_template: Template,
    sandbox_settings: Callable[..., SandboxServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A server that answers 200 COMPLETED with no Location: the sandbox always sends its 303.
    sandbox_settings(async_sources=True, async_delay_ms=0)
    transport = client._transport
    send = transport.request

    def without_location(method: str, path_or_url: str, **kwargs: Any) -> requests.Response:
        response = send(method, path_or_url, **kwargs)
        if response.status_code != 303:
            return response
        body = dict(response.json(), status="COMPLETED")
        fake = requests.Response()
        fake.status_code = 200
        fake._content = json.dumps(body).encode()
        fake.headers["Content-Type"] = "application/json"
        fake.request = response.request
        return fake

    monkeypatch.setattr(transport, "request", without_location)
    with pytest.raises(errors.DataRobotError) as info:
        client.app_sources.create_from_template(app_template.id, timeout=3)
    assert not isinstance(info.value, errors.AsyncTimeoutError)
    assert "COMPLETED" in str(info.value) and "no Location" in str(info.value)
    assert "client.app_sources.list()" in str(info.value)


@pytest.mark.parametrize("timeout", [0, -1, float("nan"), float("inf")])
def test_bad_timeout_is_rejected(
    client: drn.Client, app_template: Template, timeout: float
) -> None:
    # Refused at once: NaN waited forever before.
    for call in (
        lambda: client.app_sources.create_from_template(app_template.id, timeout=timeout),
        lambda: client.launch(app_template, name="never made", timeout=timeout),
        lambda: client.applications.wait("0123456789abcdef01234567", timeout=timeout),
    ):
        with pytest.raises(errors.InvalidArgumentError, match="positive, finite"):
            call()
    assert client.applications.list(name="never made") == []


def test_progress_bar_is_chosen_per_call_and_never_drawn_off_the_main_thread(
    sandbox: SandboxServer,
    app_template: Template,
    sandbox_settings: Callable[..., SandboxServer],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A bar shows once a call takes PROGRESS_DELAY: shortened, with jobs to match.
    monkeypatch.setattr("dr_notebook.resources._progress.PROGRESS_DELAY", 0.1)
    sandbox_settings(async_sources=True, async_delay_ms=400)
    noisy = drn.Client(sandbox.endpoint, sandbox.token)
    noisy.app_sources.create_from_template(app_template.id)
    assert "Creating application source" in capsys.readouterr().err
    quiet = drn.Client(sandbox.endpoint, sandbox.token, progress=False)
    quiet.app_sources.create_from_template(app_template.id)
    assert capsys.readouterr().err == ""
    noisy.app_sources.create_from_template(app_template.id, progress=False)
    assert capsys.readouterr().err == ""
    quiet.app_sources.create_from_template(app_template.id, progress=True)
    assert "Creating application source" in capsys.readouterr().err
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(noisy.app_sources.create_from_template, app_template.id).result(timeout=60)
    assert capsys.readouterr().err == ""  # a worker thread gets no bar, whatever it asks
    assert noisy.progress is True and quiet.progress is False  # nothing flipped them
