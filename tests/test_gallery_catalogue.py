"""Unit tests of the gallery's data model (search, filters, sort, paging) over a small frame."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dr_notebook.gallery import html
from dr_notebook.gallery.catalogue import Catalogue, Query, page_count, page_rows

APP = "customApplicationTemplate"
APPS = {"Streamlit App Base", "flask app base", "Q&A Chat <Generation> App"}
METRIC = "customMetricTemplate"
JOB = "customJobTemplate"


def _frame(rows: list[dict]) -> pd.DataFrame:
    """A frame with the columns and dtypes of ``client.templates.frame()``."""
    defaults = {
        "description": "",
        "template_sub_type": None,
        "enabled": True,
        "default_resource_bundle_id": None,
        "environment_id": None,
        "environment_version_id": None,
        "tags": [],
        "resource_bundle_ids": [],
        "class_labels": [],
        "files": [],
        "readme": "",
        "publisher": None,
        "category": None,
    }
    full = [{**defaults, **row} for row in rows]
    frame = pd.DataFrame(full)
    frame["file_count"] = frame["files"].map(len)
    frame["enabled"] = frame["enabled"].astype(bool)
    for column in (
        "template_type",
        "template_sub_type",
        "default_resource_bundle_id",
        "publisher",
        "category",
    ):
        frame[column] = frame[column].astype("category")
    return frame


ROWS = [
    {
        "id": "a" * 24,
        "name": "Streamlit App Base",
        "description": "A minimal Streamlit dashboard.",
        "template_type": APP,
        "tags": ["streamlit", "python"],
        "publisher": "DataRobot",
        "category": "Dashboards",
        "createdAt": "2024-03-01T00:00:00Z",
    },
    {
        "id": "b" * 24,
        "name": "flask app base",
        "description": "Serve predictions over HTTP.",
        "template_type": APP,
        "tags": ["flask", "python"],
        "publisher": "DataRobot",
        "category": "APIs",
        "createdAt": "2024-01-01T00:00:00Z",
    },
    {
        "id": "c" * 24,
        "name": "Drift Metric",
        "description": "Population STABILITY index for streamlit-free monitoring.",
        "template_type": METRIC,
        "template_sub_type": "NIM_CONTAINERS",
        "tags": ["monitoring"],
        "publisher": "Community",
        "category": "Monitoring",
        "createdAt": "2024-02-01T00:00:00Z",
        "enabled": False,
    },
    {
        "id": "d" * 24,
        "name": "Nightly Retrain",
        "description": None,
        "template_type": JOB,
        "tags": [],
        "publisher": None,
        "category": "Monitoring",
        "createdAt": None,
    },
    {
        "id": "e" * 24,
        "name": "Q&A Chat <Generation> App",
        "description": "Chat with your documents",
        "template_type": APP,
        "template_sub_type": "NIM_CONTAINERS",
        "tags": ["llm", "python"],
        "publisher": "Community",
        "category": "GenAI",
        "createdAt": "2024-04-01T00:00:00Z",
    },
]


@pytest.fixture
def cat() -> Catalogue:
    return Catalogue(_frame(ROWS))


def _names(cat: Catalogue, query: Query) -> list[str]:
    return [cat.record(int(i))["name"] for i in cat.select(query)]


def test_search_is_case_blind_over_name_and_description(cat: Catalogue) -> None:
    assert _names(cat, Query(search="STREAMLIT")) == ["Drift Metric", "Streamlit App Base"]
    assert _names(cat, Query(search="stability")) == ["Drift Metric"]
    # Regex metacharacters are plain text.
    assert _names(cat, Query(search="<generation>")) == ["Q&A Chat <Generation> App"]
    assert _names(cat, Query(search="app.")) == []
    assert len(cat.select(Query(search="   "))) == len(ROWS)


def test_missing_description_is_searchable_by_name(cat: Catalogue) -> None:
    assert _names(cat, Query(search="nightly")) == ["Nightly Retrain"]


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("template_type", APP, APPS),
        ("template_sub_type", "NIM_CONTAINERS", {"Drift Metric", "Q&A Chat <Generation> App"}),
        ("tag", "python", APPS),
        ("tag", "monitoring", {"Drift Metric"}),
        ("publisher", "Community", {"Drift Metric", "Q&A Chat <Generation> App"}),
        ("category", "Monitoring", {"Drift Metric", "Nightly Retrain"}),
        ("tag", "no-such-tag", set()),
        ("template_type", "unknownTemplate", set()),
    ],
)
def test_each_filter(cat: Catalogue, field: str, value: str, expected: set[str]) -> None:
    assert set(_names(cat, Query(**{field: value}))) == expected


def test_filters_combine_with_search(cat: Catalogue) -> None:
    query = Query(search="app", tag="python", publisher="DataRobot")
    assert _names(cat, query) == ["flask app base", "Streamlit App Base"]


def test_options_come_from_the_catalogue(cat: Catalogue) -> None:
    assert cat.options("template_type") == [APP, JOB, METRIC]
    assert cat.options("tag") == ["flask", "llm", "monitoring", "python", "streamlit"]
    assert cat.options("publisher") == ["Community", "DataRobot"]
    assert cat.options("template_sub_type") == ["NIM_CONTAINERS"]


def test_sort_orders(cat: Catalogue) -> None:
    every = ["Drift Metric", "flask app base", "Nightly Retrain", "Q&A Chat <Generation> App"]
    assert _names(cat, Query()) == [*every[:3], every[3], "Streamlit App Base"]
    assert _names(cat, Query(order_by="-name"))[0] == "Streamlit App Base"
    newest = _names(cat, Query(order_by="-createdAt"))
    assert newest == [
        "Q&A Chat <Generation> App",
        "Streamlit App Base",
        "Drift Metric",
        "flask app base",
        "Nightly Retrain",  # no createdAt: last either way
    ]
    assert _names(cat, Query(order_by="createdAt"))[:2] == ["flask app base", "Drift Metric"]
    assert _names(cat, Query(order_by="createdAt"))[-1] == "Nightly Retrain"
    by_type = _names(cat, Query(order_by="templateType"))
    assert by_type[:3] == ["flask app base", "Q&A Chat <Generation> App", "Streamlit App Base"]
    assert by_type[3:] == ["Nightly Retrain", "Drift Metric"]
    assert _names(cat, Query(order_by="-templateType"))[0] == "Drift Metric"
    assert _names(cat, Query(order_by="-templateSubType"))[:2] == [
        "Drift Metric",
        "Q&A Chat <Generation> App",
    ]


def test_unknown_sort_order_names_the_choices(cat: Catalogue) -> None:
    with pytest.raises(ValueError, match="use one of name, -name"):
        cat.select(Query(order_by="size"))


def test_paging() -> None:
    rows = np.arange(25)
    assert page_count(25, 12) == 3
    assert page_count(0, 12) == 1
    assert list(page_rows(rows, 1, 12)) == list(range(12))
    assert list(page_rows(rows, 3, 12)) == [24]
    assert list(page_rows(rows, 9, 12)) == [24]  # clamped to the last page
    assert list(page_rows(rows, 0, 12)) == list(range(12))


def test_records_normalise_missing_values(cat: Catalogue) -> None:
    position = cat.position("d" * 24)
    assert position is not None
    row = cat.record(position)
    assert row["description"] == ""
    assert row["publisher"] == ""
    assert row["tags"] == []
    assert row["enabled"] is True
    assert cat.position("f" * 24) is None


def test_empty_catalogue() -> None:
    cat = Catalogue(None)
    assert len(cat) == 0
    assert len(cat.select(Query(search="x", tag="python"))) == 0
    assert cat.options("tag") == []
    assert cat.options("template_type") == []


def test_html_escapes_server_values(cat: Catalogue) -> None:
    position = cat.position("e" * 24)
    assert position is not None
    row = cat.record(position)
    row["tags"] = ['<img src=x onerror="alert(1)">']
    out = html.badges_html(row) + html.detail_header_html(row) + html.detail_info_html(row)
    assert "<Generation>" not in out
    assert "<img" not in out
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in out
    assert "var(--jp-" in out


def test_card_shows_the_sub_type_once() -> None:
    row = {"template_type": APP, "template_sub_type": "streamlit", "enabled": True,
           "tags": ["dashboard", "Streamlit", "python"]}  # fmt: skip
    out = html.badges_html(row)
    assert out.lower().count(">streamlit<") == 1, out
    assert ">dashboard<" in out and ">python<" in out
    no_sub_type = html.badges_html({**row, "template_sub_type": None})
    assert ">Streamlit<" in no_sub_type  # the tag stays when there is no sub-type badge


def test_create_blocker_explains_why() -> None:
    assert html.create_blocker({"template_type": APP, "enabled": True}) == ""
    assert "disabled" in html.create_blocker({"template_type": APP, "enabled": False})
    assert METRIC in html.create_blocker({"template_type": METRIC, "enabled": True})


def test_excerpt_cuts_at_a_word() -> None:
    text = "word " * 100
    cut = html.excerpt(text, 30)
    assert cut.endswith("…")
    assert len(cut) <= 31
    assert html.excerpt("short\n text") == "short text"


def test_typing_and_backspacing_match_a_fresh_search() -> None:
    """Narrowing from earlier results gives the same rows as scanning everything."""
    words = ["stream", "app", "drift", "chat", "base", "q&a", "<gen", "monitor", "what", "bonita"]
    rows = [
        {**ROWS[i % len(ROWS)], "id": f"{i:024x}", "name": f"{words[i % 10]} {words[i * 3 % 10]}"}
        for i in range(60)
    ]
    typed = Catalogue(_frame(rows))
    texts = ["s", "st", "str", "stre", "str", "st", "a", "ap", "app", "pp", "app b", "apps", ""]
    texts += ["t", "at", "chat", "hat", "cha", "<", "<g", "q&", "mon", "monitor", "onit"]
    for text in texts:
        fresh = Catalogue(_frame(rows))
        assert list(typed.select(Query(search=text))) == list(fresh.select(Query(search=text)))
