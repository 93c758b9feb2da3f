"""client.applications, client.launch and the source version calls against the sandbox over HTTP
(simulated applications; the --run-apps ones are in test_applications_run.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import dr_notebook as drn
from dr_notebook import errors
from dr_notebook.enums import LaunchStage
from dr_notebook.frames import APPLICATION_COLUMNS
from dr_notebook.models import Application, ApplicationSourceVersion, LaunchStep
from dr_notebook.resources.app_sources import UPLOAD_BATCH

START = '#!/usr/bin/env bash\nexec python -m http.server "$PORT" --bind 127.0.0.1\n'
STAGE_ORDER = [s.value for s in LaunchStage]


def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def client(sandbox: Any) -> drn.Client:
    return drn.Client(sandbox.endpoint, sandbox.token, progress=False)


@pytest.fixture(scope="module")
def runnable(client: drn.Client) -> Any:
    """A source whose latest version can be built (a start-app.sh and a page)."""
    source = client.app_sources.create(unique("Runnable"))
    client.app_sources.new_version(source, {"start-app.sh": START, "index.html": "<b>hi</b>"})
    yield client.app_sources.get(source.id)
    client.app_sources.delete(source.id)


def assert_one_stream(steps: list[LaunchStep], first: str) -> None:
    """Stages in order, elapsed growing, one final 'running' step carrying the application."""
    stages = [s.stage for s in steps]
    assert stages[0] == first and stages[-1] == "running", stages
    assert [STAGE_ORDER.index(s) for s in stages] == sorted(STAGE_ORDER.index(s) for s in stages)
    assert stages.count("running") == 1
    assert [s.elapsed for s in steps] == sorted(s.elapsed for s in steps)
    assert steps[-1].application is not None and steps[-1].application.running
    assert steps[-1].done and not steps[0].done


@pytest.mark.parametrize("async_sources", [False, True], ids=["sync-source", "async-source"])
def test_launch_goes_from_template_to_running_in_one_event_stream(
    client: drn.Client, sandbox_settings: Callable[..., Any], async_sources: bool
) -> None:
    sandbox_settings(async_sources=async_sources, async_delay_ms=600, app_start_delay_ms=600)
    steps: list[LaunchStep] = []
    name = unique("Flask launch")
    app = client.launch("flask app base", name=name, on_status=steps.append)
    assert isinstance(app, Application) and app.running and app.name == name
    assert_one_stream(steps, "source")
    if async_sources:  # the job's own statuses reached the stream
        assert any(s.stage == "source" and s.status in ("INITIALIZED", "RUNNING") for s in steps)
    assert any(s.stage == "build" for s in steps)
    source = client.app_sources.get(app.source_id or "")
    assert steps[-1].source is not None and steps[-1].source.id == source.id
    assert "start-app.sh" in source.latest_version.paths
    assert app.source_version_id == source.latest_version.id
    assert app.application_url and app.application_url.startswith("http://127.0.0.1:")
    client.applications.delete(app)


def test_launch_refuses_a_name_in_use_before_creating_anything(
    client: drn.Client, sandbox: Any, runnable: Any
) -> None:
    taken = client.applications.create(runnable, name=unique("Taken"), wait=False)
    sandbox.reset_stats()
    with pytest.raises(errors.NameInUseError, match="already exists") as caught:
        client.launch("Flask App Base", name=taken.name)
    assert isinstance(caught.value, ValueError)
    assert not [r for r in sandbox.stats()["requests"] if r["method"] != "GET"]
    assert client.applications.name_in_use(taken.name)
    assert not client.applications.name_in_use(unique("Free"))
    client.applications.delete(taken)


def test_list_iter_frame_and_filters(client: drn.Client, runnable: Any) -> None:
    tag = uuid.uuid4().hex[:8]
    other = client.app_sources.create(unique("Other"))
    client.app_sources.new_version(other, {"start-app.sh": START})
    made = [
        client.applications.create(runnable, name=f"List {tag} a"),
        client.applications.create(runnable, name=f"List {tag} b", wait=False),
        client.applications.create(other, name=f"List {tag} c"),
    ]
    named = client.applications.list(name=tag)
    assert sorted(a.name for a in named) == [f"List {tag} {x}" for x in "abc"]
    from_runnable = {a.id for a in client.applications.list(source=runnable, name=tag)}
    assert from_runnable == {made[0].id, made[1].id}
    assert {a.id for a in client.applications.list(source=other.id)} == {made[2].id}
    assert all(a.running for a in client.applications.list(status="running", name=tag))
    assert len(list(client.applications.iter(name=tag, limit=2))) == 2
    frame = client.applications.frame(name=tag, order_by="-name")
    assert list(frame.columns[: len(APPLICATION_COLUMNS)]) == APPLICATION_COLUMNS
    assert list(frame["name"]) == [f"List {tag} {x}" for x in "cba"]
    assert str(frame["created_at"].dtype) == "datetime64[ns, UTC]"
    assert str(frame["status"].dtype) == "category"
    empty = client.applications.frame(name=unique("nothing-has-this-name"))
    assert empty.empty and list(empty.columns) == APPLICATION_COLUMNS
    with pytest.raises(errors.InvalidArgumentError, match="order_by"):
        client.applications.list(order_by="status")
    with pytest.raises(errors.InvalidArgumentError, match="Unknown filters"):
        client.applications.list(colour="red")  # type: ignore[call-arg]
    for app in made:
        client.applications.delete(app)
    client.app_sources.delete(other)


def test_get_and_resolve_by_id_or_name(client: drn.Client, runnable: Any) -> None:
    name = unique("Resolve Me")
    app = client.applications.create(runnable, name=name, wait=False)
    assert client.applications.get(app.id).name == name
    assert client.applications.resolve(app.id).id == app.id
    assert client.applications.resolve(name.upper()).id == app.id
    with pytest.raises(errors.NotFoundError, match="did you mean"):
        client.applications.resolve(name[:-2])
    twin = client.applications.create(runnable, name=name.lower(), wait=False)
    with pytest.raises(errors.AmbiguousNameError) as caught:
        client.applications.resolve(name)
    assert {a.id for a in caught.value.candidates} == {app.id, twin.id}
    assert (app.id, name) in client.applications.names()
    for made in (app, twin):
        client.applications.delete(made)
    with pytest.raises(errors.NotFoundError):
        client.applications.get(app.id)


def test_create_from_a_version_and_roll_onto_a_new_one(client: drn.Client, runnable: Any) -> None:
    first = client.app_sources.version(runnable)
    app = client.applications.create(first, name=unique("Roll"))
    assert app.source_version_id == first.id
    assert client.app_sources.version(runnable, first.id).is_frozen
    second = client.app_sources.new_version(
        runnable, {"index.html": "<b>second</b>"}, label="second"
    )
    assert isinstance(second, ApplicationSourceVersion) and second.label == "second"
    assert not second.is_frozen and sorted(second.paths) == ["index.html", "start-app.sh"]
    steps: list[LaunchStep] = []
    rolled = client.applications.update(app, source_version=second, on_status=steps.append)
    assert rolled.id == app.id and rolled.running and rolled.source_version_id == second.id
    assert rolled.application_url == app.application_url
    assert steps[-1].stage == "running" and steps[0].stage in ("build", "start", "running")
    renamed = client.applications.update(app, name=f"{app.name} renamed")
    assert renamed.name.endswith("renamed")
    client.applications.delete(app)


def test_wait_false_then_wait_and_logs(client: drn.Client, runnable: Any) -> None:
    app = client.applications.create(runnable, name=unique("Later"), wait=False)
    assert app.id and app.status == "building"
    steps: list[LaunchStep] = []
    running = client.applications.wait(app.id, on_status=steps.append)
    assert running.running and steps[-1].stage == "running"
    logs = client.applications.logs(running)
    assert logs.build_status == "completed" and logs.build_error is None
    assert "--run-apps" in (logs.build_log or "") and logs.tail(5) == logs.lines[-5:]
    client.applications.delete(app)


def test_a_wait_that_runs_out_says_it_may_still_be_building(
    client: drn.Client, sandbox_settings: Callable[..., Any], runnable: Any
) -> None:
    sandbox_settings(app_start_delay_ms=5000)
    name = unique("Slow")
    with pytest.raises(errors.AsyncTimeoutError) as caught:
        client.applications.create(runnable, name=name, timeout=0.8)
    err = caught.value
    assert isinstance(err, TimeoutError) and err.application is not None
    assert "may still be building" in str(err) and err.application.id in str(err)
    assert "%dr_" not in str(err)  # the magics add their own hints
    assert "\n" not in str(err)
    assert client.applications.get(err.application.id).name == name  # it exists
    client.applications.delete(err.application)


def test_a_wait_polls_the_status_and_reads_the_logs_rarely(
    client: drn.Client,
    sandbox_settings: Callable[..., Any],
    runnable: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sandbox_settings(app_start_delay_ms=3000)
    app = client.applications.create(runnable, name=unique("Polled"), wait=False)
    calls: list[str] = []
    apps = client.applications
    for name in ("get", "logs"):
        real = getattr(apps, name)
        monkeypatch.setattr(
            apps, name, lambda *a, _n=name, _r=real, **k: calls.append(_n) or _r(*a, **k)
        )
    assert apps.wait(app.id, timeout=30).running
    assert calls.count("get") >= 4 and calls.count("logs") <= 2, calls
    client.applications.delete(app)


def test_a_stopped_application_ends_the_wait(
    client: drn.Client, sandbox: Any, sandbox_settings: Callable[..., Any], runnable: Any
) -> None:
    sandbox_settings(app_start_delay_ms=60_000)
    app = client.applications.create(runnable, name=unique("Stopped"), wait=False)
    assert sandbox.api("POST", f"customApplications/{app.id}/stop/").status_code == 202
    with pytest.raises(errors.DataRobotError, match="is stopped") as caught:
        client.applications.wait(app.id, timeout=20)
    assert not isinstance(caught.value, errors.AsyncTimeoutError)  # not after 20 s
    client.applications.delete(app)


def test_a_launch_out_of_time_raises_the_timeout_error(client: drn.Client) -> None:
    name = unique("No time")
    with pytest.raises(errors.AsyncTimeoutError, match="nothing was created"):
        client.launch("Flask App Base", name=name, timeout=1e-6)
    assert client.applications.list(name=name) == []


SCRIPT = """
import sys
import dr_notebook as drn
print(drn.Client().launch("Flask App Base", name=sys.argv[1]))
"""


@pytest.mark.slow
def test_a_script_prints_each_stage_on_its_own_line(
    client: drn.Client, sandbox: Any, sandbox_settings: Callable[..., Any]
) -> None:
    sandbox_settings(async_sources=True, async_delay_ms=1200, app_start_delay_ms=2500)
    name = unique("Script")
    env = {**os.environ, **sandbox.env(), "DATAROBOT_CONFIG_FILE": ""}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, name], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Application(") and "status='running'" in done.stdout
    lines = done.stderr.splitlines()  # the progress, where a bar cannot update in place
    assert "\r" not in done.stderr and done.stderr.endswith("\n")
    assert lines[0] == "creating the application source", lines
    assert lines[-1].startswith("running at http"), lines
    assert len(lines) == len(set(lines)) <= 5, lines  # each stage once
    client.applications.delete(client.applications.resolve(name))


def test_a_near_miss_of_a_name_suggests_the_name(client: drn.Client, runnable: Any) -> None:
    with pytest.raises(errors.NotFoundError, match="did you mean 'Flask App Base'"):
        client.templates.resolve("Flask Ap Base")  # a typo: no name contains it
    name = unique("Typo target")
    app = client.applications.create(runnable, name=name, wait=False)
    with pytest.raises(errors.NotFoundError, match=f"did you mean {name!r}"):
        client.applications.resolve(name.replace("Typo", "Tpyo"))
    client.applications.delete(app)


def test_a_viewer_is_refused_with_403(sandbox: Any, runnable: Any) -> None:
    viewer = drn.Client(sandbox.endpoint, sandbox.tokens["viewer"], progress=False)
    with pytest.raises(errors.PermissionDeniedError, match="403"):
        viewer.launch("Flask App Base", name=unique("Viewer"))
    with pytest.raises(errors.PermissionDeniedError):
        viewer.applications.create(runnable)
    assert viewer.applications.list(source=runnable) == []  # reading is allowed


def test_arguments_are_checked_before_sending(client: drn.Client, runnable: Any) -> None:
    with pytest.raises(errors.InvalidArgumentError, match="timeout"):
        client.applications.create(runnable, timeout=0)
    with pytest.raises(errors.InvalidArgumentError, match="resources"):
        client.applications.create(runnable, resources="big")  # type: ignore[arg-type]
    with pytest.raises(errors.InvalidArgumentError, match="needs a field"):
        client.applications.update("abc")
    with pytest.raises(errors.InvalidArgumentError, match="not a path inside the source"):
        client.app_sources.new_version(runnable, {"../escape.py": "x"})
    with pytest.raises(errors.InvalidArgumentError, match="no such file"):
        client.app_sources.new_version(runnable, ["/no/such/file.py"])
    before = len(client.app_sources.versions(runnable))
    with pytest.raises(errors.InvalidArgumentError, match=r"base version does not have.*nope"):
        client.app_sources.new_version(runnable, {"a.txt": "x"}, delete=["nope.py"])
    assert len(client.app_sources.versions(runnable)) == before  # no orphan version left


# application sources: versions and files


def test_source_create_update_versions_and_delete(client: drn.Client, sandbox: Any) -> None:
    source = client.app_sources.create(unique("Plain"))
    assert source.id and source.latest_version.items == []
    renamed = client.app_sources.update(source, name=f"{source.name} renamed")
    assert renamed.name.endswith("renamed")
    sized = client.app_sources.update(source, resources={"replicas": 2})
    assert client.app_sources.version(sized).resources["replicas"] == 2  # type: ignore[index]
    client.app_sources.new_version(source, {"a.txt": "one"}, label="two")
    labels = [v.label for v in client.app_sources.versions(source)]
    assert "two" in labels and len(labels) == 2
    client.app_sources.delete(source)
    with pytest.raises(errors.NotFoundError):
        client.app_sources.get(source.id)


def test_new_version_from_a_folder_leaves_out_secrets_caches_and_links(
    client: drn.Client, tmp_path: Path
) -> None:
    folder = tmp_path / "app"
    (folder / "pkg" / "__pycache__").mkdir(parents=True)
    (folder / ".git").mkdir()
    (folder / "start-app.sh").write_text(START)
    (folder / "pkg" / "util.py").write_text("X = 1\n")
    (folder / "pkg" / "__pycache__" / "util.pyc").write_bytes(b"\0")
    (folder / ".git" / "HEAD").write_text("ref")
    (folder / ".env").write_text("DATAROBOT_API_TOKEN=secret")
    (tmp_path / "credentials").write_text("secret")
    (folder / "creds").symlink_to(tmp_path / "credentials")
    source = client.app_sources.create(unique("Folder"))
    version = client.app_sources.new_version(source, folder, base_version=None)
    assert sorted(version.paths) == ["pkg/util.py", "start-app.sh"]
    item = client.app_sources.file(source, version, "pkg/util.py")
    assert item.content == "X = 1\n"
    listed = client.app_sources.new_version(
        source, [folder / "pkg" / "util.py"], delete=["pkg/util.py"]
    )
    assert sorted(listed.paths) == ["start-app.sh", "util.py"]
    client.app_sources.delete(source)


def test_many_files_go_up_in_batches(client: drn.Client, sandbox: Any) -> None:
    source = client.app_sources.create(unique("Batches"))
    files = {f"data/{i:03}.txt": f"row {i}" for i in range(UPLOAD_BATCH * 2 + 7)}
    sandbox.reset_stats()
    version = client.app_sources.new_version(source, files, base_version=None)
    patches = [r for r in sandbox.stats()["requests"] if r["method"] == "PATCH"]
    assert len(patches) == 3
    assert sorted(version.paths) == sorted(files)
    assert client.app_sources.file(source, version, "data/100.txt").content == "row 100"
    client.app_sources.delete(source)


def test_downloads_write_every_file_and_keep_existing_ones(
    client: drn.Client, tmp_path: Path
) -> None:
    template = client.templates.resolve("Flask App Base")
    written = client.templates.download(template, tmp_path / "tpl")
    expected = {f.name for f in template.files}
    assert {p.relative_to(tmp_path / "tpl").as_posix() for p in written} == expected
    app_py = client.templates.file(template, next(f for f in template.files if f.name == "app.py"))
    assert (tmp_path / "tpl" / "app.py").read_text() == app_py.content
    source = client.app_sources.create_from_template(template)
    got = client.app_sources.download(source, tmp_path / "src")
    assert sorted(p.name for p in got) == sorted(Path(p).name for p in expected)
    (tmp_path / "src" / "app.py").write_text("mine")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        client.app_sources.download(source, tmp_path / "src")
    assert (tmp_path / "src" / "app.py").read_text() == "mine"
    client.app_sources.download(source, tmp_path / "src", overwrite=True)
    assert (tmp_path / "src" / "app.py").read_text() == app_py.content
    assert os.listdir(tmp_path / "src" / "templates") == ["index.html"]
    client.app_sources.delete(source)


def test_binary_files_download_byte_for_byte(client: drn.Client, tmp_path: Path) -> None:
    catalogue = Path(drn.__file__).parent / "sandbox" / "catalogue" / "churn-risk-explorer"
    png = (catalogue / "files" / "docs" / "screenshot.png").read_bytes()
    template = client.templates.resolve("Churn Risk Explorer")
    client.templates.download(template, tmp_path / "tpl")
    assert (tmp_path / "tpl" / "docs" / "screenshot.png").read_bytes() == png
    source = client.app_sources.create_from_template(template)
    client.app_sources.download(source, tmp_path / "src")
    assert (tmp_path / "src" / "docs" / "screenshot.png").read_bytes() == png
    blob = bytes(range(256)) * 4  # not UTF-8
    client.app_sources.new_version(source, {"data/blob.bin": blob})
    client.app_sources.download(source, tmp_path / "v2")
    assert (tmp_path / "v2" / "data" / "blob.bin").read_bytes() == blob
    client.app_sources.delete(source)
