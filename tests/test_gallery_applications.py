"""The gallery's Launch application button, launch_app() and its "My applications" view,
against the sandbox over HTTP (simulated applications; the ones that really run use a
--run-apps sandbox of their own)."""

from __future__ import annotations

import html
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import ipywidgets as widgets
import pandas as pd
import pytest
from broken_app import (
    CRASH_FIRST_ERROR,
    CRASH_PRINTS,
    UNKNOWN,
    publish_broken_app,
    publish_crashing_app,
)

from dr_notebook import errors
from dr_notebook.client import Client
from dr_notebook.gallery import TemplateGallery
from dr_notebook.gallery.ui import walk
from dr_notebook.models import Application, ApplicationSource, Template
from dr_notebook.sandbox.testing import processes_in, start_sandbox

APP = "customApplicationTemplate"
FLASK = "Flask App Base"
WAIT = 60


def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"


@pytest.fixture
def gallery(client: Client) -> Iterator[TemplateGallery]:
    g = TemplateGallery(client)
    assert g.wait(WAIT)
    yield g
    g.close()


def flask(templates: list[Template]) -> Template:
    return next(t for t in templates if t.name == FLASK)


def all_state(g: TemplateGallery) -> str:
    return repr([w.get_state() for w in walk(g)])


def text(widget: widgets.HTML) -> str:
    return html.unescape(widget.value)


def test_launch_app_follows_both_stages_and_ends_with_the_card(
    gallery: TemplateGallery,
    client: Client,
    templates: list[Template],
    sandbox_settings: Any,
    value_recorder: Any,
) -> None:
    sandbox_settings(async_sources=True, async_delay_ms=400, app_start_delay_ms=600)
    values, _ = value_recorder(gallery.detail_pane.progress)
    name = unique("Gallery launch")
    app = gallery.launch_app(flask(templates).id, name=name)
    assert isinstance(app, Application) and app.running and app.name == name
    assert gallery.selected_id == flask(templates).id
    assert gallery.last_application is app
    assert isinstance(gallery.last_source, ApplicationSource)
    assert gallery.last_source.id == app.source_id
    lines = [html.unescape(v) for v in values]
    stages = [s for s in ("source", "build") if any(f"Launching {name}: {s} —" in v for v in lines)]
    assert stages == ["source", "build"], lines
    assert any(s in " ".join(lines) for s in ("INITIALIZED", "RUNNING"))  # the source job's
    assert f"Launched {name}" in text(gallery.detail_pane.progress)
    assert "dr-notebook-application" in gallery.detail_pane.result.value
    assert f'href="{app.application_url}"' in gallery.detail_pane.result.value
    assert ">Open application</a>" in gallery.detail_pane.result.value
    assert client.applications.get(app.id).running
    assert (
        not gallery.detail_pane.launch_button.disabled
        and not gallery.detail_pane.create_button.disabled
    )
    client.applications.delete(app)


def test_the_button_launches_in_a_worker_with_the_typed_name(
    gallery: TemplateGallery,
    client: Client,
    templates: list[Template],
    sandbox_settings: Any,
    value_recorder: Any,
) -> None:
    sandbox_settings(app_start_delay_ms=1200)
    gallery.selected_id = flask(templates).id
    name = unique("Clicked")
    gallery.detail_pane.app_name.value = name
    values, threads = value_recorder(gallery.detail_pane.progress)
    gallery.detail_pane.launch_button.click()
    future = gallery.launching
    assert future is not None
    assert not future.done()  # the click returned while the application builds
    assert gallery.detail_pane.launch_button.disabled and gallery.detail_pane.create_button.disabled
    assert "Not available" in (gallery.detail_pane.launch_button.tooltip or "")
    assert gallery._start_launch() is None  # a second launch cannot start meanwhile
    app = future.result(timeout=WAIT)
    assert app is not None and app.running and app.name == name
    assert gallery.last_application is app
    assert set(threads) == {threading.current_thread().name}, threads  # applied in the face's
    assert any("build —" in v for v in values)
    assert (
        app.id in gallery.detail_pane.result.value
        and "Open application" in gallery.detail_pane.result.value
    )
    assert not gallery.detail_pane.launch_button.disabled
    client.applications.delete(app)


