"""Reading every page of a list endpoint: page one, then the rest concurrently by offset."""

from __future__ import annotations

import gc
import math
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from dr_notebook.errors import DataRobotError

if TYPE_CHECKING:
    import requests

    from dr_notebook.client import Client

PAGE_SIZE = 100
PROGRESS_DELAY = 0.5


_gc_lock = threading.Lock()
_gc_users = 0
_gc_was_enabled = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a large listing is decoded and parsed.

    Listing 10,000 templates allocates some 400,000 acyclic containers (JSON dicts, models);
    the collector would rescan them again and again for nothing (about 15% of the time).
    Reference counting still frees everything; concurrent listings share one pause, and the
    collector is re-enabled only if it was enabled before. Cyclic garbage other threads make
    meanwhile is collected later, by the next full collection.
    """
    global _gc_users, _gc_was_enabled
    with _gc_lock:
        if _gc_users == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_users += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_users -= 1
            if _gc_users == 0 and _gc_was_enabled:
                if gc.get_freeze_count() == 0:
                    # What was built during the pause sits in the youngest generation, where the
                    # collector's next pass would scan it all (~60 ms for 10,000 templates) to
                    # find no cycles. Freezing and unfreezing moves it to the oldest generation
                    # unscanned, as if it had survived the young collections. (Skipped when the
                    # program froze objects itself: unfreezing would thaw those too.)
                    gc.freeze()
                    gc.unfreeze()
                gc.enable()


def progress_bar(enabled: bool, **kwargs: Any) -> Any:
    """A tqdm.auto bar that only shows once the work lasts longer than a moment."""
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(delay=PROGRESS_DELAY, leave=False, **kwargs)


class Paginator:
    """Reads a paginated list endpoint: all pages concurrently, or one page at a time."""

    def __init__(
        self, client: Client, path: str, parse: Callable[[Mapping[str, Any]], Any], label: str
    ) -> None:
        self._client = client
        self._path = path
        self._parse = parse
        self._label = label

    def _fetch(self, params: Mapping[str, Any], offset: int, size: int) -> requests.Response:
        return self._client._transport.request(
            "GET", self._path, params={**params, "offset": offset, "limit": size}
        )

    def _body(self, params: Mapping[str, Any], offset: int, size: int) -> dict[str, Any]:
        return self._decode(self._fetch(params, offset, size))

    def _decode(self, response: requests.Response) -> dict[str, Any]:
        body = self._client._transport.json(response)
        if not isinstance(body, Mapping) or not isinstance(body.get("data"), list):
            raise DataRobotError(f"Unexpected list response from GET {self._path}: no 'data' list.")
        return dict(body)

    def _items(self, body: Mapping[str, Any]) -> list[Any]:
        return [self._parse(item) for item in body["data"] if isinstance(item, Mapping)]

    def _page(
        self, params: Mapping[str, Any], offset: int, size: int
    ) -> tuple[list[Any], dict[str, Any]]:
        body = self._body(params, offset, size)
        return self._items(body), body

    def all(self, params: Mapping[str, Any], limit: int | None) -> list[Any]:
        """Every item (at most ``limit``) in server order, de-duplicated by id."""
        if limit == 0:
            return []
        want = math.inf if limit is None else limit
        first_size = int(min(PAGE_SIZE, want))
        items, body = self._page(params, 0, first_size)
        total = body.get("totalCount")
        if len(items) >= want or not items:
            return unique_by_id(items)[: None if limit is None else limit]
        if not isinstance(total, int) or isinstance(total, bool):
            items.extend(self._follow_next(body, want - len(items)))
            return unique_by_id(items)[: None if limit is None else limit]
        target = int(min(total, want))
        # A server that caps pages below what was asked for sets the stride.
        stride = len(items) if len(items) < first_size else first_size
        offsets = list(range(len(items), target, stride))
        if not offsets:
            return unique_by_id(items)
        pages: list[list[Any]] = []
        bar = progress_bar(
            self._client.progress and len(offsets) > 1,
            total=len(offsets) + 1,
            initial=1,
            unit="page",
            desc=self._label,
        )
        workers = max(1, min(self._client.max_workers, len(offsets)))
        executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dr-notebook-page")
        with gc_paused():
            try:
                # Workers only fetch: pages are decoded and models built here, in order, while
                # the workers' next requests are already on the wire (a worker that decoded
                # would send its next request that much later).
                futures = [
                    executor.submit(self._fetch, params, offset, min(stride, target - offset))
                    for offset in offsets
                ]
                for future in futures:
                    pages.append(self._items(self._decode(future.result())))
                    if bar is not None:
                        bar.update(1)
            finally:
                executor.shutdown(wait=True, cancel_futures=True)
                if bar is not None:
                    bar.close()
            for page in pages:
                items.extend(page)
            return unique_by_id(items)[: None if limit is None else limit]

    def _follow_next(self, body: Mapping[str, Any], want: float) -> Iterator[Any]:
        got = 0
        seen: set[str] = set()
        while body.get("next") and got < want:
            url = str(body["next"])
            if url in seen:  # a server pointing back at itself would loop forever
                break
            seen.add(url)
            body = self._client._transport.get_json(url)
            for item in body.get("data") or []:
                if isinstance(item, Mapping):
                    got += 1
                    yield self._parse(item)

    def iter(self, params: Mapping[str, Any], limit: int | None) -> Iterator[Any]:
        """The items one page at a time, fetching a page when the previous one is used up."""
        want = math.inf if limit is None else limit
        seen: set[str] = set()
        yielded = 0
        offset = 0
        while yielded < want:
            size = int(min(PAGE_SIZE, want - yielded))
            items, body = self._page(params, offset, size)
            for item in items:
                key = getattr(item, "id", None)
                if key and key in seen:
                    continue
                if key:
                    seen.add(key)
                yield item
                yielded += 1
                if yielded >= want:
                    return
            offset += len(items)
            total = body.get("totalCount")
            more = (offset < total) if isinstance(total, int) else bool(body.get("next"))
            if not items or not more:
                return


def unique_by_id(items: list[Any]) -> list[Any]:
    """Items in order, each id once (pages may overlap when the catalogue changes meanwhile)."""
    seen: set[str] = set()
    out = []
    for item in items:
        key = getattr(item, "id", None)
        if key:
            if key in seen:
                continue
            seen.add(key)
        out.append(item)
    return out
