"""The proxy over real sockets: a real app (Unix socket or TCP) behind a real proxy process."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from dr_notebook.sandbox.testing.proxy import Served, pattern, pattern_sha256, serve

APP = "/custom_applications/abc"
TOKEN = "sandbox-token-9f8e7d"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Unix socket paths are short (108 bytes): a fresh short temporary folder.
    return tmp_path_factory.mktemp("px")


@pytest.fixture(scope="module")
def unix_front(folder: Path) -> Iterator[Served]:
    with (
        serve("upstream", socket_path=folder / "app.sock") as app,
        serve("front", env={"DR_PROXY_UPSTREAM": app.upstream_spec}) as front,
    ):
        yield front


@pytest.fixture(scope="module")
def tcp_front() -> Iterator[Served]:
    with (
        serve("upstream") as app,
        serve(
            "front",
            env={"DR_PROXY_UPSTREAM": app.upstream_spec, "DR_PROXY_USER_EMAIL": "me@example.com"},
        ) as front,
    ):
        yield front


@pytest.fixture(scope="module")
def script_front(folder: Path) -> Iterator[Served]:
    """An older app: routes under ``SCRIPT_NAME``; the proxy keeps the prefix."""
    with (
        serve("upstream", socket_path=folder / "old.sock", env={"SCRIPT_NAME": APP}) as app,
        serve(
            "front", env={"DR_PROXY_UPSTREAM": app.upstream_spec, "DR_PROXY_ROOT_PATH": "0"}
        ) as front,
    ):
        yield front


@pytest.fixture(params=["unix", "tcp"])
def front(request: pytest.FixtureRequest) -> Served:
    return request.getfixturevalue(f"{request.param}_front")


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE"])
def test_every_method_reaches_the_app_with_its_body_and_query(front: Served, method: str) -> None:
    body = f"{method} body ü".encode()
    with front.client() as client:
        answer = client.request(method, f"{APP}/echo?a=1&b=%2F", content=body)
    assert answer.status_code == 200
    echoed = answer.json()
    assert echoed["method"] == method
    assert echoed["path"] == "/echo"  # root path mode: the prefix is not the app's business
    assert echoed["query"] == "a=1&b=%2F"
    assert echoed["body"] == body.decode()
    assert echoed["headers"]["x-forwarded-prefix"] == APP
    assert echoed["headers"]["x-forwarded-proto"] == "http"
    assert echoed["headers"]["x-forwarded-host"] == front.url.removeprefix("http://")
    assert echoed["headers"]["host"] == front.url.removeprefix("http://")
    assert echoed["script_name"] == ""


def test_the_token_and_sandbox_cookies_never_reach_the_app(front: Served) -> None:
    with front.client() as client:
        answer = client.get(
            f"{APP}/echo",
            headers={
                "Authorization": f"Bearer {TOKEN}",
                "Cookie": f"_xsrf={TOKEN}; username-x={TOKEN}; app_cookie=kept",
                "X-Forwarded-Prefix": "/outer",
                "X-User-Email": "boss@example.com",
                "X-App-Header": "kept",
            },
        )
    assert answer.status_code == 200
    assert TOKEN not in answer.text
    headers = answer.json()["headers"]
    assert "authorization" not in headers
    assert headers["cookie"] == "app_cookie=kept"  # positive control: the app's own pass
    assert headers["x-app-header"] == "kept"
    assert headers["x-forwarded-prefix"] == f"/outer{APP}"
    assert headers.get("x-user-email") != "boss@example.com"


def test_the_known_user_reaches_the_app_as_x_user_email(tcp_front: Served) -> None:
    with tcp_front.client() as client:
        headers = client.get(f"{APP}/echo").json()["headers"]
    assert headers["x-user-email"] == "me@example.com"


def test_redirects_are_not_followed_and_stay_under_the_prefix(front: Served) -> None:
    with front.client() as client:
        inside = client.get(f"{APP}/redirect", params={"to": "/echo?x=1"})
        own = client.get(f"{APP}/redirect", params={"to": "http://127.0.0.1:8080/echo"})
        away = client.get(f"{APP}/redirect", params={"to": "https://example.com/"})
        slash = client.get(APP)
    assert inside.status_code == 302
    assert inside.headers["location"] == f"{APP}/echo?x=1"
    assert own.headers["location"] == f"{APP}/echo"
    assert away.headers["location"] == "https://example.com/"
    assert slash.status_code == 307 and slash.headers["location"] == f"{APP}/"


def test_cookie_paths_are_rewritten_under_the_prefix(front: Served) -> None:
    with front.client() as client:
        answer = client.get(f"{APP}/cookies")
    cookies = answer.headers.get_list("set-cookie")
    assert [c.split(";")[1].strip() for c in cookies] == [
        f"Path={APP}/",
        f"Path={APP}/sub",
        f"Path={APP}/",
    ]


def test_root_path_apps_build_links_from_x_forwarded_prefix(unix_front: Served) -> None:
    with unix_front.client() as client:
        link = client.get(f"{APP}/links").text.split('href="')[1].split('"')[0]
        followed = client.get(link)
    assert link == f"{APP}/echo"
    assert followed.status_code == 200 and followed.json()["path"] == "/echo"


def test_script_name_apps_keep_the_prefix(script_front: Served) -> None:
    with script_front.client() as client:
        echoed = client.get(f"{APP}/echo").json()
        link = client.get(f"{APP}/links").text.split('href="')[1].split('"')[0]
        followed = client.get(link)
        cookies = client.get(f"{APP}/cookies").headers.get_list("set-cookie")
    assert echoed["path"] == f"{APP}/echo"  # the app routes under SCRIPT_NAME
    assert echoed["root_path"] == APP and echoed["script_name"] == APP
    assert echoed["headers"]["x-forwarded-prefix"] == APP
    assert link == f"{APP}/echo" and followed.status_code == 200
    assert f"Path={APP}/" in cookies[2]  # already under the prefix: unchanged


def test_server_sent_events_are_streamed_not_buffered(front: Served) -> None:
    # The app sends its second event only after a second request: a buffering proxy would hold
    # the first one back and this test would time out.
    with front.client(timeout=20) as client, client.stream("GET", f"{APP}/sse") as events:
        assert events.headers["content-type"].startswith("text/event-stream")
        lines = events.iter_lines()
        assert next(lines) == "data: one"
        with front.client() as other:
            assert other.post(f"{APP}/sse/release").text == "released"
        assert [line for line in lines if line] == ["data: two"]


def test_websocket_echo_subprotocol_and_close_code(front: Served) -> None:
    url = front.url.replace("http://", "ws://") + f"{APP}/ws"
    with connect(
        url,
        subprotocols=[Subprotocol("chat.v1")],
        additional_headers={"Authorization": f"Bearer {TOKEN}", "Cookie": f"_xsrf={TOKEN}; k=v"},
    ) as socket:
        assert socket.subprotocol == "chat.v1"
        socket.send("hello")
        assert socket.recv(5) == "hello"
        socket.send(b"\x00\x01binary")
        assert socket.recv(5) == b"\x00\x01binary"
        socket.send("headers")
        seen = str(socket.recv(5))
        assert TOKEN not in seen and "authorization" not in seen
        assert '"cookie":"k=v"' in seen and f'"x-forwarded-prefix":"{APP}"' in seen
        socket.send("close:4001")
        with pytest.raises(Exception):  # noqa: B017 - the app closed; the code is checked below
            socket.recv(5)
    assert socket.close_code == 4001


def test_a_missing_app_answers_a_sandbox_page_and_refuses_websockets(folder: Path) -> None:
    env = {"DR_PROXY_UPSTREAM": f"unix:{folder / 'nobody.sock'}"}
    with serve("front", env=env) as front, front.client() as client:
        answer = client.get(f"{APP}/")
        with pytest.raises(InvalidStatus):
            connect(front.url.replace("http://", "ws://") + f"{APP}/ws", open_timeout=5)
    assert answer.status_code == 502
    assert answer.headers["content-security-policy"] == "default-src 'none'"
    assert "did not answer" in answer.text
    assert front.process.returncode is not None  # ended with the block


class PeakRss:
    """The highest resident memory of a process while the block runs, sampled every 10 ms."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.baseline = self.process.memory_info().rss
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.baseline) / 2**20


