"""The token never shows: not in reprs, error texts, tracebacks (locals included) or DEBUG logs."""

from __future__ import annotations

import logging
import pickle
import traceback
from collections.abc import Callable
from pathlib import Path

import pytest

import dr_notebook as drn
from dr_notebook import errors
from dr_notebook.sandbox.testing import SandboxServer


def failure(action: Callable[[], object]) -> BaseException:
    """The exception ``action`` raises, with its traceback."""
    try:
        action()
    except Exception as exc:
        return exc
    raise AssertionError("expected an error")


def every_rendering(err: BaseException) -> str:
    """str, repr, the formatted traceback, and the traceback with each frame's locals."""
    parts = [str(err), repr(err), "".join(traceback.format_exception(err))]
    with_locals = traceback.TracebackException.from_exception(err, capture_locals=True)
    parts.append("".join(with_locals.format()))
    return "\n".join(parts)


@pytest.fixture
def token(sandbox: SandboxServer) -> str:
    return sandbox.token


def test_client_reprs_hide_the_token(sandbox: SandboxServer, token: str) -> None:
    client = drn.Client(sandbox.endpoint, token, progress=False)
    transport = client._transport
    texts = [
        repr(client),
        str(client),
        repr(transport),
        repr(transport.settings),
        repr(transport._session.auth),
        repr(client.templates),
        repr(client.app_sources),
        str(vars(client)),
    ]
    for text in texts:
        assert token not in text
    assert repr(client) == f"Client(endpoint={sandbox.endpoint!r})"
    with pytest.raises(TypeError):
        pickle.dumps(client)


def test_errors_and_tracebacks_hide_the_token(
    sandbox: SandboxServer,
    sandbox_settings: Callable[..., SandboxServer],
    tmp_path: Path,
    token: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = tmp_path / "drconfig.yaml"
    config.write_text("max_retries: 1\n")
    monkeypatch.setenv("DATAROBOT_CONFIG_FILE", str(config))
    client = drn.Client(sandbox.endpoint, token, progress=False)
    bad_token = "sbx-wrong-" + token[::-1]
    bad = drn.Client(sandbox.endpoint, bad_token, progress=False)
    viewer_token = sandbox.tokens["viewer"]
    viewer = drn.Client(sandbox.endpoint, viewer_token, progress=False)
    app = client.templates.resolve("Flask App Base")
    disabled = next(t for t in client.templates.list() if not t.enabled)

    cases: list[tuple[type[errors.DataRobotError], Callable[[], object]]] = [
        (errors.AuthenticationError, bad.check_connection),
        (errors.PermissionDeniedError, lambda: viewer.templates.delete(app.id)),
        (errors.NotFoundError, lambda: client.templates.get("0" * 24)),
        (errors.ValidationError, lambda: client.app_sources.create_from_template(disabled.id)),
        (errors.InvalidArgumentError, lambda: client.templates.list(order_by="stars")),
        (errors.NotFoundError, lambda: client.templates.resolve("no such template")),
    ]
    found = [(cls, failure(action)) for cls, action in cases]

    sandbox_settings(fault_rate=1.0, fault_kind="503")
    found.append((errors.ServerError, failure(lambda: client.templates.get(app.id))))
    sandbox_settings(fault_rate=1.0, fault_kind="429", retry_after_s=0)
    found.append((errors.RateLimitError, failure(lambda: client.templates.list())))
    sandbox_settings(fault_rate=0.0, async_sources=True, async_delay_ms=0, async_outcome="ERROR")
    found.append(
        (errors.AsyncOperationError, failure(lambda: client.app_sources.create_from_template(app)))
    )
    sandbox_settings(async_outcome="COMPLETED", async_delay_ms=60_000)
    found.append(
        (
            errors.AsyncTimeoutError,
            failure(lambda: client.app_sources.create_from_template(app, timeout=0.5)),
        )
    )
    refused = drn.Client("http://127.0.0.1:9", token, progress=False)
    found.append((errors.DataRobotError, failure(refused.check_connection)))

    for cls, err in found:
        assert type(err) is cls, f"{cls.__name__}: got {type(err).__name__}: {err}"
        text = every_rendering(err)
        for secret in (token, bad_token, viewer_token):
            assert secret not in text, f"{cls.__name__} shows a token"
        assert "\n" not in str(err)


def test_configuration_error_with_token_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "lonely-token-0123456789abcdef"
    monkeypatch.delenv("DATAROBOT_ENDPOINT", raising=False)
    monkeypatch.setenv("DATAROBOT_API_TOKEN", secret)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("DATAROBOT_CONFIG_FILE", raising=False)
    err = failure(lambda: drn.Client(progress=False))
    assert isinstance(err, errors.ConfigurationError)
    assert "No DataRobot endpoint found" in str(err)
    assert secret not in every_rendering(err)


def test_debug_logs_hide_the_token(
    sandbox: SandboxServer,
    sandbox_settings: Callable[..., SandboxServer],
    token: str,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG, logger="dr_notebook")
    caplog.set_level(logging.DEBUG, logger="urllib3")
    caplog.set_level(logging.DEBUG)
    # One retry (from a config file, as a user sets it) shows the notice without the back-offs.
    (tmp_path / "drconfig.yaml").write_text("max_retries: 1\n")
    monkeypatch.setenv("DATAROBOT_CONFIG_FILE", str(tmp_path / "drconfig.yaml"))
    client = drn.Client(sandbox.endpoint, token, progress=False)
    app = client.templates.resolve("Flask App Base")
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "app.py").write_text("print(1)\n")
    (folder / "start-app.sh").write_text("#!/usr/bin/env bash\nexec python app.py\n")
    made = client.templates.create(
        name="Logged template",
        description="d",
        template_type="customApplicationTemplate",
        template_sub_type="flask",
        default_environment=("e", "v"),
        file=folder,
    )
    client.templates.delete(made.id)
    client.app_sources.create_from_template(app.id)
    sandbox_settings(fault_rate=1.0, fault_kind="503")
    with pytest.raises(errors.ServerError):
        client.templates.get(app.id)
    sandbox_settings(fault_rate=0.0)
    with pytest.raises(errors.AuthenticationError):
        drn.Client(sandbox.endpoint, token + "x", progress=False).check_connection()

    text = caplog.text
    assert "GET customTemplates/ -> 200" in text  # the client's own DEBUG line
    assert "Retrying GET" in text  # the retry notice
    assert "Starting new HTTP connection" in text  # urllib3's DEBUG lines were captured
    assert token not in text
