"""The gallery's data model: a catalogue DataFrame filtered, sorted and paged locally.

Filters are numpy masks over the whole catalogue, sorts precomputed permutations, and the search
a pandas substring match: a keystroke stays well under the 50 ms target at 10,000 templates.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from dr_notebook.frames import LIST_COLUMNS, TEMPLATE_COLUMNS, TEXT_DTYPE, TemplateRows
from dr_notebook.models import Template

__all__ = [
    "FILTER_FIELDS",
    "SORT_ORDERS",
    "Catalogue",
    "CatalogueBuilder",
    "Query",
    "page_count",
    "page_rows",
]

#: The ``orderBy`` values the gallery offers, with their labels (the API's own names).
SORT_ORDERS: dict[str, str] = {
    "name": "Name (A to Z)",
    "-name": "Name (Z to A)",
    "-createdAt": "Newest first",
    "createdAt": "Oldest first",
    "templateType": "Type (A to Z)",
    "-templateType": "Type (Z to A)",
    "templateSubType": "Sub-type (A to Z)",
    "-templateSubType": "Sub-type (Z to A)",
}

#: Filterable fields: the gallery's filter name -> the frame column holding its values.
FILTER_FIELDS: dict[str, str] = {
    "template_type": "template_type",
    "template_sub_type": "template_sub_type",
    "tag": "tags",
    "publisher": "publisher",
    "category": "category",
}

_SORT_COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("name",),
    "createdAt": ("created_at", "createdAt"),
    "templateType": ("template_type",),
    "templateSubType": ("template_sub_type",),
}


@dataclass(frozen=True)
class Query:
    """What the user asked for: a search text, one value per filter (None = all), a sort order."""

    search: str = ""
    template_type: str | None = None
    template_sub_type: str | None = None
    tag: str | None = None
    publisher: str | None = None
    category: str | None = None
    order_by: str = "name"


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _text(value: Any) -> str:
    """A cell as display text: missing values (None, NaN, NA) become ""."""
    return "" if _is_missing(value) else str(value)


def _as_list(value: Any) -> list[str]:
    if isinstance(value, (list, tuple, np.ndarray)):
        return [str(v) for v in value if not _is_missing(v)]
    return []


def page_count(matches: int, page_size: int) -> int:
    """How many pages ``matches`` rows fill (at least 1, so "page 1 of 1" when empty)."""
    return max(1, math.ceil(matches / max(1, page_size)))


def page_rows(rows: np.ndarray, page: int, page_size: int) -> np.ndarray:
    """The rows on 1-based ``page`` (clamped into range)."""
    page = min(max(1, page), page_count(len(rows), page_size))
    start = (page - 1) * page_size
    return rows[start : start + page_size]


#: A column's values, read by row position.
_Cells = Sequence[Any] | np.ndarray


class _FrameSource:
    """The values of a catalogue given as a frame."""

    def __init__(self, frame: pd.DataFrame | None) -> None:
        frame = pd.DataFrame(columns=list(TEMPLATE_COLUMNS)) if frame is None else frame
        frame = frame.reset_index(drop=True)
        for column in TEMPLATE_COLUMNS:
            if column not in frame.columns:
                frame[column] = [[] for _ in range(len(frame))] if column in LIST_COLUMNS else None
        self._frame = frame
        self._cells: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self._frame)

    def frame(self) -> pd.DataFrame:
        return self._frame

    def columns(self) -> list[str]:
        return list(self._frame.columns)

    def series(self, column: str, start: int = 0, stop: int | None = None) -> pd.Series:
        return self._frame[column].iloc[start:stop].astype(object)

    def cells(self, column: str) -> _Cells:
        # Plain object arrays make reading the dozen rows of a page cheap (no iloc per card).
        cells = self._cells.get(column)
        if cells is None:
            cells = self._cells[column] = self._frame[column].to_numpy(dtype=object)
        return cells


class _RowsSource:
    """The values of a catalogue as the first ``rows`` of a growing ``TemplateRows``.

    The rows' lists only grow, so the first ``rows`` values stay as they are: the frame is built
    only when asked for, and the cards read the lists themselves.
    """

    def __init__(self, rows: TemplateRows, count: int) -> None:
        self._rows = rows
        self._count = count
        self._frame: pd.DataFrame | None = None
        self._columns: dict[str, Any] | None = None

    def __len__(self) -> int:
        return self._count

    def frame(self) -> pd.DataFrame:
        if self._frame is None:
            self._frame = self._rows.frame(self._count)
        return self._frame

    def _all_columns(self) -> dict[str, Any]:
        if self._columns is None:
            self._columns = self._rows.columns(self._count)
        return self._columns

    def columns(self) -> list[str]:
        return list(self._all_columns())

    def cells(self, column: str) -> _Cells:
        if column in _TEMPLATE_COLUMN_SET:
            return self._rows.column(column)
        return self._all_columns()[column]

    def series(self, column: str, start: int = 0, stop: int | None = None) -> pd.Series:
        stop = self._count if stop is None else stop
        return pd.Series(self.cells(column)[start:stop], dtype=object)


_TEMPLATE_COLUMN_SET = frozenset(TEMPLATE_COLUMNS)
_Source = _FrameSource | _RowsSource


def _texts(values: pd.Series) -> np.ndarray:
    """Display text of each value, vectorised: missing values (None, NaN, NA) become ""."""
    return values.fillna("").astype(str).to_numpy(dtype=object)


def _merged(parts: list[np.ndarray]) -> np.ndarray:
    """The parts as one array (kept as the only part, so each row is copied once per merge)."""
    if len(parts) > 1:
        parts[:] = [np.concatenate(parts)]
    return parts[0] if parts else np.empty(0, dtype=object)


class _Index:
    """What search, filters and sort need of each row, computed once per row as rows arrive.

    ``extend`` takes the rows added since the last call (column operations over the batch);
    ``view`` gives a copy of the index so far that later batches leave unchanged.
    """

    def __init__(self) -> None:
        self.rows = 0
        self._haystack: list[np.ndarray] = []  # "name\ndescription", lower case
        self._names: list[np.ndarray] = []  # lower case, for sorting
        self._position: dict[str, int] = {}
        self._tags: dict[str, list[np.ndarray]] = {}  # tag -> row positions, by batch
        self._options: dict[str, dict[str, None]] = {f: {} for f in FILTER_FIELDS if f != "tag"}

    def extend(self, source: _Source) -> None:
        start, stop = self.rows, len(source)
        if stop <= start:
            return
        ids = _texts(source.series("id", start, stop))
        names = pd.Series(_texts(source.series("name", start, stop)), dtype=object)
        descriptions = _texts(source.series("description", start, stop))
        self._names.append(names.str.lower().to_numpy(dtype=object))
        self._haystack.append((names + "\n" + descriptions).str.lower().to_numpy(dtype=object))
        self._position.update(zip(ids.tolist(), range(start, stop), strict=True))
        self._index_tags(source.series("tags", start, stop), start)
        for field, seen in self._options.items():
            for value in pd.unique(_texts(source.series(FILTER_FIELDS[field], start, stop))):
                if value:
                    seen[value] = None
        self.rows = stop

    def _index_tags(self, tags: pd.Series, start: int) -> None:
        exploded = tags.explode().dropna()
        if exploded.empty:
            return
        positions = exploded.index.to_numpy() + start
        codes, uniques = pd.factorize(exploded.astype(str).to_numpy(dtype=object))
        order = np.argsort(codes, kind="stable")  # stable: each tag's rows stay ascending
        bounds = np.cumsum(np.bincount(codes))[:-1]
        for tag, rows in zip(uniques, np.split(positions[order], bounds), strict=True):
            self._tags.setdefault(str(tag), []).append(rows)

    def view(self) -> _IndexView:
        return _IndexView(
            # pandas' own string dtype: its substring search is a quarter faster than object's.
            haystack=pd.Series(_merged(self._haystack), dtype=TEXT_DTYPE),
            names=_merged(self._names),
            position=dict(self._position),
            tags={tag: list(parts) for tag, parts in self._tags.items()},
            options={field: list(seen) for field, seen in self._options.items()},
        )


@dataclass(frozen=True)
class _IndexView:
    haystack: pd.Series
    names: np.ndarray
    position: dict[str, int]
    tags: dict[str, list[np.ndarray]]
    options: dict[str, list[str]]


class CatalogueBuilder:
    """A catalogue grown page by page: each template is taken and indexed once, and
    :meth:`catalogue` gives the templates so far without redoing those already in."""

    def __init__(self, batch: int = 1000) -> None:
        #: Rows indexed together: column operations over a batch, between pages (while the
        #: next ones are on their way).
        self._batch = batch
        self._rows = TemplateRows()
        self._index = _Index()

    def __len__(self) -> int:
        return len(self._rows)

    def add(self, templates: Iterable[Template]) -> None:
        """Append ``templates`` (the caller drops them afterwards: their lists are kept)."""
        self._rows.add(templates, adopt=True)
        if len(self._rows) - self._index.rows >= self._batch:
            self._index.extend(_RowsSource(self._rows, len(self._rows)))

    def catalogue(self) -> Catalogue:
        """The templates added so far (later additions leave it unchanged)."""
        source = _RowsSource(self._rows, len(self._rows))
        self._index.extend(source)
        return Catalogue._of(source, self._index.view())


class Catalogue:
    """The loaded templates, with precomputed search text, tag index and sort permutations.

    ``frame`` has the columns of ``client.templates.frame()``; missing columns are tolerated
    (treated as empty). Rows are addressed by position (0..n-1) in that frame.
    """

    def __init__(self, frame: pd.DataFrame | None = None) -> None:
        source = _FrameSource(frame)
        index = _Index()
        index.extend(source)
        self._setup(source, index.view())

    @classmethod
    def _of(cls, source: _Source, index: _IndexView) -> Catalogue:
        catalogue = cls.__new__(cls)
        catalogue._setup(source, index)
        return catalogue

    def _setup(self, source: _Source, index: _IndexView) -> None:
        self._source = source
        self._index = index
        self._all = np.ones(len(source), dtype=bool)
        # Searched with plain pandas, no index: at 10,000 templates a keystroke takes about 1 ms
        # against a 50 ms target (benchmarks/gallery.py), so an index would not pay for its code.
        self._haystack = index.haystack
        self._masks: dict[tuple[str, str], np.ndarray] = {}
        self._orders: dict[str, np.ndarray] = {}
        self._ranks: dict[str, np.ndarray] = {}

    @property
    def frame(self) -> pd.DataFrame:
        """The catalogue as a frame with the columns of ``client.templates.frame()``."""
        return self._source.frame()

    def __len__(self) -> int:
        return len(self._source)

    def options(self, field: str, *, template_type: str | None = None) -> list[str]:
        """The distinct values of a filter field (see ``FILTER_FIELDS``), sorted case-blind;
        the sub-types only of ``template_type`` when one is chosen."""
        if field == "template_sub_type" and template_type:
            column = self._source.series(FILTER_FIELDS[field])
            chosen = column.to_numpy(dtype=object)[self._equals("template_type", template_type)]
            values = [str(v) for v in set(chosen) if isinstance(v, str) and v]
        else:
            values = list(self._index.tags) if field == "tag" else self._index.options[field]
        return sorted(set(values), key=lambda v: (v.lower(), v))

    def _equals(self, field: str, value: str) -> np.ndarray:
        key = (field, value)
        mask = self._masks.get(key)
        if mask is None:
            if field == "tag":
                mask = np.zeros(len(self), dtype=bool)
                parts = self._index.tags.get(value)
                if parts:
                    mask[_merged(parts)] = True
            else:
                column = self._source.series(FILTER_FIELDS[field])
                mask = (column == value).to_numpy(dtype=bool, na_value=False)
            self._masks[key] = mask
        return mask

    def _search_mask(self, needle: str) -> np.ndarray:
        """Rows whose name or description contains ``needle`` (lower case)."""
        found = self._haystack.str.contains(needle, regex=False)
        return found.to_numpy(dtype=bool, na_value=False)

    def mask(self, query: Query) -> np.ndarray:
        """A boolean array: which rows match the search text and every filter."""
        mask = self._all
        needle = query.search.strip().lower()
        if needle:
            mask = mask & self._search_mask(needle)
        for field in FILTER_FIELDS:
            value = getattr(query, field)
            if value is not None and value != "":
                mask = mask & self._equals(field, value)
        return mask

    def order(self, order_by: str) -> np.ndarray:
        """All row positions in ``order_by`` order (an ``orderBy`` value; ties by name)."""
        if order_by not in SORT_ORDERS:
            choices = ", ".join(SORT_ORDERS)
            raise ValueError(f"Unknown sort order {order_by!r}: use one of {choices}")
        cached = self._orders.get(order_by)
        if cached is None:
            cached = self._orders[order_by] = self._compute_order(order_by)
        return cached

    def _sort_key(self, key: str) -> pd.Series | None:
        for column in _SORT_COLUMNS[key]:
            if column in _TEMPLATE_COLUMN_SET or column in self._source.columns():
                return pd.Series(self._source.cells(column)[: len(self)], dtype=object)
        return None

    def _compute_order(self, order_by: str) -> np.ndarray:
        descending = order_by.startswith("-")
        key = order_by.lstrip("-")
        name_codes, _ = pd.factorize(self._index.names, sort=True)
        if key == "name":
            order = np.argsort(name_codes, kind="stable")
            return order[::-1].copy() if descending else order
        column = self._sort_key(key)
        if column is None:
            return np.argsort(name_codes, kind="stable")
        missing = column.isna().to_numpy(dtype=bool)
        codes, _ = pd.factorize(column.astype(object), sort=True, use_na_sentinel=True)
        codes = codes.astype(np.int64)
        if descending:
            codes = -codes
        # np.lexsort: the last key is the primary one. Missing values always go last.
        return np.lexsort((name_codes, codes, missing))

    def select(self, query: Query) -> np.ndarray:
        """Row positions matching ``query``, in its sort order."""
        order = self.order(query.order_by)
        mask = self.mask(query)
        rows = np.flatnonzero(mask)
        if len(rows) * 16 > len(order):
            return order[mask[order]]
        # Few matches: sorting them by rank is cheaper than walking the whole order.
        return rows[np.argsort(self._rank(query.order_by)[rows], kind="stable")]

    def _rank(self, order_by: str) -> np.ndarray:
        """Each row's place in ``order_by`` order (the inverse of ``order``)."""
        rank = self._ranks.get(order_by)
        if rank is None:
            order = self.order(order_by)
            rank = self._ranks[order_by] = np.empty(len(order), dtype=np.int64)
            rank[order] = np.arange(len(order))
        return rank

    def position(self, template_id: str | None) -> int | None:
        """The row position of a template id, or None when it is not in the catalogue."""
        if template_id is None:
            return None
        return self._index.position.get(template_id)

    def record(self, position: int, columns: Iterable[str] | None = None) -> dict[str, Any]:
        """One row (or some of its ``columns``) as plain Python values.

        Text cells become str ("" when missing), list cells lists, ``enabled`` a bool.
        """
        out: dict[str, Any] = {}
        for column in self._source.columns() if columns is None else columns:
            value = self._source.cells(column)[position]
            if column in LIST_COLUMNS:
                out[column] = _as_list(value)
            elif column == "enabled":
                out[column] = True if _is_missing(value) else bool(value)
            elif column == "file_count":
                out[column] = 0 if _is_missing(value) else int(value)
            elif isinstance(value, (list, dict)):
                out[column] = value
            else:
                out[column] = _text(value)
        return out
