"""``Client`` against the sandbox over real HTTP: every method of both resources."""

from __future__ import annotations

import io
import json
import threading
import uuid
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import requests

import dr_notebook as drn
from dr_notebook import errors
from dr_notebook.models import ApplicationSource, Template
from dr_notebook.sandbox.testing import SandboxServer, start_sandbox

ENV = {"environment_id": "65f0c0ffee0123456789e0e0", "environment_version_id": "v1"}


@pytest.fixture
def client(sandbox: SandboxServer) -> Iterator[drn.Client]:
    with drn.Client(sandbox.endpoint, sandbox.token, progress=False) as c:
        yield c


@pytest.fixture(scope="module")
def big() -> Iterator[SandboxServer]:
    """A sandbox with 250 synthetic templates: three pages of 100."""
    with start_sandbox(generate=250, demo=False, seed=3) as server:
        yield server


@pytest.fixture
def big_client(big: SandboxServer) -> Iterator[drn.Client]:
    big.reset_stats()
    with drn.Client(big.endpoint, big.token, progress=False) as c:
        yield c


def raw_pages(server: SandboxServer, **params: Any) -> list[dict[str, Any]]:
    """All templates the plain way (sequential, following ``next``), for comparison."""
    out: list[dict[str, Any]] = []
    url: str | None = f"{server.endpoint}/customTemplates/"
    query: dict[str, Any] | None = {"limit": 100, **params}
    while url:
        body = requests.get(url, params=query, headers=server.auth_headers(), timeout=30).json()
        out.extend(body["data"])
        url, query = body["next"], None
    return out


def list_requests(server: SandboxServer) -> list[dict[str, Any]]:
    return [r for r in server.stats()["requests"] if r["path"] == "customTemplates/"]


