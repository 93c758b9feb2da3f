"""The HTTP layer: retries, back-off, Retry-After, POST safety, timeouts, headers."""

from __future__ import annotations

import importlib.metadata
import inspect
import re
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from packaging.requirements import Requirement
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

import dr_notebook as drn
from dr_notebook import errors
from dr_notebook.config import Secret, resolve_settings
from dr_notebook.http import USER_AGENT, BearerAuth, RetryPolicy, Transport
from dr_notebook.sandbox.testing import SandboxServer

CREATE_SOURCE = "POST customApplicationSources/fromCustomTemplate/"


def client_with(
    sandbox: SandboxServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    max_retries: int,
    token: str | None = None,
    **kwargs: Any,
) -> drn.Client:
    """A client whose max_retries comes from a config file, as a user would set it."""
    config = tmp_path / "drconfig.yaml"
    config.write_text(f"max_retries: {max_retries}\n")
    monkeypatch.setenv("DATAROBOT_CONFIG_FILE", str(config))
    return drn.Client(sandbox.endpoint, token or sandbox.token, progress=False, **kwargs)


def counts(sandbox: SandboxServer) -> dict[str, int]:
    return sandbox.stats()["counts"]


def statuses(sandbox: SandboxServer, path: str) -> list[int]:
    return [r["status"] for r in sandbox.stats()["requests"] if r["path"] == path]


@pytest.fixture
def some_id(sandbox: SandboxServer) -> str:
    body = requests.get(
        f"{sandbox.endpoint}/customTemplates/?limit=1", headers=sandbox.auth_headers(), timeout=30
    ).json()
    return body["data"][0]["id"]


# -- retries against the sandbox's fault injection ----------------------------------------------


def test_get_is_retried_on_503_until_the_budget_then_server_error(
    sandbox_settings: Callable[..., SandboxServer],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    some_id: str,
) -> None:
    sb = sandbox_settings(fault_rate=1.0, fault_kind="503")
    sb.reset_stats()
    client = client_with(sb, tmp_path, monkeypatch, max_retries=3)
    with pytest.raises(errors.ServerError) as info:
        client.templates.get(some_id)
    assert statuses(sb, f"customTemplates/{some_id}/") == [503] * 4
    assert info.value.status_code == 503
    assert "(after 4 attempts" in str(info.value)
    assert str(info.value).startswith(f"503 Service Unavailable on GET customTemplates/{some_id}/")