def test_launch_disabled_with_the_reason(
    gallery: TemplateGallery, templates: list[Template]
) -> None:
    other = next(t for t in templates if t.template_type != APP)
    gallery.selected_id = other.id
    assert gallery.detail_pane.launch_button.disabled
    assert other.template_type in (gallery.detail_pane.launch_button.tooltip or "")
    assert other.template_type in gallery.detail_pane.reason.value
    off = next(t for t in templates if t.template_type == APP and not t.enabled)
    gallery.selected_id = off.id
    assert gallery.detail_pane.launch_button.disabled and "disabled" in (
        gallery.detail_pane.launch_button.tooltip or ""
    )
    with pytest.raises(errors.InvalidArgumentError, match="disabled"):
        gallery.launch_app()
    assert gallery._start_launch() is None
    gallery.selected_id = flask(templates).id
    assert not gallery.detail_pane.launch_button.disabled and gallery.detail_pane.reason.value == ""
    gallery.selected_id = None
    with pytest.raises(errors.InvalidArgumentError, match="template_id="):
        gallery.launch_app()


def test_launch_disabled_for_a_template_that_cannot_run_here(
    gallery: TemplateGallery, client: Client, templates: list[Template]
) -> None:
    slack = next(t for t in templates if t.name == "Slack Bot App")
    reason = slack.local_launch_blocker
    assert "Slack cannot reach" in reason
    assert flask(templates).local_launch_blocker == ""  # control: a template that runs here
    frame = client.templates.frame()
    by_name = dict(zip(frame["name"], frame["local_launch"], strict=True))
    assert by_name["Slack Bot App"] == reason and pd.isna(by_name[FLASK])
    gallery.selected_id = slack.id
    pane = gallery.detail_pane
    assert pane.launch_button.disabled and reason in (pane.launch_button.tooltip or "")
    assert "Slack cannot reach" in text(pane.reason)
    assert not pane.create_button.disabled  # its source can still be made and downloaded
    with pytest.raises(errors.InvalidArgumentError, match="cannot run here"):
        gallery.launch_app()
    gallery.selected_id = flask(templates).id
    assert not pane.launch_button.disabled and pane.reason.value == ""


def test_a_creation_blocks_the_launch_button(
    gallery: TemplateGallery, templates: list[Template], sandbox_settings: Any
) -> None:
    sandbox_settings(async_sources=True, async_delay_ms=1200)
    gallery.selected_id = flask(templates).id
    gallery.detail_pane.create_button.click()
    assert gallery.creation is not None and not gallery.creation.done()
    assert gallery.detail_pane.launch_button.disabled
    assert "creation or launch is running" in (gallery.detail_pane.launch_button.tooltip or "")
    assert gallery.creation.result(timeout=WAIT) is not None
    assert not gallery.detail_pane.launch_button.disabled


def test_a_name_in_use_is_one_line_and_creates_nothing(
    gallery: TemplateGallery, client: Client, sandbox: Any, templates: list[Template]
) -> None:
    taken = client.launch(FLASK, name=unique("Taken"), wait=False)
    sandbox.reset_stats()
    with pytest.raises(errors.NameInUseError):
        gallery.launch_app(flask(templates).id, name=taken.name)
    assert (
        "already exists" in text(gallery.detail_pane.result)
        and "Traceback" not in gallery.detail_pane.result.value
    )
    gallery.detail_pane.result.value = ""
    gallery.detail_pane.app_name.value = taken.name
    gallery.detail_pane.launch_button.click()
    assert gallery.launching is not None and gallery.launching.result(timeout=WAIT) is None
    assert "already exists" in text(gallery.detail_pane.result)
    assert "%dr_" not in text(gallery.detail_pane.result)
    posts = [r for r in sandbox.stats()["requests"] if r["method"] == "POST"]
    assert posts == []  # refused before anything was created
    assert gallery.last_application is None
    client.applications.delete(taken)


