"""Template types and order-by values as people type them: short names, snake_case, hints."""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import dr_notebook as drn
from dr_notebook import errors
from dr_notebook.enums import expand_template_type, order_by_value
from dr_notebook.sandbox.testing import SandboxServer, start_sandbox

APP = "customApplicationTemplate"
METRIC = "customMetricTemplate"
JOB = "customJobTemplate"
ENV = ("65f0c0ffee0123456789e0e0", "v1")
TEMPLATE_ORDERS = ("name", "-name", "createdAt", "-createdAt", "templateType", "-templateType")


@pytest.fixture
def client(sandbox: SandboxServer) -> Iterator[drn.Client]:
    with drn.Client(sandbox.endpoint, sandbox.token, progress=False) as c:
        yield c


def create(client: drn.Client, tmp_path: Path, template_type: str, **kwargs: Any) -> Any:
    app = tmp_path / "app.py"
    app.write_text("print('hi')\n")
    return client.templates.create(
        f"Vocabulary {uuid.uuid4().hex[:8]}",
        description="Made by a test",
        template_type=template_type,
        template_sub_type=kwargs.pop("template_sub_type", "flask"),
        default_environment=ENV,
        file=app,
        **kwargs,
    )


# -- expansion and normalisation (one function each, in enums) ---------------------------------


@pytest.mark.parametrize(
    ("typed", "sent"),
    [
        ("application", APP),
        ("Application", APP),
        ("app", APP),
        ("metric", METRIC),
        ("job", JOB),
        ("customapplicationtemplate", APP),
        (APP, APP),
        ("customThingTemplate", "customThingTemplate"),  # unknown: sent as typed
        ("", ""),
    ],
)
def test_short_type_names_expand(typed: str, sent: str) -> None:
    assert expand_template_type(typed) == sent


def test_expansion_keeps_none() -> None:
    assert expand_template_type(None) is None


@pytest.mark.parametrize(
    ("typed", "sent"),
    [
        ("created_at", "createdAt"),
        ("-created_at", "-createdAt"),
        ("createdAt", "createdAt"),
        ("-name", "-name"),
        ("template_sub_type", "templateSubType"),
        ("-Template_Type", "-templateType"),
        (" name ", "name"),
        ("updated_at", None),  # not an order of templates
        ("stars", None),
    ],
)
def test_order_by_accepts_snake_case(typed: str, sent: str | None) -> None:
    allowed = (*TEMPLATE_ORDERS, "templateSubType", "-templateSubType")
    assert order_by_value(typed, allowed) == sent


# -- the client ---------------------------------------------------------------------------------


def test_filters_take_short_type_names(client: drn.Client) -> None:
    apps = [t.id for t in client.templates.list(template_type=APP)]
    assert apps and [t.id for t in client.templates.list(template_type="application")] == apps
    metrics = client.templates.frame(template_type="metric")
    assert len(metrics) and set(metrics["template_type"]) == {METRIC}
    assert [t.id for t in client.templates.iter(template_type="job")] == [
        t.id for t in client.templates.list(template_type=JOB)
    ]


@pytest.mark.parametrize("spelling", ["created_at", "-created_at", "name", "-template_type"])
def test_template_order_by_accepts_snake_case(client: drn.Client, spelling: str) -> None:
    api = order_by_value(spelling, TEMPLATE_ORDERS)
    assert api is not None
    got = [t.id for t in client.templates.list(order_by=spelling)]
    assert got == [t.id for t in client.templates.list(order_by=api)]


def test_source_order_by_accepts_snake_case(client: drn.Client) -> None:
    assert [s.id for s in client.app_sources.list(order_by="-updated_at")] == [
        s.id for s in client.app_sources.list(order_by="-updatedAt")
    ]
    with pytest.raises(errors.InvalidArgumentError, match="updatedAt"):
        client.app_sources.list(order_by="stars")


