"""The gallery's data model: a catalogue DataFrame filtered, sorted and paged locally.

Filters are numpy masks over the whole catalogue, sorts precomputed permutations, and the search
a pandas substring match: a keystroke stays well under the 50 ms target at 10,000 templates.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from dr_notebook.frames import LIST_COLUMNS, TEMPLATE_COLUMNS

__all__ = [
    "FILTER_FIELDS",
    "SORT_ORDERS",
    "Catalogue",
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


class Catalogue:
    """The loaded templates, with precomputed search text, tag index and sort permutations.

    ``frame`` has the columns of ``client.templates.frame()``; missing columns are tolerated
    (treated as empty). Rows are addressed by position (0..n-1) in that frame.
    """

    def __init__(self, frame: pd.DataFrame | None = None) -> None:
        frame = pd.DataFrame(columns=list(TEMPLATE_COLUMNS)) if frame is None else frame
        frame = frame.reset_index(drop=True)
        for column in TEMPLATE_COLUMNS:
            if column not in frame.columns:
                frame[column] = [[] for _ in range(len(frame))] if column in LIST_COLUMNS else None
        self.frame: pd.DataFrame = frame
        n = len(frame)
        self._all = np.ones(n, dtype=bool)
        # Searched with plain pandas, no index: at 10,000 templates a keystroke takes about 1 ms
        # against a 50 ms target (benchmarks/gallery.py), so an index would not pay for its code.
        name = frame["name"].astype(object).map(_text)
        description = frame["description"].astype(object).map(_text)
        self._haystack = (name + "\n" + description).str.lower()
        self._ids = frame["id"].map(_text).to_numpy(dtype=object)
        self._position = {tid: i for i, tid in enumerate(self._ids)}
        self._tag_rows = self._index_tags(frame["tags"])
        self._masks: dict[tuple[str, str], np.ndarray] = {}
        self._orders: dict[str, np.ndarray] = {}
        self._ranks: dict[str, np.ndarray] = {}
        # Plain object arrays make reading the dozen rows of a page cheap (no iloc per card).
        self._cells = {c: frame[c].to_numpy(dtype=object) for c in frame.columns}

    @staticmethod
    def _index_tags(tags: pd.Series) -> dict[str, np.ndarray]:
        exploded = tags.map(_as_list).explode().dropna()
        if exploded.empty:
            return {}
        positions = exploded.index.to_numpy()
        values = exploded.to_numpy(dtype=object)
        order = np.argsort(values, kind="stable")
        uniques, starts = np.unique(values[order], return_index=True)
        bounds = [*starts[1:], len(order)]
        return {
            str(tag): np.unique(positions[order[a:b]])
            for tag, a, b in zip(uniques, starts, bounds, strict=True)
        }

    def __len__(self) -> int:
        return len(self.frame)

    def options(self, field: str) -> list[str]:
        """The distinct values of a filter field (see ``FILTER_FIELDS``), sorted case-blind."""
        if field == "tag":
            values = list(self._tag_rows)
        else:
            column = self.frame[FILTER_FIELDS[field]]
            values = [_text(v) for v in pd.unique(column.to_numpy(dtype=object))]
            values = [v for v in values if v]
        return sorted(set(values), key=lambda v: (v.lower(), v))

    def _equals(self, field: str, value: str) -> np.ndarray:
        key = (field, value)
        mask = self._masks.get(key)
        if mask is None:
            if field == "tag":
                mask = np.zeros(len(self), dtype=bool)
                rows = self._tag_rows.get(value)
                if rows is not None:
                    mask[rows] = True
            else:
                column = self.frame[FILTER_FIELDS[field]].astype(object)
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
            if column in self.frame.columns:
                return self.frame[column]
        return None

    def _compute_order(self, order_by: str) -> np.ndarray:
        descending = order_by.startswith("-")
        key = order_by.lstrip("-")
        names = self.frame["name"].map(_text).str.lower().to_numpy(dtype=object)
        name_codes, _ = pd.factorize(names, sort=True)
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
        return self._position.get(template_id)

    def record(self, position: int, columns: Iterable[str] | None = None) -> dict[str, Any]:
        """One row (or some of its ``columns``) as plain Python values.

        Text cells become str ("" when missing), list cells lists, ``enabled`` a bool.
        """
        out: dict[str, Any] = {}
        for column in self._cells if columns is None else columns:
            value = self._cells[column][position]
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