def test_a_timeout_says_it_may_still_be_building(
    gallery: TemplateGallery, client: Client, templates: list[Template], sandbox_settings: Any
) -> None:
    sandbox_settings(app_start_delay_ms=8000)
    name = unique("Slow")
    with pytest.raises(errors.AsyncTimeoutError) as caught:
        gallery.launch_app(flask(templates).id, name=name, timeout=1.5)
    shown = text(gallery.detail_pane.result)
    assert "may still be building" in shown and "client.applications.get(" in shown
    assert "%dr_" not in shown  # library messages name Python calls, not magics
    assert str(caught.value) in shown
    assert caught.value.application is not None
    client.applications.delete(caught.value.application)


def test_a_viewer_sees_the_403_line(sandbox: Any, templates: list[Template]) -> None:
    viewer = Client(endpoint=sandbox.endpoint, token=sandbox.tokens["viewer"], progress=False)
    g = TemplateGallery(viewer)
    assert g.wait(WAIT)
    g.selected_id = flask(templates).id
    g.detail_pane.app_name.value = unique("Viewer")
    g.detail_pane.launch_button.click()
    assert g.launching is not None and g.launching.result(timeout=WAIT) is None
    assert "403" in g.detail_pane.result.value and "Traceback" not in g.detail_pane.result.value
    assert g.last_application is None
    assert sandbox.tokens["viewer"] not in all_state(g)
    g.close()


def test_closing_during_a_launch_stops_the_worker_touching_widgets(
    client: Client,
    templates: list[Template],
    sandbox_settings: Any,
    widget_changes: Callable[[TemplateGallery], list[str]],
) -> None:
    sandbox_settings(app_start_delay_ms=1500)
    g = TemplateGallery(client)
    assert g.wait(WAIT)
    g.selected_id = flask(templates).id
    g.detail_pane.app_name.value = unique("Closed")
    g.detail_pane.launch_button.click()
    assert g.launching is not None
    g.close()
    touched = widget_changes(g)
    app = g.launching.result(timeout=WAIT)  # the launch finishes after the close
    assert app is not None and app.running
    assert touched == []
    client.applications.delete(app)


# --- My applications ------------------------------------------------------------------------


def test_my_applications_lists_refreshes_logs_and_deletes_with_a_confirmation(
    gallery: TemplateGallery, client: Client, sandbox: Any
) -> None:
    first = client.launch(FLASK, name=unique("Mine <b>one</b>"))
    view = gallery.apps_view
    assert view.box.layout.display == "none"
    gallery.apps_toggle.value = True  # the toggle: the list loads, the templates hide
    assert gallery.view == "applications"
    assert view.box.layout.display is None and gallery.body.layout.display == "none"
    # One Refresh on show: the list's own (the catalogue's hides with the search box).
    assert gallery.browser.refresh_button.layout.display == "none"
    assert gallery.browser.search_box.layout.display == "none"
    assert view.refresh_button.layout.display != "none"
    listed = {a.id for a in client.applications.list()}
    assert {r.application.id for r in view.rows} == listed
    row = view.row(first.id)
    assert "dr-notebook-status" in row.summary.value and ">running<" in row.summary.value
    assert f'href="{first.application_url}"' in row.summary.value
    assert "<b>one</b>" not in row.summary.value  # the name is escaped

    second = client.launch(FLASK, name=unique("Mine two"), wait=False)
    assert second.id not in {r.application.id for r in view.rows}
    view.refresh_button.click()
    assert second.id in {r.application.id for r in view.rows}

    view.row(first.id).logs_button.click()
    assert "Logs of" in text(view.logs) and "<pre" in view.logs.value
    assert "--run-apps" in text(view.logs)  # a simulated app's build log

    view.row(first.id).delete_button.click()  # first click: asks
    assert view.row(first.id).delete_button.description == "Confirm delete"
    assert client.applications.get(first.id).id == first.id  # not deleted yet
    view.row(second.id).logs_button.click()  # anything else cancels
    assert view.row(first.id).delete_button.description == "Delete"
    view.row(first.id).delete_button.click()
    view.row(second.id).delete_button.click()  # another row's delete cancels the first
    assert view.row(first.id).delete_button.description == "Delete"
    assert view.row(second.id).delete_button.description == "Confirm delete"
    view.row(second.id).delete_button.click()  # confirmed
    with pytest.raises(errors.NotFoundError):
        client.applications.get(second.id)
    assert second.id not in {r.application.id for r in view.rows}
    assert "Deleted" in text(view.status)
    assert client.applications.get(first.id).id == first.id  # the cancelled one stays
    assert sandbox.token not in all_state(gallery)
    gallery.view = "templates"
    assert not gallery.apps_toggle.value and gallery.body.layout.display is None
    assert gallery.browser.refresh_button.layout.display is None  # back with the templates
    client.applications.delete(first)


