"""Reading every page of a list endpoint: page one and the next ones speculatively, then the rest
concurrently by offset."""

from __future__ import annotations

import math
from collections.abc import Generator, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
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

__all__ = ["PAGE_SIZE", "Page", "Paginator", "unique_by_id"]

PAGE_SIZE = 100
_REMEMBERED_QUERIES = 64

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
        # The total the last listing of each query had: the guide to how far to speculate.
        self._last_totals: dict[tuple[tuple[str, str], ...], int] = {}

    @staticmethod
    def _key(params: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
        return tuple(sorted((str(k), str(v)) for k, v in params.items()))

    def _speculation(self, params: Mapping[str, Any], first_size: int, want: float) -> range:
        """The offsets to request together with page one."""
        # Only as many pages as the last listing of the same query had: a speculative request
        # past the end costs the server (and a rate limit) for nothing, so none on a first one.
        last = self._last_totals.get(self._key(params), 0)
        stop = min(want, last, first_size * self._max_workers)
        return range(first_size, int(stop), first_size)

    def _remember(self, params: Mapping[str, Any], total: int | None) -> None:
        if total is None:
            return
        if len(self._last_totals) >= _REMEMBERED_QUERIES:
            self._last_totals.clear()
        self._last_totals[self._key(params)] = total

    def _fetch(self, params: Mapping[str, Any], offset: int, size: int) -> requests.Response:
        return self._transport.request(
            "GET", self._path, params={**params, "offset": offset, "limit": size}
        )

    def _read(self, response: requests.Response) -> Page[M]:
        """The page in ``response``: validated straight from the JSON bytes when it is well
        formed and free of the token, else item by item with the models' tolerant rule (see
        ``models``) from the redacted JSON."""
        if not self._transport.carries_token(response):
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
        items: list[M] = []
        for page in self.stream(params, limit, progress=progress):
            items.extend(page)
        return items

    def stream(
        self, params: Mapping[str, Any], limit: int | None, *, progress: bool
    ) -> Iterator[list[M]]:
        """The items of :meth:`pages`, a page at a time, with a progress bar when ``progress``
        and the listing takes a while (main thread only)."""
        pages = self.pages(params, limit)
        bar = None
        try:
            for page in pages:
                if bar is None and page.total is not None and page.total > 2 * len(page.items):
                    bar = progress_bar(
                        progress, total=page.total, unit="template", desc=self._label
                    )
                yield page.items
                if bar is not None:
                    bar.update(len(page.items))
        finally:
            pages.close()
            if bar is not None:
                bar.close()

    def pages(self, params: Mapping[str, Any], limit: int | None) -> Generator[Page[M], None, None]:
        """The pages of every item (at most ``limit``) in server order, each id once.

        Page one goes out together with speculative requests for the pages after it, as many as
        the last listing of the same query had (at most ``max_workers - 1``; their results are
        dropped when the catalogue ends before them); once page one tells the total, the other
        pages are requested at once, ``max_workers`` at a time. Each
        page yielded carries the items new to the caller and, as ``total``, how many items the
        whole listing will have (None when the server does not say). Close the iterator to
        stop early: requests not yet sent are cancelled.
        """
        if limit == 0:
            return
        want = math.inf if limit is None else limit
        first_size = int(min(PAGE_SIZE, want))
        seen: set[str] = set()
        got = 0

        def fresh(page: Page[M]) -> list[M]:
            nonlocal got
            items = unique_by_id(page.items, seen)
            if len(items) > want - got:
                items = items[: int(want - got)]
            got += len(items)
            return items

        executor = ThreadPoolExecutor(
            max_workers=self._max_workers, thread_name_prefix="dr-notebook-page"
        )
        try:

            def fetch(offset: int, size: int) -> Future[requests.Response]:
                return executor.submit(self._fetch, params, offset, size)

            first_request = fetch(0, first_size)
            speculative = {
                offset: fetch(offset, int(min(first_size, want - offset)))
                for offset in self._speculation(params, first_size, want)
            }
            first = self._read(first_request.result())
            self._remember(params, first.total)
            target = first.total if first.total is None else int(min(first.total, want))
            yield Page(fresh(first), target, first.next)
            if not first.items or got >= want:
                return
            if target is None:
                for future in speculative.values():
                    future.cancel()
                for page in self._follow_next(first, want - got):
                    yield Page(fresh(page), None, page.next)
                return
            # A server that caps pages below what was asked for sets the stride (and the
            # speculative pages, asked at the wrong offsets, are dropped).
            stride = len(first.items) if len(first.items) < first_size else first_size
            if stride != first_size:
                speculative.clear()
            futures = [
                speculative.pop(offset, None) or fetch(offset, min(stride, target - offset))
                for offset in range(len(first.items), target, stride)
            ]
            for future in speculative.values():
                future.cancel()
            for future in futures:
                page = self._read(future.result())
                yield Page(fresh(page), target, page.next)
                if got >= want:
                    return
        finally:
            executor.shutdown(wait=True, cancel_futures=True)

    def _follow_next(self, page: Page[M], want: float) -> Iterator[Page[M]]:
        """The pages after ``page``, following ``next`` until ``want`` items came back."""
        got = 0
        seen: set[str] = set()
        while page.next and got < want:
            if page.next in seen:  # a server pointing back at itself would loop forever
                break
            seen.add(page.next)
            page = self._read(self._transport.request("GET", page.next))
            got += len(page.items)
            yield page

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
