"""The gallery's threads: the worker and the loader post widget updates; the face's thread
applies them (a kernel's event loop, or the face's own blocking calls), and no request is sent
while the UI lock is held."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from dr_notebook.client import Client
from dr_notebook.gallery import TemplateGallery
from dr_notebook.gallery.ui import UiGuard
from dr_notebook.http import Transport
from dr_notebook.models import Template

APP = "customApplicationTemplate"
WAIT = 30


@pytest.fixture
def slow_sources(sandbox: Any) -> Iterator[Any]:
    """Creation that takes a while (several status polls), put back after the test."""
    sandbox.configure(async_sources=True, async_delay_ms=900)
    yield sandbox
    sandbox.configure(async_sources=False, async_delay_ms=300, async_outcome="COMPLETED")


def _creatable(templates: list[Template]) -> Template:
    return next(t for t in templates if t.enabled and t.template_type == APP)


def _record_threads(g: TemplateGallery) -> list[tuple[str, int]]:
    """Every change to the widgets and traits the worker and the loader report to, with the
    id of the thread that made it."""
    seen: list[tuple[str, int]] = []

    def watch(obj: Any, label: str, names: list[str]) -> None:
        obj.observe(lambda c: seen.append((f"{label}.{c['name']}", threading.get_ident())), names)

    pane = g.detail_pane
    watch(pane.progress, "progress", ["value"])
    watch(pane.result, "result", ["value"])
    watch(pane.create_button, "create_button", ["disabled"])
    watch(g.browser.load_status, "load_status", ["value"])
    watch(g, "gallery", ["last_source", "matches", "loading"])
    return seen


def test_workers_update_widgets_in_the_faces_thread_while_the_user_types(
    slow_sources: Any, client: Client, templates: list[Template]
) -> None:
    g = TemplateGallery(client, page_size=4)
    try:
        assert g.wait(WAIT)
        g.selected_id = _creatable(templates).id
        seen = _record_threads(g)
        g.refresh()  # the loader loads the pages again...
        g.detail_pane.create_button.click()  # ...while the worker creates a source
        assert g.creation is not None
        typed = 0
        deadline = time.monotonic() + WAIT
        while not g.creation.done() or g.loading:  # the user types meanwhile
            assert time.monotonic() < deadline, "the workers did not finish in time"
            g.browser.search_box.value = ("app", "flask", "")[typed % 3]
            typed += 1
            g.apply_updates()  # what the kernel's event loop does between two messages
            time.sleep(0.01)
        g.browser.search_box.value = ""
        source = g.creation.result(timeout=0)
        assert g.wait(WAIT)
    finally:
        g.close()
    assert typed > 3
    face = threading.get_ident()
    assert {label for label, _ in seen} >= {
        "progress.value",
        "result.value",
        "create_button.disabled",
        "gallery.last_source",
        "gallery.loading",
    }
    assert [label for label, ident in seen if ident != face] == []
    # Nothing was lost: the source and the whole catalogue are shown.
    assert source is not None and g.last_source is source
    assert source.id in g.detail_pane.result.value
    assert "Created application source" in g.detail_pane.progress.value
    assert not g.detail_pane.create_button.disabled
    assert g.matches == len(g.frame) == len(templates)
    assert not g.loading and g.browser.load_status.value == ""


def test_no_request_is_sent_while_the_ui_lock_is_held(
    slow_sources: Any, client: Client, templates: list[Template], monkeypatch: pytest.MonkeyPatch
) -> None:
    locks: list[Any] = []
    sent: list[tuple[str, bool]] = []
    real = Transport.request

    def request(self: Transport, method: str, path: str, **kwargs: Any) -> Any:
        sent.append((path, any(lock._is_owned() for lock in locks)))
        return real(self, method, path, **kwargs)

    monkeypatch.setattr(Transport, "request", request)
    with_images = [t for t in templates if "](" in (t.readme or "") and t.enabled]
    g = TemplateGallery(client, page_size=4)
    locks.append(g._ui_lock)
    try:
        assert g.wait(WAIT)
        for template in with_images[:2]:  # a README's images load outside the lock
            g.selected_id = template.id
        g.selected_id = _creatable(templates).id
        g.create_app()  # in this thread
        g.detail_pane.create_button.click()  # in the worker
        assert g.creation is not None and g.creation.result(timeout=WAIT) is not None
        g.view = "applications"  # "My applications" lists them
        g.refresh()
        assert g.wait(WAIT)
    finally:
        g.close()
    paths = {path for path, _ in sent}
    assert any("customTemplates" in p for p in paths) and any("Sources" in p for p in paths)
    assert any("/files/" in p for p in paths), paths  # a README image was loaded
    assert [path for path, held in sent if held] == []
    # Positive control: a request sent holding the lock is seen as such.
    with g._ui_lock:
        client.templates.get(templates[0].id)
    assert sent[-1][1] is True


def test_updates_posted_from_another_thread_wait_for_the_face() -> None:
    guard = UiGuard()
    applied: list[int] = []
    poster = threading.Thread(target=lambda: guard.post(lambda: applied.append(1)))
    poster.start()
    poster.join(WAIT)
    assert applied == []  # no event loop here: nothing runs in the poster's thread
    guard.drain()
    assert applied == [1]
    guard.post(lambda: applied.append(2))  # posted in the face's thread: applied at once
    assert applied == [1, 2]
    guard.post(lambda: 1 / 0)  # logged; the updates after it still run
    guard.post(lambda: applied.append(5))
    assert applied == [1, 2, 5]
    applied.remove(5)
    guard.closed = True
    guard.post(lambda: applied.append(3))
    guard.post(lambda: applied.append(4), always=True)
    assert applied == [1, 2, 4]  # after close only what touches no widget


def test_in_a_kernel_the_event_loop_applies_posted_updates() -> None:
    import asyncio
    import concurrent.futures

    async def main() -> tuple[list[int], int]:
        guard = UiGuard()  # built in the loop's thread, as a kernel's cell builds the gallery
        applied = asyncio.Event()
        threads: list[int] = []

        def update() -> None:
            threads.append(threading.get_ident())
            applied.set()

        threading.Thread(target=lambda: guard.post(update)).start()
        await asyncio.wait_for(applied.wait(), WAIT)  # no drain call: the loop ran it
        return threads, threading.get_ident()

    # A loop of its own in a thread of its own: an earlier test may have left a loop running
    # in this one, where asyncio.run() refuses to start.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        threads, face = pool.submit(asyncio.run, main()).result(timeout=120)
    assert threads == [face]
