"""Reading every page of a list endpoint: page one, then the rest concurrently by offset."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from typing import Any, Generic, TypeVar

import requests
from pydantic import BaseModel, ConfigDict, StrictInt, TypeAdapter, ValidationError
from pydantic.alias_generators import to_camel

from dr_notebook.errors import DataRobotError
from dr_notebook.http import Transport
from dr_notebook.models import ApiModel
from dr_notebook.resources._progress import progress_bar

__all__ = ["PAGE_SIZE", "Paginator", "unique_by_id"]

PAGE_SIZE = 100

M = TypeVar("M", bound=ApiModel)
T = TypeVar("T")


_Item = TypeVar("_Item")


class _PageBody(BaseModel, Generic[_Item]):
    """A list response as the server sends it."""

    model_config = ConfigDict(alias_generator=to_camel, extra="ignore")

    data: list[_Item]
    total_count: StrictInt | None = None
    next: str | None = None


@cache
def _page_reader(model: type[ApiModel]) -> TypeAdapter[Any]:
    """Decodes and validates a page in one pass over the JSON bytes (pydantic-core)."""
    return TypeAdapter(_PageBody[model])  # type: ignore[valid-type]


@dataclass
class Page(Generic[M]):
    """The items of one page, and what the server said about the rest."""

    items: list[M]
    total: int | None
    next: str | None


class Paginator(Generic[M]):
    """Reads a paginated list endpoint: all pages concurrently, or one page at a time.

    ``max_workers`` requests are in flight at most; items become ``model`` instances.
    """

    def __init__(
        self,
        transport: Transport,
        path: str,
        model: type[M],
        label: str,
        *,
        max_workers: int,
    ) -> None:
        self._transport = transport
        self._path = path
        self._model = model
        self._reader = _page_reader(model)
        self._label = label
        self._max_workers = max_workers

    def _fetch(self, params: Mapping[str, Any], offset: int, size: int) -> requests.Response:
        return self._transport.request(
            "GET", self._path, params={**params, "offset": offset, "limit": size}
        )

    def _read(self, response: requests.Response) -> Page[M]:
        """The page in ``response``: validated straight from the JSON bytes when it is well
        formed, else item by item with the models' tolerant rule (see ``models``)."""
        try:
            body = self._reader.validate_json(response.content)
            return Page(body.data, body.total_count, body.next)
        except ValidationError:
            pass  # an odd item or not JSON at all: the slow path says which
        return self._read_tolerantly(self._transport.json(response))

    def _read_tolerantly(self, body: Any) -> Page[M]:
        if not isinstance(body, Mapping) or not isinstance(body.get("data"), list):
            raise DataRobotError(f"Unexpected list response from GET {self._path}: no 'data' list.")
        total = body.get("totalCount")
        if not isinstance(total, int) or isinstance(total, bool):
            total = None
        items = [self._model.from_api(item) for item in body["data"] if isinstance(item, Mapping)]
        return Page(items, total, str(body["next"]) if body.get("next") else None)

    def _page(self, params: Mapping[str, Any], offset: int, size: int) -> Page[M]:
        return self._read(self._fetch(params, offset, size))

    def all(self, params: Mapping[str, Any], limit: int | None, *, progress: bool) -> list[M]:
        """Every item (at most ``limit``) in server order, de-duplicated by id.

        ``progress``: show a bar while the remaining pages load (main thread only).
        """
        if limit == 0:
            return []
        want = math.inf if limit is None else limit
        first_size = int(min(PAGE_SIZE, want))
        first = self._page(params, 0, first_size)
        items = first.items
        if len(items) < want and items:
            if first.total is not None:
                target = int(min(first.total, want))
                items.extend(self._rest(params, len(items), first_size, target, progress))
            else:
                items.extend(self._follow_next(first, want - len(items)))
        return unique_by_id(items)[:limit]

    def _rest(
        self, params: Mapping[str, Any], start: int, first_size: int, target: int, progress: bool
    ) -> list[M]:
        """The items from offset ``start`` to ``target``, fetched concurrently."""
        # A server that caps pages below what was asked for sets the stride.
        stride = start if start < first_size else first_size
        offsets = list(range(start, target, stride))
        items: list[M] = []
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
                items.extend(self._read(future.result()).items)
                if bar is not None:
                    bar.update(1)
        finally:
            executor.shutdown(wait=True, cancel_futures=True)
            if bar is not None:
                bar.close()
        return items

    def _follow_next(self, page: Page[M], want: float) -> Iterator[M]:
        got = 0
        seen: set[str] = set()
        while page.next and got < want:
            if page.next in seen:  # a server pointing back at itself would loop forever
                break
            seen.add(page.next)
            page = self._read(self._transport.request("GET", page.next))
            got += len(page.items)
            yield from page.items

    def iter(self, params: Mapping[str, Any], limit: int | None) -> Iterator[M]:
        """The items one page at a time, fetching a page when the previous one is used up."""
        want = math.inf if limit is None else limit
        seen: set[str] = set()
        yielded = 0
        offset = 0
        while yielded < want:
            size = int(min(PAGE_SIZE, want - yielded))
            page = self._page(params, offset, size)
            for item in unique_by_id(page.items, seen):
                yield item
                yielded += 1
                if yielded >= want:
                    return
            offset += len(page.items)
            more = offset < page.total if page.total is not None else bool(page.next)
            if not page.items or not more:
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