def test_bad_order_by_lists_the_values(client: drn.Client) -> None:
    with pytest.raises(errors.InvalidArgumentError) as info:
        client.templates.list(order_by="updated_at")
    assert "createdAt" in str(info.value) and "created_at" in str(info.value)


def test_empty_result_for_an_unknown_type_names_the_existing_ones(client: drn.Client) -> None:
    with pytest.warns(errors.NoMatchWarning) as caught:
        frame = client.templates.frame(template_type="aplication")
    assert len(frame) == 0
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "\n" not in message
    assert "'aplication'" in message
    for value in (APP, METRIC, JOB):
        assert value in message
    assert "application" in message.replace(APP, "")  # the short name is shown too
    with pytest.warns(errors.NoMatchWarning, match="'aplication'"):
        assert client.templates.list(template_type="aplication") == []


def test_empty_result_for_an_unknown_sub_type_names_those_of_the_type(
    client: drn.Client,
) -> None:
    with pytest.warns(errors.NoMatchWarning) as caught:
        assert client.templates.list(template_type="application", template_sub_type="flsk") == []
    message = str(caught[0].message)
    assert "'flsk'" in message and "flask" in message and "streamlit" in message
    assert "regression" not in message and "retraining" not in message  # other types' ones


def test_no_hint_when_the_values_exist(client: drn.Client, sandbox: SandboxServer) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        empty = client.templates.list(template_type="metric", search="no such words anywhere")
        assert empty == []
        assert client.templates.list(search="no such words anywhere") == []
        sandbox.reset_stats()
        assert client.templates.list(template_type="job")
    assert sandbox.stats()["total"] == 1  # a listing with results costs nothing more


def test_the_hint_costs_one_small_request(client: drn.Client, sandbox: SandboxServer) -> None:
    sandbox.reset_stats()
    with pytest.warns(errors.NoMatchWarning):
        client.templates.list(template_type="nothing-like-it")
    requests = [r for r in sandbox.stats()["requests"] if r["path"] == "customTemplates/"]
    assert len(requests) == 2


def test_create_with_a_short_type_name(client: drn.Client, tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        template = create(client, tmp_path, "application")
    try:
        assert template.template_type == APP
        changed = client.templates.update(template, template_type="metric")
        assert changed.template_type == METRIC
    finally:
        client.templates.delete(template)


def test_unknown_type_warns_once_and_is_sent(client: drn.Client, tmp_path: Path) -> None:
    unknown = f"customThing{uuid.uuid4().hex[:6]}Template"
    made = []
    try:
        with pytest.warns(errors.UnknownValueWarning) as caught:
            made.append(create(client, tmp_path, unknown))
        assert made[0].template_type == unknown  # as permissive as the API
        message = str(caught[0].message)
        assert unknown in message and "\n" not in message
        for value in (APP, METRIC, JOB):
            assert value in message
        with warnings.catch_warnings(record=True) as again:
            warnings.simplefilter("always")
            made.append(create(client, tmp_path, unknown))
            client.templates.update(made[1], template_type=unknown)
        assert [str(w.message) for w in again] == []
        other = unknown.replace("Thing", "Other")
        with pytest.warns(errors.UnknownValueWarning, match=other):
            client.templates.update(made[1], template_type=other)
    finally:
        for template in made:
            client.templates.delete(template)


def test_hint_from_a_large_catalogue_says_it_read_one_page() -> None:
    with start_sandbox(generate=250, demo=False, seed=3) as big:
        client = drn.Client(big.endpoint, big.token, progress=False)
        with pytest.warns(errors.NoMatchWarning, match="among the first 100 of 250 templates"):
            client.templates.list(template_type="nothing-like-it")
        some_type = client.templates.list(order_by="-templateType", limit=1)[0].template_type
        big.reset_stats()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert client.templates.list(template_type=some_type, search="no such words") == []
        assert len(big.stats()["requests"]) <= 3  # the listing, one page, one probe