def test_show_here_shows_the_selected_running_app_inline(
    gallery: TemplateGallery, client: Client, sandbox: Any
) -> None:
    running = client.launch(FLASK, name=unique("Shown <i>here</i>"))
    waiting = client.launch(FLASK, name=unique("Not yet"), wait=False)
    view = gallery.apps_view
    gallery.apps_toggle.value = True
    assert view.shown.value == ""
    assert not view.row(running.id).show_button.disabled
    assert view.row(waiting.id).show_button.disabled == (not waiting.running)
    view.row(running.id).show_button.click()
    shown = view.shown.value
    assert shown.count("<iframe") == 1 and f'src="{running.application_url}"' in shown
    assert 'sandbox="allow-scripts' in shown and "<i>here</i>" not in shown  # escaped
    assert view.shown in view.box.children
    assert sandbox.token not in all_state(gallery)
    view.refresh_button.click()  # a new list: the shown app goes
    assert view.shown.value == ""
    for app in (running, waiting):
        client.applications.delete(app)


def test_my_applications_loads_without_holding_the_ui_lock(
    gallery: TemplateGallery, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    held: list[bool] = []
    real = client.applications.list

    def listing(**kwargs: Any) -> Any:
        # Another thread (the loader) must be able to take the lock during the request.
        result: list[bool] = []
        probe = threading.Thread(target=lambda: result.append(_try(gallery._ui_lock)))
        probe.start()
        probe.join(5)
        held.append(not result[0])
        return real(**kwargs)

    monkeypatch.setattr(client.applications, "list", listing)
    gallery.view = "applications"
    assert held == [False]
    gallery.view = "templates"


def _try(lock: Any) -> bool:
    if lock.acquire(timeout=0.2):
        lock.release()
        return True
    return False


def test_my_applications_empty_and_errors(
    sandbox_factory: Callable[..., Any], sandbox: Any
) -> None:
    empty = sandbox_factory(demo=False)
    g = TemplateGallery(Client(endpoint=empty.endpoint, token=empty.token, progress=False))
    g.view = "applications"
    assert g.apps_view.rows == [] and "no applications yet" in text(g.apps_view.status)
    g.close()
    admin = Client(endpoint=sandbox.endpoint, token=sandbox.token, progress=False)
    app = admin.launch(FLASK, name=unique("Not yours"), wait=False)
    viewer = Client(endpoint=sandbox.endpoint, token=sandbox.tokens["viewer"], progress=False)
    v = TemplateGallery(viewer)
    v.view = "applications"
    row = v.apps_view.row(app.id)
    row.delete_button.click()
    row.delete_button.click()
    assert "Could not delete" in text(v.apps_view.status) and "403" in v.apps_view.status.value
    assert admin.applications.get(app.id).id == app.id
    v.close()
    admin.applications.delete(app)


# --- applications that really run ----------------------------------------------------------


@pytest.fixture(scope="module")
def real() -> Iterator[Any]:
    with start_sandbox(run_apps=True) as server:
        yield server
    assert processes_in(server.apps_dir) == []


@pytest.mark.slow
def test_a_failed_build_is_one_line_with_the_build_error(real: Any) -> None:
    client = Client(endpoint=real.endpoint, token=real.token, progress=False)
    name = publish_broken_app(real)
    g = TemplateGallery(client)
    assert g.wait(WAIT)
    broken = next(t for t in client.templates.list() if t.name == name)
    with pytest.raises(errors.ApplicationFailedError) as caught:
        g.launch_app(broken.id, name=unique("Broken"))
    shown = text(g.detail_pane.result)
    assert str(caught.value) in shown and UNKNOWN in shown
    assert "client.applications.logs(" in shown and "Traceback" not in shown
    assert "%dr_" not in shown  # library messages name Python calls, not magics
    assert real.token not in all_state(g)
    g.close()
    assert caught.value.application is not None
    client.applications.delete(caught.value.application)


@pytest.mark.slow
def test_a_real_launch_then_its_logs_leave_no_token_in_widget_state(real: Any) -> None:
    client = Client(endpoint=real.endpoint, token=real.token, progress=False)
    g = TemplateGallery(client)
    assert g.wait(WAIT)
    template = next(t for t in client.templates.list() if t.name == FLASK)
    g.selected_id = template.id
    g.detail_pane.app_name.value = unique("Real")
    g.detail_pane.launch_button.click()
    assert g.launching is not None
    app = g.launching.result(timeout=120)
    assert app is not None and app.running
    g.view = "applications"
    g.apps_view.row(app.id).logs_button.click()
    lines = client.applications.logs(app).tail(50)
    assert lines and html.escape(lines[-1]) in g.apps_view.logs.value  # real output lines
    state = all_state(g)
    assert app.application_url is not None
    assert app.id in state and app.application_url in state  # positive control: it is all there
    assert real.token not in state
    g.close()
    client.applications.delete(app)


@pytest.mark.slow
def test_the_logs_of_a_crash_say_each_line_once_the_first_error_on_top(real: Any) -> None:
    client = Client(endpoint=real.endpoint, token=real.token, progress=False)
    name = publish_crashing_app(real)
    crashing = next(t for t in client.templates.list() if t.name == name)
    g = TemplateGallery(client)
    assert g.wait(WAIT)
    with pytest.raises(errors.ApplicationFailedError) as caught:
        g.launch_app(crashing.id, name=unique("Crash"))
    app = caught.value.application
    assert app is not None
    # The launch's failure: its message, line breaks kept (the notice keeps them), one hint.
    result = g.detail_pane.result.value
    assert "white-space:pre-wrap" in result and html.escape(str(caught.value)) in result
    assert text(g.detail_pane.result).count("Logs:") == 1
    g.view = "applications"
    g.apps_view.row(app.id).logs_button.click()
    shown = text(g.apps_view.logs)
    logs = client.applications.logs(app)
    assert logs.build_error and "Last lines of its output" in logs.build_error  # it repeats
    assert logs.lines[: len(CRASH_PRINTS)] == list(CRASH_PRINTS)  # positive control
    reason = logs.build_error.split(" First error: ")[0]
    said = shown.index(f"First error: {CRASH_FIRST_ERROR}\n{reason}</div>")
    assert said < shown.index("booting") and shown.count("booting") == 1
    assert shown.count(CRASH_FIRST_ERROR) == 2  # on top, and as the traceback's last line
    assert "Last lines of its output" not in shown and shown.count("Traceback") == 1
    g.close()
    client.applications.delete(app)
