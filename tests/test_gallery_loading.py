"""The gallery loads in the background: first cards after one page, the rest while you browse.

Real sandboxes with latency make loading slow enough to act on the gallery midway; what the
gallery shows is compared with the server's own counts and with plain Python over the listing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from dr_notebook.client import Client
from dr_notebook.gallery import TemplateGallery
from dr_notebook.gallery.catalogue import FILTER_FIELDS, Catalogue, CatalogueBuilder, Query

WAIT = 60
SIZE = 1000  # ten pages of 100


def _wait_for(condition: Callable[[], bool], seconds: float = WAIT) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def _slow_client(sb: Any) -> Client:
    # One worker: the pages come one round trip after another, so loading takes ten of them.
    return Client(endpoint=sb.endpoint, token=sb.token, max_workers=1, progress=False)


def _loader_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "dr-gallery-loader"]


def test_first_cards_come_from_the_first_page(sandbox_factory: Callable[..., Any]) -> None:
    sb = sandbox_factory(demo=False, generate=SIZE, latency_ms=200)
    client = _slow_client(sb)
    sb.reset_stats()
    served_at_first_title: list[int] = []

    def titled(change: dict[str, Any]) -> None:
        if change["new"] and not served_at_first_title:
            served_at_first_title.append(sb.stats()["counts"]["GET customTemplates/"])

    g = TemplateGallery(client, page_size=6)  # returns at once: watch its first card now
    g.browser.cards[0].title.observe(titled, names="value")
    assert g.loading  # construction returned before the catalogue was in
    assert g.wait(WAIT)
    assert served_at_first_title and served_at_first_title[0] <= 3, served_at_first_title
    assert sb.stats()["counts"]["GET customTemplates/"] == SIZE // 100
    assert g.matches == SIZE and not g.loading and g.browser.load_status.value == ""
    g.close()


def test_search_filters_and_paging_work_while_loading(
    sandbox_factory: Callable[..., Any],
) -> None:
    sb = sandbox_factory(demo=False, generate=SIZE, latency_ms=120)
    client = _slow_client(sb)
    everything = client.templates.list()
    g = TemplateGallery(client, page_size=5)
    _wait_for(lambda: g.apply_updates() or g.matches > 0)
    g.search = "a"
    g.template_type = "customApplicationTemplate"
    g.page = 2
    with g._ui_lock:  # the loader waits: what the gallery shows is of one catalogue
        assert g.loading and 0 < len(g.frame) < SIZE
        assert (
            "Loading" in g.browser.load_status.value
            and f"of {SIZE:,}" in g.browser.load_status.value
        )
        loaded = g.frame
        expected = [
            template_id
            for template_id, name, description, kind in zip(
                loaded["id"],
                loaded["name"],
                loaded["description"],
                loaded["template_type"],
                strict=True,
            )
            if "a" in f"{name}\n{description}".lower() and kind == "customApplicationTemplate"
        ]
        assert g.matches == len(expected) > 5
        assert g.page == 2
        names = dict(zip(loaded["id"], loaded["name"], strict=True))
        shown = sorted(expected, key=lambda i: names[i].lower())
        assert [c.template_id for c in g.visible_cards] == shown[5:10]
    assert g.wait(WAIT)
    final = [
        t.id
        for t in everything
        if "a" in f"{t.name}\n{t.description}".lower()
        and t.template_type == "customApplicationTemplate"
    ]
    assert g.matches == len(final) and g.page == 2  # the query and page stayed
    g.close()


def test_refresh_during_and_after_a_load(sandbox_factory: Callable[..., Any]) -> None:
    sb = sandbox_factory(demo=False, generate=SIZE, latency_ms=80)
    client = _slow_client(sb)
    g = TemplateGallery(client)
    _wait_for(lambda: g.apply_updates() or g.matches > 0)
    assert g.loading
    g.refresh()  # the first load is abandoned midway
    assert g.wait(WAIT)
    ids = g.frame["id"].tolist()
    assert len(ids) == len(set(ids)) == SIZE == g.matches
    _wait_for(lambda: _loader_threads() == [])  # the abandoned loader ended too
    client.templates.delete(ids[0])
    g.refresh()  # and once loaded
    assert g.wait(WAIT)
    assert len(g.frame) == SIZE - 1 and ids[0] not in set(g.frame["id"])
    g.close()


def test_an_error_midway_is_shown_with_what_loaded(
    sandbox_factory: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "drconfig.yaml"
    config.write_text("max_retries: 0\n")  # the failure shows at once, not after retries
    monkeypatch.setenv("DATAROBOT_CONFIG_FILE", str(config))
    sb = sandbox_factory(demo=False, generate=SIZE, latency_ms=120)
    g = TemplateGallery(_slow_client(sb), page_size=4)
    _wait_for(lambda: g.apply_updates() or g.matches > 0)
    sb.configure(fault_rate=1.0, fault_kind="503")
    assert g.wait(WAIT)
    assert not g.loading
    assert 0 < len(g.frame) < SIZE
    assert "Could not load all the templates" in g.browser.message.value
    assert f"of {SIZE:,} loaded" in g.browser.message.value and "503" in g.browser.message.value
    assert len(g.visible_cards) == 4  # what did load stays browsable
    g.close()


def test_closing_during_a_load_leaves_no_thread_touching_widgets(
    sandbox_factory: Callable[..., Any], widget_changes: Callable[[TemplateGallery], list[str]]
) -> None:
    sb = sandbox_factory(demo=False, generate=SIZE, latency_ms=80)
    g = TemplateGallery(_slow_client(sb))
    _wait_for(lambda: g.apply_updates() or g.matches > 0)
    assert g.loading and _loader_threads()
    g.close()
    touched = widget_changes(g)
    assert g.wait(WAIT)  # the loader ends at its next page
    _wait_for(lambda: _loader_threads() == [])
    assert touched == []
    assert len(g.frame) < SIZE


@pytest.mark.slow
def test_first_cards_long_before_a_large_catalogue_is_in(
    sandbox_factory: Callable[..., Any],
) -> None:
    """10,000 templates, 50 ms a request, eight workers: the first cards are not held back."""
    sb = sandbox_factory(demo=False, generate=10_000, latency_ms=50)
    client = Client(endpoint=sb.endpoint, token=sb.token, progress=False)
    first_title: list[float] = []
    start = time.perf_counter()
    g = TemplateGallery(client)
    constructed = time.perf_counter() - start

    def titled(change: dict[str, Any]) -> None:
        if change["new"] and not first_title:
            first_title.append(time.perf_counter() - start)

    g.browser.cards[0].title.observe(titled, names="value")
    assert g.wait(WAIT)
    loaded = time.perf_counter() - start
    assert first_title, "no card got a title"
    # A gallery that showed nothing until all 100 pages were in would title its first card
    # at the very end; here it comes after page one, a small part of the whole load.
    assert first_title[0] < loaded / 3, (constructed, first_title, loaded)
    assert g.matches == 10_000
    g.close()


def test_a_catalogue_grown_page_by_page_equals_one_built_at_once(
    sandbox_factory: Callable[..., Any],
) -> None:
    sb = sandbox_factory(demo=False, generate=SIZE, seed=11)
    client = Client(endpoint=sb.endpoint, token=sb.token, progress=False)
    whole = Catalogue(client.templates.frame())
    builder = CatalogueBuilder(batch=250)  # some rows indexed between pages, some on demand
    early: list[Catalogue] = []
    with closing(client.templates.pages()) as pages:
        for page in pages:
            builder.add(page.items)
            if len(builder) in (100, 300, 600):
                early.append(builder.catalogue())
    grown = builder.catalogue()
    tag, publisher = whole.options("tag")[0], whole.options("publisher")[-1]
    kind = whole.options("template_type")[0]
    queries = [
        Query(),
        Query(search="app", order_by="-name"),
        Query(tag=tag, order_by="-createdAt"),
        Query(template_type=kind, publisher=publisher, order_by="templateSubType"),
    ]
    pd.testing.assert_frame_equal(grown.frame, whole.frame)
    # README text is held once: the frame's cells are the strings the cards and detail read.
    readme = grown.record(7)["readme"]
    assert readme and readme is grown.frame["readme"].iloc[7]
    for catalogue, reference in [
        (grown, whole),
        *((c, Catalogue(whole.frame.iloc[: len(c)])) for c in early),
    ]:
        for query in queries:
            assert list(catalogue.select(query)) == list(reference.select(query)), query
        for field in FILTER_FIELDS:
            assert catalogue.options(field) == reference.options(field)
        for position in (0, len(reference) // 2, len(reference) - 1):
            assert catalogue.record(position) == reference.record(position)
            template_id = reference.record(position, ["id"])["id"]
            assert catalogue.position(template_id) == position
    # A catalogue reported earlier does not change as later pages come in.
    assert [len(c) for c in early] == [100, 300, 600]
    assert early[0].position(whole.record(150, ["id"])["id"]) is None
    assert early[0].options("tag") == Catalogue(whole.frame.iloc[:100]).options("tag")