def test_get_recovers_when_faults_are_intermittent(
    sandbox_factory: Callable[..., SandboxServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Seed 1: the first request (page one) draws a 503, its retry a 429; later draws vary.
    # One worker: no speculative pages, so the draws come in the order of the pages.
    sb = sandbox_factory(fault_rate=0.3, fault_kind="mixed", seed=1, generate=450, demo=False)
    client = client_with(sb, tmp_path, monkeypatch, max_retries=8, max_workers=1)
    templates = client.templates.list()
    assert len(templates) == 450 and len({t.id for t in templates}) == 450
    seen = statuses(sb, "customTemplates/")
    assert seen.count(200) == 5  # five pages, each delivered once
    assert seen[:3] == [503, 429, 200]  # page one: both fault kinds retried on the way


def test_429_honours_retry_after(
    sandbox_settings: Callable[..., SandboxServer],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    some_id: str,
) -> None:
    sb = sandbox_settings(fault_rate=1.0, fault_kind="429", retry_after_s=1)
    sb.reset_stats()
    client = client_with(sb, tmp_path, monkeypatch, max_retries=1)
    started = time.monotonic()
    with pytest.raises(errors.RateLimitError) as info:
        client.templates.get(some_id)
    elapsed = time.monotonic() - started
    assert statuses(sb, f"customTemplates/{some_id}/") == [429, 429]
    # Full-jitter back-off alone would wait at most 0.5 s before the first retry.
    assert elapsed >= 1.0
    assert info.value.retry_after == 1.0


def test_retry_after_beyond_the_budget_ends_the_retries(
    sandbox_settings: Callable[..., SandboxServer],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    some_id: str,
) -> None:
    sb = sandbox_settings(fault_rate=1.0, fault_kind="429", retry_after_s=3600)
    sb.reset_stats()
    client = client_with(sb, tmp_path, monkeypatch, max_retries=5)
    with pytest.raises(errors.RateLimitError) as info:
        client.templates.get(some_id)
    assert statuses(sb, f"customTemplates/{some_id}/") == [429]
    assert info.value.retry_after == 3600


def test_post_answered_503_is_sent_exactly_once(
    sandbox_settings: Callable[..., SandboxServer],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    some_id: str,
) -> None:
    sb = sandbox_settings(fault_rate=1.0, fault_kind="503")
    sb.reset_stats()
    client = client_with(sb, tmp_path, monkeypatch, max_retries=5)
    with pytest.raises(errors.ServerError) as info:
        client.app_sources.create_from_template(some_id)
    assert counts(sb) == {CREATE_SOURCE: 1}
    assert "attempts" not in str(info.value)


def test_post_answered_429_is_not_retried_either(
    sandbox_settings: Callable[..., SandboxServer],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sb = sandbox_settings(fault_rate=1.0, fault_kind="429", retry_after_s=0)
    sb.reset_stats()
    client = client_with(sb, tmp_path, monkeypatch, max_retries=5)
    with pytest.raises(errors.RateLimitError):
        client.templates.create(
            name="n",
            description="d",
            template_type="customApplicationTemplate",
            template_sub_type="flask",
            default_environment=("e", "v"),
            file=b"print(1)\n",
        )
    assert counts(sb) == {"POST customTemplates/": 1}


def test_patch_and_delete_are_retried(
    sandbox_settings: Callable[..., SandboxServer],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sb = sandbox_settings(fault_rate=1.0, fault_kind="503")
    sb.reset_stats()
    client = client_with(sb, tmp_path, monkeypatch, max_retries=2)
    with pytest.raises(errors.ServerError):
        client.templates.update("a" * 24, name="x")
    with pytest.raises(errors.ServerError):
        client.templates.delete("a" * 24)
    assert counts(sb) == {
        f"PATCH customTemplates/{'a' * 24}/": 3,
        f"DELETE customTemplates/{'a' * 24}/": 3,
    }


def test_retry_policy_backoff_is_full_jitter_and_bounded() -> None:
    policy = RetryPolicy(total=10, backoff_factor=0.5, backoff_max=4.0)
    for failures, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (6, 4.0)]:
        step = policy
        for _ in range(failures):
            step = step.increment("GET", "/x", error=None, response=None)
        waits = [step.get_backoff_time() for _ in range(200)]
        assert all(0 <= w <= ceiling for w in waits)
        assert max(waits) > ceiling / 2  # spread over the whole range, not a fixed delay
    assert policy.get_backoff_time() == 0.0


def test_retry_policy_time_budget() -> None:
    policy = RetryPolicy(total=100, max_time=0.2, backoff_factor=0)
    step = policy.increment("GET", "/x")
    assert step.deadline is not None
    time.sleep(0.25)
    with pytest.raises(Exception, match="budget"):
        step.increment("GET", "/x")


# -- faults a sandbox cannot produce: a raw socket that misbehaves ------------------------------


class RawServer:
    """A socket that reads each request's head, records it, then resets or stalls."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.heads: list[str] = []
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v2"

    def _serve(self) -> None:
        held: list[socket.socket] = []
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            conn.settimeout(2)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
            self.heads.append(data.split(b"\r\n\r\n")[0].decode("latin-1"))
            if self.mode == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()
            else:
                held.append(conn)  # "stall": never answer
        for conn in held:
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._sock.close()


@pytest.fixture
def raw_server() -> Iterator[Callable[[str], RawServer]]:
    servers: list[RawServer] = []

    def start(mode: str) -> RawServer:
        servers.append(RawServer(mode))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def raw_client(
    server: RawServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **kwargs: Any
) -> drn.Client:
    config = tmp_path / "drconfig.yaml"
    config.write_text("max_retries: 2\n")
    monkeypatch.setenv("DATAROBOT_CONFIG_FILE", str(config))
    return drn.Client(server.endpoint, "raw-token-0123456789abcdef", progress=False, **kwargs)


def test_connection_reset_mid_post_is_not_retried(
    raw_server: Callable[[str], RawServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = raw_server("reset")
    client = raw_client(server, tmp_path, monkeypatch)
    with pytest.raises(errors.DataRobotError) as info:
        client.app_sources.create_from_template("a" * 24)
    assert [h.split("\r\n")[0] for h in server.heads] == [
        "POST /api/v2/customApplicationSources/fromCustomTemplate/ HTTP/1.1"
    ]
    text = str(info.value)
    assert "during POST customApplicationSources/fromCustomTemplate/" in text
    assert "not retried" in text and info.value.status_code is None


def test_a_patch_that_moves_an_application_is_not_retried_once_sent(
    raw_server: Callable[[str], RawServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = raw_server("reset")
    client = raw_client(server, tmp_path, monkeypatch)
    with pytest.raises(errors.DataRobotError, match="not retried") as info:
        client.applications.update("a" * 24, source_version="b" * 24, wait=False)
    assert len(server.heads) == 1  # a retry would restart the application again
    assert "during PATCH customApplications/" in str(info.value)
    # Control: a rename repeats harmlessly, so it is retried.
    with pytest.raises(errors.DataRobotError):
        client.applications.update("a" * 24, name="renamed", wait=False)
    assert len(server.heads) == 4


def test_an_endpoint_without_its_scheme_is_said_not_a_tls_error(
    sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "drconfig.yaml"
    config.write_text("max_retries: 0\n")
    monkeypatch.setenv("DATAROBOT_CONFIG_FILE", str(config))
    bare = sandbox.endpoint.removeprefix("http://").removesuffix("/api/v2")  # 127.0.0.1:PORT
    client = drn.Client(bare, sandbox.token, progress=False)
    with pytest.raises(errors.DataRobotError) as info:
        client.templates.list()
    text = str(info.value)
    assert "without http:// or https://" in text and f"as {sandbox.endpoint}" in text
    assert "ssl_verify" not in text
    # https:// written out to the plain-HTTP sandbox: the same hint, not a CA bundle one
    typed = drn.Client(f"https://{bare}", sandbox.token, progress=False)
    with pytest.raises(errors.DataRobotError) as info:
        typed.templates.list()
    text = str(info.value)
    assert "speaks plain HTTP" in text and f"as {sandbox.endpoint}" in text, text
    assert "ssl_verify" not in text and "CA bundle" not in text


def test_a_real_tls_problem_names_ssl_verify(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Control for the plain-HTTP hint: a TLS server with a certificate nobody trusts."""
    import http.server
    import ssl
    import subprocess
    import threading

    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    config = tmp_path / "drconfig.yaml"
    config.write_text("max_retries: 0\n")
    monkeypatch.setenv("DATAROBOT_CONFIG_FILE", str(config))
    try:
        client = drn.Client(f"https://127.0.0.1:{server.server_address[1]}", "t", progress=False)
        with pytest.raises(errors.DataRobotError) as info:
            client.templates.list()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
    assert "ssl_verify" in str(info.value) and "plain HTTP" not in str(info.value)


def test_connection_reset_on_get_is_retried(
    raw_server: Callable[[str], RawServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = raw_server("reset")
    client = raw_client(server, tmp_path, monkeypatch)
    with pytest.raises(errors.DataRobotError, match="connection broke during GET customTemplates/"):
        client.templates.get("a" * 24)
    assert len(server.heads) == 3


def test_every_request_has_user_agent_and_bearer_token(
    raw_server: Callable[[str], RawServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = raw_server("reset")
    client = raw_client(server, tmp_path, monkeypatch)
    with pytest.raises(errors.DataRobotError):
        client.templates.get("a" * 24)
    head = server.heads[0].lower()
    assert f"user-agent: {USER_AGENT}".lower() in head
    assert "authorization: bearer raw-token-0123456789abcdef" in head


def test_read_timeouts(
    raw_server: Callable[[str], RawServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = raw_server("stall")
    client = raw_client(server, tmp_path, monkeypatch, request_timeout=(2, 0.3))
    with pytest.raises(errors.DataRobotError, match=r"timed out .*pass a longer request_timeout="):
        client.templates.get("a" * 24)
    assert len(server.heads) == 3
    with pytest.raises(errors.DataRobotError, match="may have reached the server"):
        client.app_sources.create_from_template("a" * 24)
    assert len(server.heads) == 4


def test_connection_refused_names_the_endpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = tmp_path / "drconfig.yaml"
    config.write_text("max_retries: 0\n")
    monkeypatch.setenv("DATAROBOT_CONFIG_FILE", str(config))
    client = drn.Client(f"http://127.0.0.1:{port}", "t0ken-0123456789abcdef", progress=False)
    with pytest.raises(errors.DataRobotError) as info:
        client.templates.list()
    text = str(info.value)
    assert text.startswith(f"Cannot connect to http://127.0.0.1:{port}/api/v2 (")
    assert "check the endpoint" in text
    assert info.value.__cause__ is None and info.value.__context__ is None


# -- where the token goes ------------------------------------------------------------------------


def test_token_only_sent_to_the_endpoint_origin() -> None:
    auth = BearerAuth(Secret("tok"), "https://app.example.com/api/v2")
    own = auth(requests.Request("GET", "https://app.example.com:443/api/v2/x/").prepare())
    other = auth(requests.Request("GET", "https://evil.example.com/api/v2/x/").prepare())
    downgraded = auth(requests.Request("GET", "http://app.example.com/api/v2/x/").prepare())
    assert own.headers["Authorization"] == "Bearer tok"
    assert "Authorization" not in other.headers
    assert "Authorization" not in downgraded.headers


def test_server_urls_are_rebased_onto_the_endpoint(tmp_path: Path) -> None:
    settings = resolve_settings("https://app.example.com", "t", environ={}, home=tmp_path)
    transport = Transport(settings)
    assert transport.url("customTemplates/") == "https://app.example.com/api/v2/customTemplates/"
    same = "https://app.example.com/api/v2/status/1/"
    assert transport.url(same) == same
    assert (
        transport.url("http://internal:8080/api/v2/customTemplates/?offset=100&limit=100")
        == "https://app.example.com/api/v2/customTemplates/?offset=100&limit=100"
    )
    with pytest.raises(errors.DataRobotError, match="outside the endpoint"):
        transport.url("https://elsewhere.example.com/login")


def test_connection_pool_sized_to_pool_size(tmp_path: Path) -> None:
    settings = resolve_settings("https://h", "t", environ={}, home=tmp_path)
    transport = Transport(settings, pool_size=13)
    adapter = transport._session.get_adapter("https://h/api/v2/")
    assert isinstance(adapter, HTTPAdapter)
    assert adapter.poolmanager.connection_pool_kw["maxsize"] == 13
    assert isinstance(adapter.max_retries, RetryPolicy)
    allowed = adapter.max_retries.allowed_methods
    assert allowed is not None and "POST" not in allowed


def test_client_pool_holds_the_listing_workers_and_more(tmp_path: Path) -> None:
    """A listing's workers, the gallery's worker and the caller's own calls at once."""
    client = drn.Client("https://h", "t", max_workers=5)
    adapter = client._transport._session.get_adapter("https://h/api/v2/")
    assert isinstance(adapter, HTTPAdapter)
    assert adapter.poolmanager.connection_pool_kw["maxsize"] >= 5 + 2


def test_urllib3_floor_has_the_retry_options_the_policy_uses() -> None:
    # Retry(retry_after_max=...) exists from urllib3 2.6.3; requests alone allows older ones.
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    # A line of the core dependencies list (tomllib needs Python 3.11; the project allows 3.10).
    line = re.search(r'^\s*"(urllib3\b[^"]*)"', pyproject.read_text(encoding="utf-8"), re.M)
    assert line is not None, "urllib3 is not a declared dependency"
    urllib3_req = Requirement(line.group(1))
    assert not urllib3_req.specifier.contains("2.6.2")
    assert urllib3_req.specifier.contains("2.6.3")
    assert urllib3_req.specifier.contains(importlib.metadata.version("urllib3"))
    assert "retry_after_max" in inspect.signature(Retry).parameters
