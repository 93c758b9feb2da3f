"""Answers the sandbox does not give, from small real HTTP servers: PATCH answered 200, 202 or
204, status values nobody listed, and hostile file paths in downloads."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import dr_notebook as drn
from dr_notebook.downloads import UnsafePathError
from dr_notebook.models import LaunchStep

API = "/api/v2/"
Route = Callable[[str, str, Any], tuple[int, Any]]


class _Handler(BaseHTTPRequestHandler):
    route: Route

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        path = self.path.split("?", 1)[0].removeprefix(API)
        status, payload = type(self).route(self.command, path, body)
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        if data:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PATCH = do_POST = do_DELETE = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def serve() -> Iterator[Callable[[Route], drn.Client]]:
    """``serve(route)``: a client of a real HTTP server on 127.0.0.1 answering with ``route``."""
    servers: list[ThreadingHTTPServer] = []

    def start(route: Route) -> drn.Client:
        handler = type("Handler", (_Handler,), {"route": staticmethod(route)})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        port = server.server_address[1]
        return drn.Client(f"http://127.0.0.1:{port}/api/v2", "test-token-1234", progress=False)

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


class FakeApps:
    """One application on a server whose PATCH answers ``mode`` (200, 202 or 204) and which
    rolls onto a new version through a status nobody listed ("rolling")."""

    def __init__(self, mode: int) -> None:
        self.mode = mode
        self.gets_since_patch = 0
        self.app = {
            "id": "a1", "name": "old", "status": "hibernating", "applicationUrl": "https://x/a1/",
            "customApplicationSourceVersionId": "v1", "futureField": {"kept": True},
        }  # fmt: skip
        self.target: str | None = None

    def route(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        if method == "GET" and path == "customApplications/":
            return 200, {"count": 1, "next": None, "previous": None, "data": [self.app],
                         "totalCount": 1}  # fmt: skip
        if path == "customApplications/a1/logs/":
            return 200, {"logs": [], "buildStatus": "completed", "buildError": None}
        if method == "GET" and path == "customApplications/a1/":
            self.gets_since_patch += 1
            if self.target and self.gets_since_patch >= 2:  # the restart takes a moment
                self.app.update(customApplicationSourceVersionId=self.target, status="running")
            return 200, self.app
        if method == "PATCH" and path == "customApplications/a1/":
            self.app["name"] = body.get("name", self.app["name"])
            if "customApplicationSourceVersionId" in body:
                self.target = body["customApplicationSourceVersionId"]
                self.app["status"] = "rolling"
                self.gets_since_patch = 0
            if self.mode == 200:
                return 200, self.app
            return self.mode, None
        return 404, {"message": "not here"}


@pytest.mark.parametrize("mode", [200, 202, 204])
def test_update_accepts_200_202_and_204(serve: Callable[[Route], drn.Client], mode: int) -> None:
    fake = FakeApps(mode)
    client = serve(fake.route)
    renamed = client.applications.update("a1", name="new")
    assert renamed.name == "new" and renamed.id == "a1"
    assert renamed.status == "hibernating"  # carried as sent, not rejected
    assert renamed.extra["futureField"] == {"kept": True}
    steps: list[LaunchStep] = []
    rolled = client.applications.update("a1", source_version="v2", on_status=steps.append)
    assert rolled.running and rolled.source_version_id == "v2"
    assert "rolling" in [s.status for s in steps]  # an unknown status is reported, not fatal
    assert steps[-1].stage == "running"


def test_an_unknown_status_is_carried_through_list_frame_and_card(
    serve: Callable[[Route], drn.Client],
) -> None:
    client = serve(FakeApps(200).route)
    [app] = client.applications.list()
    assert app.status == "hibernating" and not app.running and not app.failed
    frame = client.applications.frame()
    assert list(frame["status"]) == ["hibernating"]
    assert "hibernating" in app._repr_html_()  # type: ignore[operator]


# downloads from a server that names paths outside the folder


def hostile_server(paths: list[str]) -> Route:
    """A template and a source whose files are at ``paths``."""
    items = [{"id": f"f{i}", "name": p, "filePath": p, "fileName": p} for i, p in enumerate(paths)]

    def route(method: str, path: str, body: Any) -> tuple[int, Any]:
        if path == "customTemplates/t1/":
            return 200, {"id": "t1", "name": "Evil", "items": items}
        if path == "customApplicationSources/s1/":
            return 200, {"id": "s1", "name": "Evil", "latestVersion": {"id": "v1", "items": items}}
        if path == "customApplicationSources/s1/versions/v1/":
            return 200, {"id": "v1", "items": items}
        for i, p in enumerate(paths):
            if path in (f"customTemplates/t1/files/f{i}/",
                        f"customApplicationSources/s1/versions/v1/items/f{i}/"):  # fmt: skip
                return 200, {"id": f"f{i}", "filename": p, "filePath": p, "content": "pwned"}
        return 404, {"message": "not here"}

    return route


def downloads(client: drn.Client) -> list[Callable[[Path], Any]]:
    return [
        lambda folder: client.templates.download("t1", folder),
        lambda folder: client.app_sources.download("s1", folder),
    ]


@pytest.mark.parametrize(
    "hostile",
    ["../outside.txt", "a/../../outside.txt", "{outside}/outside.txt", "C:\\outside.txt",
     "link/outside.txt", "..\\outside.txt"],
)  # fmt: skip
def test_no_server_path_writes_outside_the_folder(
    serve: Callable[[Route], drn.Client], tmp_path: Path, hostile: str
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    path = hostile.format(outside=outside)
    client = serve(hostile_server(["ok.txt", path]))
    for number, download in enumerate(downloads(client)):
        folder = tmp_path / f"dl{number}"
        folder.mkdir()
        (folder / "link").symlink_to(outside, target_is_directory=True)
        with pytest.raises(UnsafePathError):
            download(folder)
        assert sorted(p.name for p in folder.iterdir()) == ["link"]  # not even ok.txt
    assert list(outside.iterdir()) == []
    assert not (tmp_path / "outside.txt").exists()


def test_the_same_server_with_ordinary_paths_writes_them(
    serve: Callable[[Route], drn.Client], tmp_path: Path
) -> None:
    client = serve(hostile_server(["ok.txt", "sub/deeper/ok.txt"]))
    for number, download in enumerate(downloads(client)):
        folder = tmp_path / f"dl{number}"
        written = download(folder)
        assert [p.relative_to(folder).as_posix() for p in written] == [
            "ok.txt",
            "sub/deeper/ok.txt",
        ]
        assert (folder / "sub" / "deeper" / "ok.txt").read_text() == "pwned"


def test_an_application_printing_the_token_does_not_show_it(
    serve: Callable[[Route], drn.Client],
) -> None:
    token = "test-token-1234"  # the token the serve() client sends, which the app runs with
    leaked = f"DATAROBOT_API_TOKEN={token}"
    served: list[str] = []

    def route(method: str, path: str, body: Any) -> tuple[int, Any]:
        if path == "customApplications/a1/logs/":
            payload = {"logs": ["starting", leaked], "buildLog": f"env: {leaked}",
                       "buildStatus": "failed", "buildError": f"crashed: {leaked}"}  # fmt: skip
        else:
            payload = {"id": "a1", "name": "leaky", "status": "failed",
                       "customApplicationSourceVersionId": "v1",
                       "buildError": f"crashed: {leaked}"}  # fmt: skip
        served.append(json.dumps(payload))
        return 200, payload

    client = serve(route)
    logs = client.applications.logs("a1")
    assert logs.lines == ["starting", "DATAROBOT_API_TOKEN=***"]
    assert token not in f"{logs.build_log} {logs.build_error}"
    with pytest.raises(drn.errors.ApplicationFailedError) as failed:
        client.applications.wait("a1", timeout=5)
    shown = f"{failed.value} {failed.value.build_error} {failed.value.log_tail}"
    assert "crashed" in shown and token not in shown
    assert all(token in text for text in served)  # positive control: the server did send it
