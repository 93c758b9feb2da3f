"""Entities as pandas DataFrames, with documented columns and dtypes."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import pandas as pd

from dr_notebook.models import Application, Template

__all__ = [
    "APPLICATION_COLUMNS",
    "CATEGORY_COLUMNS",
    "LIST_COLUMNS",
    "TEMPLATE_COLUMNS",
    "TemplateRows",
    "applications_frame",
    "templates_frame",
]

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
    "local_launch",
]
CATEGORY_COLUMNS = [
    "template_type",
    "template_sub_type",
    "default_resource_bundle_id",
    "publisher",
    "category",
]
LIST_COLUMNS = ["tags", "resource_bundle_ids", "class_labels", "files"]
TEXT_COLUMNS = [
    "id",
    "name",
    "description",
    "environment_id",
    "environment_version_id",
    "readme",
    "local_launch",
]
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
    rows = TemplateRows()
    rows.add(templates)
    return rows.frame()


class TemplateRows:
    """Templates gathered column by column as they arrive, turned into a frame on demand.

    Each template's values are taken once; the models can be dropped as soon as they are added,
    so a listing streamed page by page never holds all of them (see ``templates.frame()``).
    ``frame()`` can be called any number of times, on what has been added so far.
    """

    def __init__(self) -> None:
        self._columns: dict[str, list[Any]] = {name: [] for name in TEMPLATE_COLUMNS}
        self._times: dict[str, list[Any]] = {name: [] for name in TIMESTAMP_COLUMNS}
        self._extras: list[tuple[int, dict[str, Any]]] = []  # (row, fields), rows with some

    def __len__(self) -> int:
        return len(self._columns["id"])

    def add(self, templates: Iterable[Template], *, adopt: bool = False) -> None:
        """Append the values of ``templates``.

        ``adopt``: the caller drops the models afterwards, so their lists are taken as they
        are (otherwise they are copied, leaving the models independent of the frames).
        """
        c = self._columns
        row = len(self)
        keep = (lambda values: values) if adopt else list
        for t in templates:
            meta, env = t.metadata, t.default_environment
            c["id"].append(t.id)
            c["name"].append(t.name)
            c["description"].append(t.description)
            c["template_type"].append(t.template_type or None)
            c["template_sub_type"].append(t.template_sub_type)
            c["enabled"].append(bool(t.enabled))
            c["default_resource_bundle_id"].append(t.default_resource_bundle_id)
            c["environment_id"].append(env.environment_id)
            c["environment_version_id"].append(env.environment_version_id)
            c["tags"].append(keep(meta.tags))
            c["resource_bundle_ids"].append(keep(meta.resource_bundle_ids))
            c["class_labels"].append(keep(meta.class_labels))
            c["files"].append([f.name for f in t.files])
            c["file_count"].append(len(t.files))
            c["readme"].append(meta.readme)
            c["publisher"].append(t.publisher)
            c["category"].append(t.category)
            c["local_launch"].append(t.local_launch_blocker or None)
            self._times["created_at"].append(t.created_at)
            self._times["updated_at"].append(t.updated_at)
            extra = t.extra
            if extra:
                self._extras.append((row, extra))
            row += 1

    def column(self, name: str) -> list[Any]:
        """The values added so far of one of ``TEMPLATE_COLUMNS``, as they go into the frame.

        The list itself, which grows as templates are added: read it, don't change it.
        """
        return self._columns[name]

    def columns(self, rows: int | None = None) -> dict[str, Any]:
        """The columns of :meth:`frame` for the first ``rows`` templates (default: all), before
        their dtypes are set: lists, and UTC datetime arrays for the timestamps."""
        n = len(self) if rows is None else min(rows, len(self))
        columns: dict[str, Any] = {name: values[:n] for name, values in self._columns.items()}
        for name, times in self._times.items():
            times = times[:n]
            if any(v is not None for v in times):
                columns[name] = pd.to_datetime(
                    pd.Series(times, dtype=object), utc=True, errors="coerce"
                ).array
        extras = [(row, extra) for row, extra in list(self._extras) if row < n]
        for key in dict.fromkeys(key for _, extra in extras for key in extra):
            name = _snake(key)
            if name in columns:
                name = f"extra_{name}"
            values: list[Any] = [None] * n
            for row, extra in extras:
                values[row] = extra.get(key)
            columns[name] = values
        return columns

    def frame(self, rows: int | None = None) -> pd.DataFrame:
        """The first ``rows`` templates added (default: all), as in :func:`templates_frame`."""
        columns = self.columns(rows)
        n = len(columns["id"])
        frame = pd.DataFrame(columns, index=pd.RangeIndex(n))
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


APPLICATION_COLUMNS = [
    "id",
    "name",
    "status",
    "application_url",
    "source_id",
    "source_version_id",
    "outdated",
    "created_at",
    "updated_at",
    "created_by",
    "resource_label",
    "replicas",
    "external_access_enabled",
    "allow_auto_stopping",
    "permissions",
    "build_error",
]
_APPLICATION_TEXT = [
    "id",
    "name",
    "application_url",
    "source_id",
    "source_version_id",
    "created_by",
    "build_error",
]


def _utc(values: list[Any]) -> Any:
    series = pd.to_datetime(pd.Series(values, dtype=object), utc=True, errors="coerce")
    return series.astype("datetime64[ns, UTC]").array


def applications_frame(applications: Iterable[Application]) -> pd.DataFrame:
    """One row per application, columns ``APPLICATION_COLUMNS`` then any extra fields sent.

    ``status`` and ``resource_label`` are categorical (any status value is kept as sent),
    ``created_at``/``updated_at`` ``datetime64[ns, UTC]`` (NaT when missing), ``replicas``
    a nullable integer (``Int64``), ``outdated`` a nullable bool (``boolean``: its source has a
    newer version; NA when not read), ``external_access_enabled``/``allow_auto_stopping``
    bool, ``permissions`` Python lists, the other columns text (missing values are NA).
    Extra fields are named in snake_case. An empty input gives an empty frame with the same columns.
    """
    apps = list(applications)
    resources = [a.resources or {} for a in apps]
    columns: dict[str, Any] = {
        "id": [a.id for a in apps],
        "name": [a.name for a in apps],
        "status": [a.status or None for a in apps],
        "application_url": [a.application_url for a in apps],
        "source_id": [a.source_id for a in apps],
        "source_version_id": [a.source_version_id for a in apps],
        "outdated": pd.array([a.outdated for a in apps], dtype="boolean"),
        "created_at": _utc([a.created_at for a in apps]),
        "updated_at": _utc([a.updated_at for a in apps]),
        "created_by": [a.created_by for a in apps],
        "resource_label": [r.get("resourceLabel") for r in resources],
        "replicas": pd.array(
            [r["replicas"] if isinstance(r.get("replicas"), int) else None for r in resources],
            dtype="Int64",
        ),
        "external_access_enabled": [bool(a.external_access_enabled) for a in apps],
        "allow_auto_stopping": [bool(a.allow_auto_stopping) for a in apps],
        "permissions": [list(a.permissions) for a in apps],
        "build_error": [a.build_error for a in apps],
    }
    extras = [a.extra for a in apps]
    for key in dict.fromkeys(key for extra in extras for key in extra):
        name = _snake(key)
        columns[f"extra_{name}" if name in columns else name] = [e.get(key) for e in extras]
    frame = pd.DataFrame(columns, index=pd.RangeIndex(len(apps)))
    frame["permissions"] = pd.Series(columns["permissions"], dtype=object)
    for name in _APPLICATION_TEXT:
        frame[name] = frame[name].astype(TEXT_DTYPE)
    for name in ("external_access_enabled", "allow_auto_stopping"):
        frame[name] = frame[name].astype(bool)
    for name in ("status", "resource_label"):
        frame[name] = frame[name].astype("category")
    return frame
