"""The gallery against the sandbox over HTTP: search, filters, paging, sort, details, creation.

Expected results are computed independently, in plain Python over ``client.templates.list()``,
and compared with the gallery's ``matches`` and the values of its card widgets.
"""

from __future__ import annotations

import base64
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import ipywidgets as widgets
import pytest

import dr_notebook as drn
from dr_notebook import errors
from dr_notebook.client import Client
from dr_notebook.gallery import TemplateGallery
from dr_notebook.gallery.ui import walk
from dr_notebook.models import Template

APP = "customApplicationTemplate"
WAIT = 30


def _loaded(g: TemplateGallery) -> TemplateGallery:
    """The gallery once its catalogue has loaded (it loads in a worker thread)."""
    assert g.wait(WAIT), "the catalogue did not load in time"
    assert not g.loading
    return g


@pytest.fixture
def gallery(client: Client) -> Iterator[TemplateGallery]:
    g = _loaded(TemplateGallery(client, page_size=4))
    yield g
    g.close()


@pytest.fixture
def restore(sandbox: Any) -> Iterator[Any]:
    """The session sandbox, put back to synchronous creation after the test."""
    yield sandbox
    sandbox.configure(async_sources=False, async_delay_ms=300, async_outcome="COMPLETED")


def _by_name(items: list[Template]) -> list[str]:
    return [t.name for t in sorted(items, key=lambda t: t.name.lower())]


def _titles(g: TemplateGallery) -> list[str]:
    return [card.title.value for card in g.visible_cards]


def _first_page(g: TemplateGallery, names: list[str]) -> None:
    assert g.matches == len(names)
    assert _titles(g) == names[: g.page_size]


def _value(t: Template, field: str) -> list[str]:
    if field == "tag":
        return t.tags
    value = {
        "template_type": t.template_type,
        "template_sub_type": t.template_sub_type,
        "publisher": t.publisher,
        "category": t.category,
    }[field]
    return [value] if value else []


def _all_state(g: TemplateGallery) -> str:
    return repr([w.get_state() for w in walk(g)])


def _creatable(templates: list[Template]) -> Template:
    return next(t for t in templates if t.enabled and t.template_type == APP)


def test_demo_catalogue_fits_these_tests(templates: list[Template]) -> None:
    assert len(templates) > 8
    assert any(t.can_create_application for t in templates)
    assert any(t.template_type != APP for t in templates)
    assert any(not t.enabled and t.template_type == APP for t in templates)
    assert any((t.readme or "").lstrip().startswith("#") for t in templates)


def test_builds_with_the_first_page(gallery: TemplateGallery, templates: list[Template]) -> None:
    _first_page(gallery, _by_name(templates))
    assert len(gallery.visible_cards) == 4
    assert gallery.page == 1
    assert gallery.browser.page_label.value == f"Page 1 of {-(-len(templates) // 4)}"
    assert f"<b>{len(templates)}</b> templates" in gallery.browser.matches_label.value
    assert gallery.browser.message.value == ""
    assert gallery.detail_pane.box.layout.display == "none"
    assert isinstance(gallery, widgets.VBox)
    assert len(gallery.frame) == len(templates)