SIZE_MB = 50


@pytest.mark.slow
def test_a_50_mb_download_streams_with_flat_memory(unix_front: Served) -> None:
    digest, size = hashlib.sha256(), 0
    with unix_front.client(timeout=60) as client:
        client.get(f"{APP}/download", params={"mb": 1})  # warm up: pools, imports
        with (
            PeakRss(unix_front.process.pid) as rss,
            client.stream("GET", f"{APP}/download", params={"mb": SIZE_MB}) as answer,
        ):
            for piece in answer.iter_raw():
                digest.update(piece)
                size += len(piece)
    assert size == SIZE_MB * 2**20
    assert digest.hexdigest() == pattern_sha256(SIZE_MB * 2**20)
    assert rss.growth_mb < SIZE_MB / 4, f"the proxy grew by {rss.growth_mb:.1f} MB"


@pytest.mark.slow
def test_a_50_mb_upload_streams_with_flat_memory(unix_front: Served) -> None:
    with unix_front.client(timeout=60) as client:
        client.post(f"{APP}/upload", content=pattern(2**20))
        with PeakRss(unix_front.process.pid) as rss:
            answer = client.post(f"{APP}/upload", content=pattern(SIZE_MB * 2**20))
    assert answer.json() == {"bytes": SIZE_MB * 2**20, "sha256": pattern_sha256(SIZE_MB * 2**20)}
    assert rss.growth_mb < SIZE_MB / 4, f"the proxy grew by {rss.growth_mb:.1f} MB"


def test_the_servers_end_with_their_block(folder: Path) -> None:
    with (
        serve("upstream", socket_path=folder / "end.sock") as app,
        serve("front", env={"DR_PROXY_UPSTREAM": app.upstream_spec}) as front,
    ):
        pids = [app.process.pid, front.process.pid]
        assert all(psutil.pid_exists(pid) for pid in pids)
    assert app.process.returncode is not None and front.process.returncode is not None
    assert not any(psutil.pid_exists(pid) for pid in pids)
