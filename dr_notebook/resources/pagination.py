"""Reading every page of a list endpoint: page one, then the rest concurrently by offset."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, TypeVar

import requests

from dr_notebook.errors import DataRobotError
from dr_notebook.http import Transport
from dr_notebook.resources._progress import progress_bar

__all__ = ["PAGE_SIZE", "Paginator", "unique_by_id"]

PAGE_SIZE = 100

T = TypeVar("T")


class Paginator(Generic[T]):
    """Reads a paginated list endpoint: all pages concurrently, or one page at a time.

    ``max_workers`` requests are in flight at most; ``parse`` turns one JSON item into a model.
    """

    def __init__(
        self,
        transport: Transport,
        path: str,
        parse: Callable[[Mapping[str, Any]], T],
        label: str,
        *,
        max_workers: int,
    ) -> None:
        self._transport = transport
        self._path = path
        self._parse = parse
        self._label = label
        self._max_workers = max_workers

    def _fetch(self, params: Mapping[str, Any], offset: int, size: int) -> requests.Response:
        return self._transport.request(
            "GET", self._path, params={**params, "offset": offset, "limit": size}
        )

    def _decode(self, response: requests.Response) -> dict[str, Any]:
        body = self._transport.json(response)
        if not isinstance(body, Mapping) or not isinstance(body.get("data"), list):
            raise DataRobotError(f"Unexpected list response from GET {self._path}: no 'data' list.")
        return dict(body)

    def _items(self, body: Mapping[str, Any]) -> list[T]:
        return [self._parse(item) for item in body["data"] if isinstance(item, Mapping)]

    def _page(self, params: Mapping[str, Any], offset: int, size: int) -> tuple[list[T], dict]:
        body = self._decode(self._fetch(params, offset, size))
        return self._items(body), body

    def all(self, params: Mapping[str, Any], limit: int | None, *, progress: bool) -> list[T]:
        """Every item (at most ``limit``) in server order, de-duplicated by id.

        ``progress``: show a bar while the remaining pages load (main thread only).
        """
        if limit == 0:
            return []
        want = math.inf if limit is None else limit
        first_size = int(min(PAGE_SIZE, want))
        items, body = self._page(params, 0, first_size)
        total = body.get("totalCount")
        if len(items) < want and items:
            if isinstance(total, int) and not isinstance(total, bool):
                items.extend(
                    self._rest(params, len(items), first_size, int(min(total, want)), progress)
                )
            else:
                items.extend(self._follow_next(body, want - len(items)))
        return unique_by_id(items)[:limit]

    def _rest(
        self, params: Mapping[str, Any], start: int, first_size: int, target: int, progress: bool
    ) -> list[T]:
        """The items from offset ``start`` to ``target``, fetched concurrently."""
        # A server that caps pages below what was asked for sets the stride.
        stride = start if start < first_size else first_size
        offsets = list(range(start, target, stride))
        items: list[T] = []
        if not offsets:
            return items
        bar = progress_bar(
            progress and len(offsets) > 1,
            total=len(offsets) + 1,
            initial=1,
            unit="page",
            desc=self._label,
        )
        workers = max(1, min(self._max_workers, len(offsets)))
        executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dr-notebook-page")
        try:
            # Workers only fetch: pages are decoded and models built here, in order, while the
            # workers' next requests are already on the wire.
            futures = [
                executor.submit(self._fetch, params, offset, min(stride, target - offset))
                for offset in offsets
            ]
            for future in futures:
                items.extend(self._items(self._decode(future.result())))
                if bar is not None:
                    bar.update(1)
        finally:
            executor.shutdown(wait=True, cancel_futures=True)
            if bar is not None:
                bar.close()
        return items

    def _follow_next(self, body: Mapping[str, Any], want: float) -> Iterator[T]:
        got = 0
        seen: set[str] = set()
        while body.get("next") and got < want:
            url = str(body["next"])
            if url in seen:  # a server pointing back at itself would loop forever
                break
            seen.add(url)
            body = self._transport.get_json(url)
            for item in body.get("data") or []:
                if isinstance(item, Mapping):
                    got += 1
                    yield self._parse(item)

    def iter(self, params: Mapping[str, Any], limit: int | None) -> Iterator[T]:
        """The items one page at a time, fetching a page when the previous one is used up."""
        want = math.inf if limit is None else limit
        seen: set[str] = set()
        yielded = 0
        offset = 0
        while yielded < want:
            size = int(min(PAGE_SIZE, want - yielded))
            items, body = self._page(params, offset, size)
            for item in unique_by_id(items, seen):
                yield item
                yielded += 1
                if yielded >= want:
                    return
            offset += len(items)
            total = body.get("totalCount")
            more = (offset < total) if isinstance(total, int) else bool(body.get("next"))
            if not items or not more:
                return


def unique_by_id(items: list[T], seen: set[str] | None = None) -> list[T]:
    """Items in order, each id once (pages may overlap when the catalogue changes meanwhile).

    ``seen`` carries the ids already met across calls (it is updated).
    """
    seen = set() if seen is None else seen
    out = []
    for item in items:
        key = getattr(item, "id", None)
        if key:
            if key in seen:
                continue
            seen.add(key)
        out.append(item)
    return out
