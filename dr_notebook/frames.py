"""Entities as pandas DataFrames, with documented columns and dtypes."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import pandas as pd

from dr_notebook.models import Template

__all__ = ["CATEGORY_COLUMNS", "LIST_COLUMNS", "TEMPLATE_COLUMNS", "templates_frame"]

# What a person reads first comes first: a narrow terminal shows the leading columns.
TEMPLATE_COLUMNS = [
    "name",
    "template_type",
    "template_sub_type",
    "enabled",
    "id",
    "description",
    "default_resource_bundle_id",
    "environment_id",
    "environment_version_id",
    "tags",
    "resource_bundle_ids",
    "class_labels",
    "files",
    "file_count",
    "readme",
    "publisher",
    "category",
]
CATEGORY_COLUMNS = [
    "template_type",
    "template_sub_type",
    "default_resource_bundle_id",
    "publisher",
    "category",
]
LIST_COLUMNS = ["tags", "resource_bundle_ids", "class_labels", "files"]
TEXT_COLUMNS = ["id", "name", "description", "environment_id", "environment_version_id", "readme"]
# The dtype this pandas gives a column of strings (``str`` in pandas 3, ``object`` before).
TEXT_DTYPE = pd.Series(["text"]).dtype
TIMESTAMP_COLUMNS = ["created_at", "updated_at"]
_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")


def _snake(name: str) -> str:
    return _CAMEL.sub(r"_\1", name).lower()


def templates_frame(templates: Iterable[Template]) -> pd.DataFrame:
    """One row per template, columns ``TEMPLATE_COLUMNS`` then any extra fields the server sent.

    ``enabled`` is bool, ``file_count`` an integer, the ``CATEGORY_COLUMNS`` are categorical,
    the ``LIST_COLUMNS`` hold Python lists, and ``created_at``/``updated_at`` (when the server
    sends them) are UTC datetimes. Extra fields are named in snake_case. An empty input gives
    an empty frame with the same columns.
    """
    templates = list(templates)
    columns: dict[str, Any] = {
        "name": [t.name for t in templates],
        "template_type": [t.template_type or None for t in templates],
        "template_sub_type": [t.template_sub_type for t in templates],
        "enabled": [bool(t.enabled) for t in templates],
        "id": [t.id for t in templates],
        "description": [t.description for t in templates],
        "default_resource_bundle_id": [t.default_resource_bundle_id for t in templates],
        "environment_id": [t.default_environment.environment_id for t in templates],
        "environment_version_id": [t.default_environment.environment_version_id for t in templates],
        "tags": [list(t.metadata.tags) for t in templates],
        "resource_bundle_ids": [list(t.metadata.resource_bundle_ids) for t in templates],
        "class_labels": [list(t.metadata.class_labels) for t in templates],
        "files": [[f.name for f in t.files] for t in templates],
        "file_count": [len(t.files) for t in templates],
        "readme": [t.metadata.readme for t in templates],
        "publisher": [t.publisher for t in templates],
        "category": [t.category for t in templates],
    }
    for name in TIMESTAMP_COLUMNS:
        values = [getattr(t, name) for t in templates]
        if any(v is not None for v in values):
            columns[name] = pd.to_datetime(
                pd.Series(values, dtype=object), utc=True, errors="coerce"
            ).array
    extras = [t.extra for t in templates]
    for key in dict.fromkeys(key for extra in extras for key in extra):
        name = _snake(key)
        if name in columns:
            name = f"extra_{name}"
        columns[name] = [extra.get(key) for extra in extras]

    frame = pd.DataFrame(columns, index=pd.RangeIndex(len(templates)))
    for name in LIST_COLUMNS:
        # A column of empty lists must still hold lists, whatever pandas infers.
        frame[name] = pd.Series(columns[name], dtype=object)
    for name in TEXT_COLUMNS:
        frame[name] = frame[name].astype(TEXT_DTYPE)
    frame["enabled"] = frame["enabled"].astype(bool)
    frame["file_count"] = frame["file_count"].astype("int64")
    for name in CATEGORY_COLUMNS:
        frame[name] = frame[name].astype("category")
    return frame
