"""The DataFrame contract of ``client.templates.frame()``."""

from __future__ import annotations

import pandas as pd

from dr_notebook.frames import templates_frame
from dr_notebook.models import Template

CATEGORY_COLUMNS = [
    "template_type",
    "template_sub_type",
    "default_resource_bundle_id",
    "publisher",
    "category",
]
LIST_COLUMNS = ["tags", "resource_bundle_ids", "class_labels", "files"]


def make(i: int, **extra: object) -> Template:
    return Template.from_api(
        {
            "id": f"{i:024x}",
            "name": f"Template {i}",
            "description": "d",
            "templateType": ["customApplicationTemplate", "customMetricTemplate"][i % 2],
            "templateSubType": None,
            "enabled": i % 3 != 0,
            "defaultResourceBundleId": "cpu.small",
            "defaultEnvironment": {"environmentId": "e", "environmentVersionId": "v"},
            "items": [{"id": f"f{i}", "name": "app.py"}] if i % 2 else [],
            "templateMetadata": {"readme": "# hi", "tags": ["a", str(i % 5)]},
            "publisher": "DataRobot" if i % 2 else None,
            "category": "Apps",
            "createdAt": "2025-01-01T00:00:00Z",
            **extra,
        }
    )


def test_columns_in_documented_order_then_extras(template_columns: list[str]) -> None:
    frame = templates_frame([make(1, usageCount=3), make(2)])
    assert list(frame.columns[: len(template_columns)]) == template_columns
    assert list(frame.columns[len(template_columns) :]) == ["created_at", "usage_count"]
    assert frame.loc[0, "usage_count"] == 3 and pd.isna(frame.loc[1, "usage_count"])
    assert str(frame["created_at"].dtype).startswith("datetime64")


def test_dtypes_and_values() -> None:
    frame = templates_frame([make(i) for i in range(6)])
    assert frame["enabled"].dtype == bool
    assert frame["enabled"].tolist() == [i % 3 != 0 for i in range(6)]
    for name in CATEGORY_COLUMNS:
        assert isinstance(frame[name].dtype, pd.CategoricalDtype), name
    assert set(frame["template_type"].cat.categories) == {
        "customApplicationTemplate",
        "customMetricTemplate",
    }
    for name in LIST_COLUMNS:
        assert all(isinstance(v, list) for v in frame[name]), name
    assert frame.loc[1, "files"] == ["app.py"] and frame.loc[0, "files"] == []
    assert frame["file_count"].tolist() == [0, 1, 0, 1, 0, 1]
    assert frame.loc[3, "tags"] == ["a", "3"]
    assert frame.loc[0, "environment_id"] == "e"
    assert frame["publisher"].isna().tolist() == [True, False] * 3


def test_empty_result_has_the_same_columns_and_dtypes(template_columns: list[str]) -> None:
    empty = templates_frame([])
    full = templates_frame([make(1)])
    assert list(empty.columns) == template_columns
    assert len(empty) == 0
    for name in template_columns:
        assert type(empty[name].dtype) is type(full[name].dtype), name


def test_ten_thousand_rows() -> None:
    templates = [make(i) for i in range(10_000)]
    frame = templates_frame(templates)
    assert len(frame) == 10_000
    assert frame["id"].is_unique
    assert frame["file_count"].sum() == 5_000