def test_client_from_the_environment(
    sandbox: Any, templates: list[Template], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATAROBOT_ENDPOINT", sandbox.endpoint)
    monkeypatch.setenv("DATAROBOT_API_TOKEN", sandbox.token)
    g = _loaded(drn.TemplateGallery(template_type=APP))
    assert g.client is not None
    assert g.template_type == APP
    assert g.browser.filters["template_type"].value == APP
    assert g.matches == sum(t.template_type == APP for t in templates)
    g.close()


def test_close_closes_only_a_client_the_gallery_built(
    sandbox: Any, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATAROBOT_ENDPOINT", sandbox.endpoint)
    monkeypatch.setenv("DATAROBOT_API_TOKEN", sandbox.token)
    closed: list[Client] = []
    close = Client.close

    def spy(self: Client) -> None:
        closed.append(self)
        close(self)

    monkeypatch.setattr(Client, "close", spy)
    built = _loaded(drn.TemplateGallery(template_type=APP))
    own = built.client
    assert own is not None and own is not client
    built.close()
    assert closed == [own]
    given = _loaded(drn.TemplateGallery(client, template_type=APP))
    given.close()
    assert closed == [own]  # the caller's client stays theirs


def test_search_as_you_type(gallery: TemplateGallery, templates: list[Template]) -> None:
    word = templates[0].name.split()[0].lower()
    for prefix in (word[:1], word[:3], word):
        gallery.browser.search_box.value = prefix  # what typing does
        assert gallery.search == prefix
        expected = [t for t in templates if prefix in f"{t.name}\n{t.description or ''}".lower()]
        _first_page(gallery, _by_name(expected))
    gallery.search = word.upper()
    assert gallery.browser.search_box.value == word.upper()
    assert gallery.matches == len(expected)
    gallery.search = "no template says this 1234"
    assert gallery.matches == 0
    assert gallery.visible_cards == []
    assert "No template matches" in gallery.browser.message.value
    gallery.search = ""
    assert gallery.matches == len(templates)


def test_search_matches_descriptions(gallery: TemplateGallery, templates: list[Template]) -> None:
    target = next(t for t in templates if t.description and len(t.description.split()) > 3)
    words = [w for w in target.description.split() if len(w) > 4 and w.isalpha()]
    phrase = words[-1].lower()
    gallery.search = phrase
    expected = [t for t in templates if phrase in f"{t.name}\n{t.description}".lower()]
    assert target.name in _by_name(expected)
    assert gallery.matches == len(expected)


@pytest.mark.parametrize(
    "field", ["template_type", "template_sub_type", "tag", "publisher", "category"]
)
def test_each_filter(gallery: TemplateGallery, templates: list[Template], field: str) -> None:
    dropdown = gallery.browser.filters[field]
    values = [v for _, v in dropdown.options if v]
    catalogue_values = sorted({v for t in templates for v in _value(t, field)}, key=str.lower)
    assert sorted(values, key=str.lower) == catalogue_values
    assert dropdown.options[0] == ("All", "")
    value = values[0]
    dropdown.value = value  # the widget path
    assert getattr(gallery, field) == value
    expected = [t for t in templates if value in _value(t, field)]
    assert 0 < len(expected) < len(templates)
    _first_page(gallery, _by_name(expected))
    dropdown.value = ""
    assert getattr(gallery, field) is None
    assert gallery.matches == len(templates)
    setattr(gallery, field, values[-1])  # the code path
    assert dropdown.value == values[-1]
    assert gallery.matches == sum(values[-1] in _value(t, field) for t in templates)


def test_filters_and_search_combine(gallery: TemplateGallery, templates: list[Template]) -> None:
    gallery.template_type = APP
    gallery.search = "app"
    expected = [
        t
        for t in templates
        if t.template_type == APP and "app" in f"{t.name}\n{t.description}".lower()
    ]
    assert gallery.matches == len(expected)
    gallery.template_type = "customNoSuchTemplate"
    assert gallery.matches == 0
    assert gallery.browser.filters["template_type"].value == "customNoSuchTemplate"


def test_the_sub_type_list_follows_the_chosen_type(
    gallery: TemplateGallery, templates: list[Template]
) -> None:
    def sub_types() -> list[str]:
        return [v for _, v in gallery.browser.filters["template_sub_type"].options if v]

    everything = sorted({t.template_sub_type for t in templates if t.template_sub_type})
    assert sorted(sub_types()) == everything
    for kind in sorted({t.template_type for t in templates}):
        gallery.template_type = kind
        own = {t.template_sub_type for t in templates if t.template_type == kind}
        assert set(sub_types()) == own - {None}, kind
    assert len({t.template_type for t in templates if t.template_sub_type}) > 1  # a real test
    gallery.template_type = None
    assert sorted(sub_types()) == everything


def test_type_filter_takes_short_names(
    gallery: TemplateGallery, client: Client, templates: list[Template]
) -> None:
    gallery.template_type = "metric"
    assert gallery.template_type == "customMetricTemplate"
    assert gallery.browser.filters["template_type"].value == "customMetricTemplate"
    assert gallery.matches == sum(t.template_type == "customMetricTemplate" for t in templates) > 0
    built = drn.TemplateGallery(client, template_type="application")
    assert built.wait(60)
    try:
        assert built.template_type == APP and built.browser.filters["template_type"].value == APP
        assert built.matches == sum(t.template_type == APP for t in templates)
    finally:
        built.close()


def test_paging(gallery: TemplateGallery, templates: list[Template]) -> None:
    names = _by_name(templates)
    pages = -(-len(names) // 4)
    cards_before = list(gallery.browser.cards)
    gallery.browser.next_button.click()
    assert gallery.page == 2
    assert _titles(gallery) == names[4:8]
    assert gallery.browser.page_label.value == f"Page 2 of {pages}"
    assert not gallery.browser.prev_button.disabled
    gallery.browser.prev_button.click()
    assert gallery.page == 1
    assert gallery.browser.prev_button.disabled
    gallery.page = 999  # clamped
    assert gallery.page == pages
    assert _titles(gallery) == names[(pages - 1) * 4 :]
    assert gallery.browser.next_button.disabled
    assert [c.visible for c in gallery.browser.cards].count(True) == len(names) - (pages - 1) * 4
    gallery.search = "a"  # a new search starts again at page 1
    assert gallery.page == 1
    assert gallery.browser.cards == cards_before


def test_sort_orders(gallery: TemplateGallery, templates: list[Template]) -> None:
    names = _by_name(templates)
    gallery.browser.sort.value = "-name"
    assert gallery.order_by == "-name"
    assert _titles(gallery) == names[::-1][:4]
    gallery.order_by = "templateType"
    assert gallery.browser.sort.value == "templateType"
    by_type = sorted(templates, key=lambda t: (t.template_type, t.name.lower()))
    assert _titles(gallery) == [t.name for t in by_type[:4]]
    gallery.order_by = "-createdAt"
    newest = sorted(templates, key=lambda t: t.created_at, reverse=True)  # type: ignore[arg-type]
    assert _titles(gallery)[0] == newest[0].name
    assert list(gallery.matching["name"]) == [t.name for t in newest]


def test_card_widgets_are_reused(gallery: TemplateGallery) -> None:
    cards = list(gallery.browser.cards)
    parts = [(c.title, c.body, c.open_button, c.layout) for c in cards]
    grid_children = gallery.browser.grid.children
    for text in ("s", "st", "", "a"):
        gallery.search = text
    gallery.page = 2
    gallery.order_by = "-name"
    gallery.tag = gallery.browser.filters["tag"].options[1][1]
    assert gallery.browser.cards == cards
    assert gallery.browser.grid.children == grid_children
    assert [(c.title, c.body, c.open_button, c.layout) for c in cards] == parts


def test_cards_show_badges_tags_and_disabled_state(
    gallery: TemplateGallery, templates: list[Template]
) -> None:
    disabled = next(t for t in templates if not t.enabled)
    gallery.search = disabled.name
    card = next(c for c in gallery.visible_cards if c.template_id == disabled.id)
    assert "disabled" in card.body.value
    for tag in disabled.tags[:4]:
        assert f">{tag}<" in card.body.value
    enabled = next(t for t in templates if t.enabled and t.tags)
    gallery.search = enabled.name
    card = next(c for c in gallery.visible_cards if c.template_id == enabled.id)
    assert "disabled" not in card.body.value
    assert "var(--jp-" in card.body.value


def test_selecting_a_card_shows_the_readme(
    gallery: TemplateGallery, templates: list[Template]
) -> None:
    template = next(t for t in templates if (t.readme or "").lstrip().startswith("# "))
    heading = template.readme.lstrip().splitlines()[0][2:].strip()  # type: ignore[union-attr]
    gallery.search = template.name
    card = next(c for c in gallery.visible_cards if c.template_id == template.id)
    card.open_button.click()
    assert gallery.selected_id == template.id
    assert gallery.detail_pane.box.layout.display is None
    assert re.search(r"<h1[^>]*>\s*" + re.escape(heading), gallery.detail_pane.readme.value)
    assert card.layout.border == "2px solid var(--jp-brand-color1, #1976d2)"
    info = gallery.detail_pane.info.value
    for file in template.files[:3]:
        assert file.name in info
    if template.default_environment.environment_id:
        assert template.default_environment.environment_id in info
    if template.default_resource_bundle_id:
        assert template.default_resource_bundle_id in info
    gallery.detail_pane.close_button.click()
    assert gallery.selected_id is None
    assert gallery.detail_pane.box.layout.display == "none"


def test_detail_readme_shows_the_templates_own_screenshot(
    gallery: TemplateGallery, templates: list[Template], client: Client
) -> None:
    template = next(t for t in templates if t.name == "Streamlit App Base")
    shot = next(f for f in template.files if f.name == "docs/screenshot.png")
    content = client.templates.file(template.id, shot.id).content
    assert content is not None
    png = base64.b64decode(content)
    gallery.selected_id = template.id
    assert (
        f'src="data:image/png;base64,{base64.b64encode(png).decode()}"'
        in gallery.detail_pane.readme.value
    )
    assert "githubusercontent" not in gallery.detail_pane.readme.value


def test_create_button_disabled_with_a_reason(
    gallery: TemplateGallery, templates: list[Template]
) -> None:
    other = next(t for t in templates if t.template_type != APP)
    gallery.selected_id = other.id
    assert gallery.detail_pane.create_button.disabled
    assert other.template_type in (gallery.detail_pane.create_button.tooltip or "")
    assert other.template_type in gallery.detail_pane.reason.value
    off = next(t for t in templates if t.template_type == APP and not t.enabled)
    gallery.selected_id = off.id
    assert gallery.detail_pane.create_button.disabled
    assert "disabled" in (gallery.detail_pane.create_button.tooltip or "")
    assert "disabled" in gallery.detail_pane.reason.value
    with pytest.raises(errors.InvalidArgumentError, match="disabled"):
        gallery.create_app()
    good = _creatable(templates)
    gallery.selected_id = good.id
    assert not gallery.detail_pane.create_button.disabled
    assert gallery.detail_pane.reason.value == ""


def test_create_app_needs_a_template(gallery: TemplateGallery) -> None:
    with pytest.raises(errors.InvalidArgumentError, match="template_id="):
        gallery.create_app()


def _check_source_shown(g: TemplateGallery, client: Client, source: Any) -> None:
    assert g.last_source is source
    assert source.id in g.detail_pane.result.value
    assert "Created application source" in g.detail_pane.progress.value
    assert client.app_sources.get(source.id).id == source.id


@pytest.mark.parametrize("async_mode", [False, True], ids=["sync", "async"])
def test_create_app(
    restore: Any,
    client: Client,
    templates: list[Template],
    async_mode: bool,
) -> None:
    restore.configure(async_sources=async_mode, async_delay_ms=200)
    g = _loaded(TemplateGallery(client))
    template = _creatable(templates)
    restore.reset_stats()
    source = g.create_app(template.id)
    assert g.selected_id == template.id
    _check_source_shown(g, client, source)
    posts = [
        r
        for r in restore.stats()["requests"]
        if r["method"] == "POST" and "fromCustomTemplate" in r["path"]
    ]
    assert len(posts) == 1
    assert not g.detail_pane.create_button.disabled
    g.close()


@pytest.mark.parametrize("async_mode", [False, True], ids=["sync", "async"])
def test_button_creates_in_a_worker_thread(
    restore: Any, client: Client, templates: list[Template], async_mode: bool, value_recorder: Any
) -> None:
    restore.configure(async_sources=async_mode, async_delay_ms=600)
    g = _loaded(TemplateGallery(client))
    template = _creatable(templates)
    g.selected_id = template.id
    values, threads = value_recorder(g.detail_pane.progress)
    g.detail_pane.create_button.click()
    future = g.creation
    assert future is not None
    if async_mode:
        assert not future.done()  # the click returned while the server is still working
        assert g.detail_pane.create_button.disabled
    source = future.result(timeout=WAIT)
    _check_source_shown(g, client, source)
    # The worker created it; its progress lines were applied in this (the face's) thread.
    assert len(threads) > 1 and set(threads) == {threading.current_thread().name}
    if async_mode:
        statuses = [v for v in values if "Creating the application source:" in v]
        assert statuses, values
        assert any(s in " ".join(statuses) for s in ("INITIALIZED", "RUNNING"))
    assert not g.detail_pane.create_button.disabled
    g.close()


def test_failed_async_job_shows_its_message(
    restore: Any, client: Client, templates: list[Template]
) -> None:
    restore.configure(async_sources=True, async_delay_ms=100, async_outcome="ERROR")
    g = _loaded(TemplateGallery(client))
    g.selected_id = _creatable(templates).id
    g.detail_pane.create_button.click()
    assert g.creation is not None
    assert g.creation.result(timeout=WAIT) is None
    assert g.last_source is None
    assert "ERROR" in g.detail_pane.result.value
    assert "Traceback" not in g.detail_pane.result.value
    g.close()


def test_viewer_sees_the_403_message(sandbox: Any, templates: list[Template]) -> None:
    viewer = Client(endpoint=sandbox.endpoint, token=sandbox.tokens["viewer"], progress=False)
    g = _loaded(TemplateGallery(viewer))
    template = _creatable(templates)
    with pytest.raises(errors.PermissionDeniedError) as caught:
        g.create_app(template.id)
    assert str(caught.value) in g.detail_pane.result.value.replace("&#x27;", "'").replace(
        "&quot;", '"'
    )
    assert "403" in g.detail_pane.result.value
    g.detail_pane.result.value = ""
    g.detail_pane.create_button.click()
    assert g.creation is not None
    assert g.creation.result(timeout=WAIT) is None
    assert "403" in g.detail_pane.result.value
    assert g.last_source is None
    assert sandbox.tokens["viewer"] not in _all_state(g)
    g.close()


def test_token_is_in_no_widget_state(
    sandbox: Any, client: Client, templates: list[Template]
) -> None:
    g = _loaded(TemplateGallery(client))
    g.selected_id = _creatable(templates).id
    g.detail_pane.create_button.click()
    assert g.creation is not None
    g.creation.result(timeout=WAIT)
    walked = list(walk(g))
    assert len(walked) > 60  # cards, their parts, layouts and styles are all visited
    assert sandbox.token not in _all_state(g)
    assert sandbox.token not in repr(g)
    g.close()


def test_empty_catalogue_shows_a_message(sandbox_factory: Callable[..., Any]) -> None:
    empty = sandbox_factory(demo=False)
    g = _loaded(TemplateGallery(Client(endpoint=empty.endpoint, token=empty.token, progress=False)))
    assert g.matches == 0
    assert g.visible_cards == []
    assert "catalogue is empty" in g.browser.message.value
    assert g.browser.filters["tag"].options == (("All", ""),)
    g.close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_server_shows_a_message() -> None:
    endpoint = f"http://127.0.0.1:{_closed_port()}/api/v2"
    client = Client(endpoint=endpoint, token="t0ken-never-shown-123456", progress=False)
    g = _loaded(TemplateGallery(client))
    assert g.matches == 0
    assert "Could not load the templates" in g.browser.message.value
    assert "Traceback" not in g.browser.message.value
    assert "t0ken-never-shown-123456" not in _all_state(g)
    g.close()


def test_bad_token_shows_a_message(sandbox: Any) -> None:
    token = "wrong-token-0123456789abcdef"
    g = _loaded(TemplateGallery(Client(endpoint=sandbox.endpoint, token=token, progress=False)))
    assert "Could not load the templates" in g.browser.message.value
    assert "401" in g.browser.message.value
    assert token not in _all_state(g)
    g.close()


def test_refresh_reloads_the_catalogue(sandbox_factory: Callable[..., Any]) -> None:
    sb = sandbox_factory(demo=False)
    client = Client(endpoint=sb.endpoint, token=sb.token, progress=False)
    g = _loaded(TemplateGallery(client))
    g.search = "zebra"
    assert g.matches == 0
    client.templates.create(
        name="Zebra Stripes App",
        description="Striped dashboards",
        template_type=APP,
        template_sub_type="streamlit",
        default_environment={"environmentId": "0" * 24, "environmentVersionId": "1" * 24},
        file=b"print('zebra')\n",
        tags=["zebra"],
    )
    g.browser.refresh_button.click()
    assert g.wait(WAIT)
    assert g.search == "zebra"
    assert g.matches == 1
    assert _titles(g) == ["Zebra Stripes App"]
    assert g.browser.message.value == ""
    assert g.browser.filters["tag"].options == (("All", ""), ("zebra", "zebra"))
    shown_id = g.visible_cards[0].template_id
    assert shown_id is not None
    client.templates.update(shown_id, name="Zebra Stripes App 2")
    g.refresh()
    assert g.wait(WAIT)
    assert _titles(g) == ["Zebra Stripes App 2"]
    g.close()


def test_unknown_selection_and_bad_page_size(client: Client) -> None:
    g = _loaded(TemplateGallery(client, page_size=3))
    g.selected_id = "f" * 24
    assert "not in the loaded catalogue" in g.detail_pane.header.value
    assert g.detail_pane.readme_box.layout.display == "none"
    g.close()
    with pytest.raises(errors.InvalidArgumentError, match="page_size"):
        TemplateGallery(client, page_size=0)


def test_a_filter_value_from_code_leaves_the_options_when_cleared(
    gallery: TemplateGallery,
) -> None:
    options = gallery.browser.filters["category"].options
    gallery.category = "No Such Category"
    assert gallery.browser.filters["category"].options == (*options, ("No Such Category",) * 2)
    assert gallery.matches == 0
    gallery.category = None
    assert gallery.browser.filters["category"].options == options
    assert gallery.browser.filters["category"].value == ""


def test_no_configuration_shows_a_message(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    for name in ("DATAROBOT_ENDPOINT", "DATAROBOT_API_TOKEN", "DATAROBOT_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    g = _loaded(TemplateGallery())
    assert g.client is None
    assert g.matches == 0
    assert "Could not load the templates" in g.browser.message.value
    assert "DATAROBOT_ENDPOINT" in g.browser.message.value  # the message names the fix
    g.close()


def _wait_for(condition: Callable[[], bool], seconds: float = WAIT) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_closing_stops_the_worker_touching_widgets(
    restore: Any,
    client: Client,
    templates: list[Template],
    widget_changes: Callable[[TemplateGallery], list[str]],
) -> None:
    restore.configure(async_sources=True, async_delay_ms=1500)
    g = _loaded(TemplateGallery(client))
    g.selected_id = _creatable(templates).id
    g.detail_pane.create_button.click()
    assert g.creation is not None
    _wait_for(
        lambda: (
            g.apply_updates() or "Creating the application source:" in g.detail_pane.progress.value
        )
    )
    g.close()
    touched = widget_changes(g)
    source = g.creation.result(timeout=WAIT)  # the job finishes after the close
    assert source is not None and source.id
    assert touched == []


def test_the_creation_worker_draws_no_progress_bar(
    restore: Any, sandbox: Any, templates: list[Template], monkeypatch: pytest.MonkeyPatch
) -> None:
    import tqdm.auto

    made: list[str] = []

    class Recorded(tqdm.auto.tqdm):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            made.append(threading.current_thread().name)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(tqdm.auto, "tqdm", Recorded)
    # As in a terminal (pytest's captured stderr would get stage lines, not a bar).
    monkeypatch.setattr("dr_notebook.resources._progress._is_terminal", lambda _stream: True)
    restore.configure(async_sources=True, async_delay_ms=900)
    noisy = Client(endpoint=sandbox.endpoint, token=sandbox.token)  # progress bars on
    template = _creatable(templates)
    g = _loaded(TemplateGallery(noisy))
    g.selected_id = template.id
    g.detail_pane.create_button.click()
    assert g.creation is not None and g.creation.result(timeout=WAIT) is not None
    assert "Created application source" in g.detail_pane.progress.value  # its own line instead
    g.close()
    assert made == []
    noisy.app_sources.create_from_template(template.id)  # positive control: main thread, a bar
    assert made == [threading.main_thread().name]
    noisy.close()


def test_listing_creation_and_a_user_call_share_one_client(sandbox_factory: Any) -> None:
    sb = sandbox_factory(generate=600, latency_ms=40, async_sources=True, async_delay_ms=1500)
    client = Client(endpoint=sb.endpoint, token=sb.token, max_workers=4, progress=False)
    g = _loaded(TemplateGallery(client))
    everything = [t.id for t in client.templates.list()]
    assert len(everything) > 600
    template = _creatable(client.templates.list(template_type=APP))
    g.selected_id = template.id
    g.detail_pane.create_button.click()
    assert g.creation is not None
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="user") as pool:
        listing = pool.submit(client.templates.list)
        mine = pool.submit(client.templates.get, everything[-1])
        assert [t.id for t in listing.result(timeout=WAIT)] == everything
        assert mine.result(timeout=WAIT).id == everything[-1]
        assert not g.creation.done()  # all three were in flight together
    source = g.creation.result(timeout=WAIT)
    assert source is not None and client.app_sources.get(source.id).name == source.name
    assert g.last_source is source
    g.close()
    client.close()