def make_folder(root: Path) -> Path:
    folder = root / f"my-app-{uuid.uuid4().hex[:6]}"
    (folder / "static").mkdir(parents=True)
    (folder / "app.py").write_text("print('hello')\n")
    (folder / "start-app.sh").write_text("#!/usr/bin/env bash\nexec python app.py\n")
    (folder / "README.md").write_text("# My app\n\nSays hello.\n")
    (folder / "static" / "style.css").write_text("body { color: teal; }\n")
    (folder / ".git").mkdir()
    (folder / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\x00\x01")
    return folder


def new_template(client: drn.Client, tmp_path: Path, **kwargs: Any) -> Template:
    values: dict[str, Any] = {
        "name": f"Test app {uuid.uuid4().hex[:8]}",
        "description": "Made by a test",
        "template_type": "customApplicationTemplate",
        "template_sub_type": "flask",
        "default_environment": ENV,
    }
    values.update(kwargs)
    if "file" not in values:
        values["file"] = make_folder(tmp_path)
    return client.templates.create(**values)


# -- connection ---------------------------------------------------------------------------------


def test_check_connection(client: drn.Client, sandbox: SandboxServer) -> None:
    info = client.check_connection()
    assert info["endpoint"] == sandbox.endpoint
    assert info["template_count"] == len(raw_pages(sandbox))


def test_check_connection_with_a_bad_token(sandbox: SandboxServer) -> None:
    with pytest.raises(errors.AuthenticationError) as info:
        drn.Client(sandbox.endpoint, "not-a-token", progress=False).check_connection()
    assert str(info.value).startswith("401 Unauthorized on GET customTemplates/: ")
    assert info.value.status_code == 401


def test_endpoint_from_environment(sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATAROBOT_ENDPOINT", sandbox.base_url + "/")
    monkeypatch.setenv("DATAROBOT_API_TOKEN", sandbox.tokens["viewer"])
    client = drn.Client(progress=False)
    assert client.endpoint == sandbox.endpoint
    assert client.check_connection()["ok"] is True


# -- listing ------------------------------------------------------------------------------------


def test_list_matches_the_sequential_walk_in_order(
    big_client: drn.Client, big: SandboxServer
) -> None:
    expected = [t["id"] for t in raw_pages(big)]
    big.reset_stats()
    templates = big_client.templates.list()
    assert [t.id for t in templates] == expected
    assert len(templates) == 250
    assert all(isinstance(t, Template) for t in templates)
    statuses = [r["status"] for r in list_requests(big)]
    # A first listing speculates nothing: page one, then the two pages its total asks for.
    assert len(statuses) == 3 and set(statuses) == {200}


def test_a_repeat_listing_asks_for_later_pages_before_page_one_returns(
    big_client: drn.Client, big: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert len(big_client.templates.list()) == 250  # the client now knows the catalogue's size
    transport = big_client._transport
    real = transport.request
    events: list[tuple[str, int]] = []
    lock = threading.Lock()

    def recorded(method: str, path: str, **kwargs: Any) -> requests.Response:
        offset = (kwargs.get("params") or {}).get("offset", -1)
        with lock:
            events.append(("sent", offset))
        response = real(method, path, **kwargs)
        with lock:
            events.append(("done", offset))
        return response

    monkeypatch.setattr(transport, "request", recorded)
    big.configure(latency_ms=200)
    try:
        assert [t.id for t in big_client.templates.list()] == [t["id"] for t in raw_pages(big)]
    finally:
        big.configure(latency_ms=0)
    first_back = events.index(("done", 0))
    sent_before = sorted(offset for kind, offset in events[:first_back] if kind == "sent")
    assert sent_before == [0, 100, 200]  # as many pages as the last listing had, no more
    sent = sorted(offset for kind, offset in events if kind == "sent")
    assert sent == sent_before  # no page asked twice, none after page one
    events.clear()
    assert len(big_client.templates.list(limit=120)) == 120
    assert sorted(offset for kind, offset in events if kind == "sent") == [0, 100]


def test_a_small_catalogue_costs_one_request_every_time(
    sandbox_factory: Callable[..., SandboxServer],
) -> None:
    small = sandbox_factory(generate=37, demo=False, seed=5)
    with drn.Client(small.endpoint, small.token, progress=False) as c:
        small.reset_stats()
        for _ in range(3):
            assert [t.id for t in c.templates.list()] == [t["id"] for t in raw_pages(small)]
        assert len(list_requests(small)) == 3 + 3  # one per listing, one per page of raw_pages


def test_speculative_pages_past_a_shrunk_catalogue_are_dropped(
    sandbox_factory: Callable[..., SandboxServer],
) -> None:
    server = sandbox_factory(generate=250, demo=False, seed=6)
    with drn.Client(server.endpoint, server.token, progress=False) as c:
        before = c.templates.list(order_by="name")
        for template in before[:130]:
            c.templates.delete(template)
        server.reset_stats()
        server.configure(latency_ms=100)  # page one comes back after every worker has started
        after = c.templates.list(order_by="name")
        server.configure(latency_ms=0)
        # Pages at 100 and 200 went out with page one (250 before); the one past the end
        # came back empty and was dropped.
        assert len(list_requests(server)) == 3
        assert [t.id for t in after] == [t.id for t in before[130:]]
        assert [t.id for t in after] == [t["id"] for t in raw_pages(server, orderBy="name")]
        assert len(c.templates.list(order_by="name", limit=50)) == 50


def test_list_with_order_and_filters(big_client: drn.Client, big: SandboxServer) -> None:
    by_name = big_client.templates.list(order_by="-name")
    names = [t.name for t in by_name]
    assert names == [t["name"] for t in raw_pages(big, orderBy="-name")]
    metric = big_client.templates.list(template_type="customMetricTemplate")
    assert metric and all(t.template_type == "customMetricTemplate" for t in metric)
    assert len(metric) == len(raw_pages(big, templateType="customMetricTemplate"))
    tagged = big_client.templates.list(tag="llm", order_by="name")
    assert [t.id for t in tagged] == [t["id"] for t in raw_pages(big, tag="llm", orderBy="name")]


@pytest.mark.parametrize(("limit", "requests_made"), [(0, 0), (50, 1), (100, 1), (150, 2)])
def test_limit_caps_items_and_requests(
    big_client: drn.Client, big: SandboxServer, limit: int, requests_made: int
) -> None:
    templates = big_client.templates.list(limit=limit)
    assert len(list_requests(big)) == requests_made
    assert [t.id for t in templates] == [t["id"] for t in raw_pages(big)][:limit]


def test_order_by_is_checked_before_sending(big_client: drn.Client, big: SandboxServer) -> None:
    with pytest.raises(errors.InvalidArgumentError) as info:
        big_client.templates.list(order_by="popularity")
    for allowed in ("name", "-name", "createdAt", "-createdAt", "templateType", "-templateType"):
        assert allowed in str(info.value)
    assert "templateSubType" in str(info.value) and "-templateSubType" in str(info.value)
    with pytest.raises(ValueError):
        big_client.templates.list(limit=-1)
    assert list_requests(big) == []


def test_iter_is_lazy_page_by_page(big_client: drn.Client, big: SandboxServer) -> None:
    iterator = big_client.templates.iter(order_by="name")
    assert list_requests(big) == []
    first = [next(iterator) for _ in range(100)]
    assert len(list_requests(big)) == 1
    next(iterator)
    assert len(list_requests(big)) == 2
    rest = list(iterator)
    assert [t.id for t in [*first, *rest]][:100] == [t.id for t in first]
    assert len(first) + 1 + len(rest) == 250
    assert len(list(big_client.templates.iter(limit=120))) == 120


def test_one_odd_item_does_not_fail_a_listing(
    big_client: drn.Client, big: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Real pages, one item spoiled: the fast path refuses it, the tolerant path reads it."""
    transport = big_client._transport
    real = transport.request

    def spoiled(method: str, path: str, **kwargs: Any) -> requests.Response:
        response = real(method, path, **kwargs)
        body = response.json()
        if (kwargs.get("params") or {}).get("offset") == 100:
            body["data"][3].update(name=5, enabled="nope", templateMetadata={"tags": [None]})
            body["data"].append("not an object")
        response._content = json.dumps(body).encode()
        return response

    monkeypatch.setattr(transport, "request", spoiled)
    expected = [t["id"] for t in raw_pages(big)]
    templates = big_client.templates.list()
    assert [t.id for t in templates] == expected
    odd = templates[103]
    assert (odd.name, odd.enabled, odd.tags) == ("5", True, [])


def test_list_follows_next_without_total_count(
    big_client: drn.Client, big: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that sends no totalCount is walked through ``next`` (real responses, trimmed)."""
    transport = big_client._transport
    real = transport.request
    seen: list[Any] = []

    def without_total(method: str, path: str, **kwargs: Any) -> requests.Response:
        response = real(method, path, **kwargs)
        body = response.json()
        seen.append(body.pop("totalCount", None))
        response._content = json.dumps(body).encode()
        return response

    monkeypatch.setattr(transport, "request", without_total)
    assert [t.id for t in big_client.templates.list()] == [t["id"] for t in raw_pages(big)]
    # Every page went through the trimming (speculative pages, asked by offset, are dropped
    # and `next` is followed from page one).
    assert len(seen) >= 3 and set(seen) == {250}
    assert len(big_client.templates.list(limit=120)) == 120


def test_duplicates_across_pages_are_dropped(
    big_client: drn.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When a page overlaps the previous one (catalogue changed meanwhile), ids appear once."""
    transport = big_client._transport
    real = transport.request

    def shifted(method: str, path: str, **kwargs: Any) -> Any:
        params = kwargs.get("params")
        if params and params.get("offset"):
            kwargs["params"] = {**params, "offset": params["offset"] - 10}
        return real(method, path, **kwargs)

    monkeypatch.setattr(transport, "request", shifted)
    ids = [t.id for t in big_client.templates.list()]
    # Pages asked for after page one still end 10 short; the speculative ones cover the end.
    assert len(ids) == len(set(ids)) >= 240


def test_frame(big_client: drn.Client, template_columns: list[str]) -> None:
    frame = big_client.templates.frame(order_by="name")
    assert list(frame.columns[: len(template_columns)]) == template_columns
    assert len(frame) == 250
    assert frame["name"].tolist() == sorted(frame["name"].tolist())
    assert isinstance(frame["template_type"].dtype, pd.CategoricalDtype)
    empty = big_client.templates.frame(search="no such template anywhere")
    assert list(empty.columns) == template_columns and len(empty) == 0


def test_listing_progress_bar_only_when_slow(
    big: SandboxServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # One worker: the pages after the first come one round trip after another (with more
    # workers, all three pages of this catalogue would come back in page one's round trip).
    noisy = drn.Client(big.endpoint, big.token, max_workers=1)
    quiet = drn.Client(big.endpoint, big.token, progress=False, max_workers=1)
    noisy.templates.list(limit=100)  # one page: no bar at all
    assert capsys.readouterr().err == ""
    # A bar shows once a call takes PROGRESS_DELAY: shortened, with latency to match.
    monkeypatch.setattr("dr_notebook.resources._progress.PROGRESS_DELAY", 0.1)
    big.configure(latency_ms=150)
    try:
        # Where nothing updates in place (a file, a pipe: pytest's capture), no bar.
        assert len(noisy.templates.list()) == 250
        assert capsys.readouterr().err == ""
        monkeypatch.setattr("dr_notebook.resources._progress._is_terminal", lambda _s: True)
        assert len(noisy.templates.list()) == 250
        assert "Listing templates" in capsys.readouterr().err
        assert len(quiet.templates.list()) == 250
        assert capsys.readouterr().err == ""
    finally:
        big.configure(latency_ms=0)


def test_one_client_shared_by_threads(big_client: drn.Client, big: SandboxServer) -> None:
    expected = [t["id"] for t in raw_pages(big)]
    some = expected[:20]
    with ThreadPoolExecutor(max_workers=6) as pool:
        lists = [pool.submit(big_client.templates.list) for _ in range(3)]
        gets = [pool.submit(big_client.templates.get, i) for i in some]
        assert [[t.id for t in f.result()] for f in lists] == [expected] * 3
        assert [f.result().id for f in gets] == some


# -- single templates ---------------------------------------------------------------------------


def test_get_and_not_found(client: drn.Client) -> None:
    some = client.templates.list(limit=1)[0]
    again = client.templates.get(some.id)
    assert again.id == some.id and again.name == some.name and again.files
    with pytest.raises(errors.NotFoundError) as info:
        client.templates.get("0" * 24)
    assert str(info.value).startswith(f"404 Not Found on GET customTemplates/{'0' * 24}/: ")
    with pytest.raises(errors.InvalidArgumentError):
        client.templates.get("")


def test_ids_are_quoted_into_the_path(client: drn.Client) -> None:
    with pytest.raises(errors.NotFoundError) as info:
        client.templates.get("../customTemplates")
    assert info.value.path == "customTemplates/..%2FcustomTemplates/"


def test_resolve_by_id_and_name(client: drn.Client) -> None:
    flask = client.templates.resolve("flask app base")
    assert flask.name == "Flask App Base"
    assert client.templates.resolve(flask.id).id == flask.id
    with pytest.raises(errors.NotFoundError, match="did you mean 'Flask App Base'"):
        client.templates.resolve("Flask App")
    with pytest.raises(errors.NotFoundError):
        client.templates.resolve("nothing like it at all")


def test_resolve_ambiguous_name(client: drn.Client, tmp_path: Path) -> None:
    name = f"Twin {uuid.uuid4().hex[:6]}"
    one = new_template(client, tmp_path / "a", name=name)
    two = new_template(client, tmp_path / "b", name=name.upper())
    try:
        with pytest.raises(errors.AmbiguousNameError) as info:
            client.templates.resolve(name)
        assert {t.id for t in info.value.candidates} == {one.id, two.id}
        assert one.id in str(info.value)
    finally:
        client.templates.delete(one.id)
        client.templates.delete(two.id)


def test_names(client: drn.Client, sandbox: SandboxServer) -> None:
    pairs = client.templates.names()
    assert pairs == [(t["id"], t["name"]) for t in raw_pages(sandbox)]


# -- create, update, delete, files --------------------------------------------------------------


def test_folder_round_trips_through_file(client: drn.Client, tmp_path: Path) -> None:
    template = new_template(client, tmp_path, tags=["test", "flask"], publisher="Tests")
    try:
        assert sorted(f.name for f in template.files) == [
            "README.md",
            "app.py",
            "start-app.sh",
            "static/style.css",
        ]
        contents = {
            f.name: client.templates.file(template.id, f.id).content for f in template.files
        }
        assert contents["app.py"] == "print('hello')\n"
        assert contents["static/style.css"] == "body { color: teal; }\n"
        assert template.readme == "# My app\n\nSays hello.\n"  # the folder's README.md
        assert template.tags == ["test", "flask"]
        assert template.publisher == "Tests"
        assert template.default_environment.environment_id == ENV["environment_id"]
        assert client.templates.get(template.id).name == template.name
    finally:
        client.templates.delete(template.id)


def test_folder_upload_leaves_out_env_files_and_symlinks(
    client: drn.Client, tmp_path: Path
) -> None:
    outside = tmp_path / "home"
    outside.mkdir()
    (outside / "secret.yaml").write_text("token: do-not-upload\n")
    (outside / "private").mkdir()
    (outside / "private" / "key.pem").write_text("KEY\n")
    folder = make_folder(tmp_path)
    (folder / ".env").write_text("DATAROBOT_API_TOKEN=do-not-upload\n")
    (folder / ".env.local").write_text("DATAROBOT_API_TOKEN=do-not-upload\n")
    (folder / "static" / ".env.production").write_text("X=1\n")
    (folder / ".envrc.example").write_text("kept\n")
    (folder / "config.yaml").symlink_to(outside / "secret.yaml")
    (folder / "linked_app.py").symlink_to(folder / "app.py")
    (folder / "keys").symlink_to(outside / "private", target_is_directory=True)
    template = new_template(client, tmp_path, file=folder)
    try:
        assert sorted(f.name for f in template.files) == [
            ".envrc.example",
            "README.md",
            "app.py",
            "start-app.sh",
            "static/style.css",
        ]
    finally:
        client.templates.delete(template.id)


def test_create_from_bytes_and_single_file(client: drn.Client, tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("main.py", "x = 1\n")
    from_bytes = new_template(client, tmp_path, file=buffer.getvalue(), enabled=False)
    single = tmp_path / "job.py"
    single.write_text("run()\n")
    from_file = new_template(
        client, tmp_path, file=single, template_type="customJobTemplate", template_sub_type="batch"
    )
    try:
        assert [f.name for f in from_bytes.files] == ["main.py"]
        assert from_bytes.enabled is False
        assert [f.name for f in from_file.files] == ["job.py"]
        body = client.templates.file(from_file, from_file.files[0])
        assert body.content == "run()\n" and body.name == "job.py"
    finally:
        client.templates.delete(from_bytes)
        client.templates.delete(from_file)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": "x" * 256}, "name is 256 characters long; the limit is 255"),
        ({"description": "d" * 10_001}, "the limit is 10000"),
        ({"name": "  "}, "name must not be empty"),
        ({"default_resource_bundle_id": "cpu.huge"}, "cpu.nano"),
        ({"default_environment": {"environment_id": "e"}}, "environment id and version id"),
        ({"default_environment": Template()}, "an existing template"),
        ({"file": "/no/such/folder"}, "no such file or folder"),
        ({"tags": "one-tag"}, "tags must be a list of strings"),
    ],
)
def test_create_checks_before_sending(
    client: drn.Client, sandbox: SandboxServer, tmp_path: Path, change: dict, message: str
) -> None:
    sandbox.reset_stats()
    with pytest.raises(errors.InvalidArgumentError, match=message):
        new_template(client, tmp_path, **change)
    assert sandbox.stats()["total"] == 0


def test_default_environment_copied_from_an_existing_template(
    client: drn.Client, tmp_path: Path
) -> None:
    existing = client.templates.resolve("Flask App Base")
    assert existing.default_environment.environment_id
    template = new_template(client, tmp_path, default_environment=existing)
    try:
        assert template.default_environment == existing.default_environment
        other = new_template(client, tmp_path / "other", default_environment=ENV)
        changed = client.templates.update(other, default_environment=template)
        client.templates.delete(other)
        assert changed.default_environment == existing.default_environment
    finally:
        client.templates.delete(template)
    doc = client.templates.create.__doc__ or ""
    assert "default_environment" in doc and "existing template" in doc


def test_create_server_side_validation_error(client: drn.Client, tmp_path: Path) -> None:
    env = {"environment_id": "e" * 300, "environment_version_id": "v"}
    with pytest.raises(errors.ValidationError) as info:
        new_template(client, tmp_path, default_environment=env)
    assert "defaultEnvironment" in info.value.field_errors
    assert str(info.value).startswith("422 Unprocessable Entity on POST customTemplates/")


def test_viewer_may_not_create(sandbox: SandboxServer, tmp_path: Path) -> None:
    viewer = drn.Client(sandbox.endpoint, sandbox.tokens["viewer"], progress=False)
    with pytest.raises(errors.PermissionDeniedError) as info:
        new_template(viewer, tmp_path)
    assert info.value.status_code == 403
    assert str(info.value).startswith("403 Forbidden on POST customTemplates/")


def test_update_merges_metadata_and_replaces_files(client: drn.Client, tmp_path: Path) -> None:
    template = new_template(client, tmp_path, tags=["a"])
    try:
        changed = client.templates.update(template.id, name="Renamed", tags=["b", "c"])
        assert changed.name == "Renamed"
        assert changed.tags == ["b", "c"]
        assert changed.readme == template.readme  # metadata merged, not replaced
        new_file = tmp_path / "only.py"
        new_file.write_text("only = True\n")
        changed = client.templates.update(template, file=new_file, enabled=False)
        assert [f.name for f in changed.files] == ["only.py"]
        assert changed.enabled is False
        assert client.templates.get(template.id).name == "Renamed"
        with pytest.raises(TypeError, match="colour"):
            client.templates.update(template.id, colour="blue")  # type: ignore[call-arg]
        with pytest.raises(errors.InvalidArgumentError, match="at least one field"):
            client.templates.update(template.id)
    finally:
        client.templates.delete(template.id)


def test_delete(client: drn.Client, tmp_path: Path) -> None:
    template = new_template(client, tmp_path)
    client.templates.delete(template.id)
    with pytest.raises(errors.NotFoundError):
        client.templates.get(template.id)
    with pytest.raises(errors.NotFoundError) as info:
        client.templates.delete(template.id)
    assert info.value.method == "DELETE"


def test_file_not_found(client: drn.Client) -> None:
    some = client.templates.list(limit=1)[0]
    with pytest.raises(errors.NotFoundError):
        client.templates.file(some.id, "nope")


# -- application sources (synchronous server) ---------------------------------------------------


def test_create_source_synchronously(client: drn.Client, sandbox: SandboxServer) -> None:
    template = client.templates.resolve("Flask App Base")
    seen: list[Any] = []
    source = client.app_sources.create_from_template(template.id, on_status=seen.append)
    assert isinstance(source, ApplicationSource)
    assert sorted(i.file_path for i in source.files) == sorted(f.name for f in template.files)
    assert seen == []  # answered at once: no job to report on
    assert client.app_sources.get(source.id).id == source.id
    assert source.id in [s.id for s in client.app_sources.list()]


def test_source_from_a_disabled_or_non_app_template(client: drn.Client) -> None:
    disabled = next(t for t in client.templates.list() if not t.enabled)
    with pytest.raises(errors.ValidationError) as info:
        client.app_sources.create_from_template(disabled.id)
    assert "fromCustomTemplate" in str(info.value)
    metric = client.templates.list(template_type="customMetricTemplate", limit=1)[0]
    with pytest.raises(errors.ValidationError):
        client.app_sources.create_from_template(metric)


def test_source_not_found(client: drn.Client) -> None:
    with pytest.raises(errors.NotFoundError):
        client.app_sources.get("f" * 24)


def test_create_reads_the_id_from_location_when_the_body_has_none(
    client: drn.Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Real 201 responses, with the body emptied: the id must come from ``Location``."""
    transport = client._transport
    real = transport.request
    emptied: list[str] = []

    def without_body(method: str, path: str, **kwargs: Any) -> requests.Response:
        response = real(method, path, **kwargs)
        if method == "POST" and path == "customTemplates/":
            assert response.headers.get("Location")
            emptied.append(response.headers["Location"])
            response._content = b""
        return response

    monkeypatch.setattr(transport, "request", without_body)
    template = new_template(client, tmp_path)
    try:
        assert emptied and emptied[0].rstrip("/").endswith(template.id)
        assert template.name.startswith("Test app")
    finally:
        client.templates.delete(template.id)


def test_listing_leaves_the_garbage_collector_alone(
    big_client: drn.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No process-wide side effects: a listing neither pauses nor freezes the collector."""
    import gc

    touched: list[str] = []
    for name in ("disable", "enable", "freeze", "unfreeze", "collect"):
        monkeypatch.setattr(gc, name, lambda *_a, _name=name: touched.append(_name))
    assert len(big_client.templates.list()) == 250
    assert touched == []
