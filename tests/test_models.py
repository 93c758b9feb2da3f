"""Tolerant parsing of the API's entities."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pytest

from dr_notebook.errors import DataRobotError
from dr_notebook.models import (
    Application,
    ApplicationSource,
    AsyncStatus,
    Template,
    TemplateFile,
    parse_timestamp,
)

FULL_TEMPLATE = {
    "id": "65f0c0ffee0123456789abcd",
    "name": "Flask App Base",
    "description": "A minimal Flask app",
    "templateType": "customApplicationTemplate",
    "templateSubType": None,
    "enabled": False,
    "defaultResourceBundleId": "cpu.small",
    "defaultEnvironment": {"environmentId": "env1", "environmentVersionId": "ver1"},
    "items": [{"id": "f1", "name": "app.py"}, {"id": "f2", "name": "README.md"}],
    "templateMetadata": {
        "readme": "# Flask",
        "tags": ["python", "flask"],
        "resourceBundleIds": ["cpu.small"],
        "classLabels": None,
        "source": {"repo": "x"},
        "templateTypeSpecificResources": {"serviceWebRequestsOnRootPath": True},
        "futureKey": 1,
    },
    "publisher": "DataRobot",
    "category": "Web apps",
    "createdAt": "2025-03-25T10:00:00Z",
    "updatedAt": "garbage",
    "somethingNew": {"a": 1},
}


def test_full_template_parses() -> None:
    t = Template.from_api(FULL_TEMPLATE)
    assert t.id == "65f0c0ffee0123456789abcd"
    assert t.enabled is False
    assert t.default_environment.environment_version_id == "ver1"
    assert [f.name for f in t.files] == ["app.py", "README.md"]
    assert t.readme == "# Flask" and t.tags == ["python", "flask"]
    assert t.metadata.class_labels == []
    assert t.metadata.extra == {"futureKey": 1}
    assert t.publisher == "DataRobot" and t.category == "Web apps"
    assert t.created_at == datetime(2025, 3, 25, 10, tzinfo=timezone.utc)
    assert t.updated_at is None
    assert t.extra["somethingNew"] == {"a": 1}
    assert t.can_create_application is False


def test_fields_are_slots_and_only_extras_use_the_instance_dict() -> None:
    # A listing holds many models: a dict per instance would be one more object per model for
    # the garbage collector to walk.
    t = Template.from_api(FULL_TEMPLATE)
    assert vars(t) == {"somethingNew": {"a": 1}}
    assert vars(t.metadata) == {"futureKey": 1}
    assert vars(t.default_environment) == {} and vars(t.files[0]) == {}
    assert t.to_api()["somethingNew"] == {"a": 1} and t.to_api()["name"] == t.name


@pytest.mark.parametrize("missing", [{}, {"id": "x"}])
def test_nulls_and_missing_fields_get_defaults(missing: dict) -> None:
    t = Template.from_api(missing)
    assert t.files == []
    assert t.tags == [] and t.readme is None
    assert t.enabled is True
    assert t.default_environment.environment_id is None
    assert t.publisher is None


def test_all_nullable_fields_null() -> None:
    data = {key: None for key in FULL_TEMPLATE}
    t = Template.from_api(data)
    assert t.files == [] and t.metadata.tags == [] and t.name == ""


def test_template_repr_is_short() -> None:
    text = repr(Template.from_api(FULL_TEMPLATE))
    assert text == (
        "Template(id='65f0c0ffee0123456789abcd', name='Flask App Base', "
        "type=customApplicationTemplate, disabled)"
    )


def test_template_file_accepts_both_shapes() -> None:
    assert TemplateFile.from_api({"id": "1", "name": "a.py"}).name == "a.py"
    body = TemplateFile.from_api({"id": "1", "filename": "a.py", "content": "print(1)"})
    assert (body.name, body.content) == ("a.py", "print(1)")


def test_application_source_without_version_items() -> None:
    source = ApplicationSource.from_api(
        {
            "id": "s1",
            "name": "App",
            "latestVersion": {"id": "v1", "label": "v1"},
            "createdAt": "2025-01-01T00:00:00+00:00",
            "permissions": None,
        }
    )
    assert source.files == []
    assert source.permissions == []
    assert source.created_at is not None and source.created_at.year == 2025
    assert repr(source) == "ApplicationSource(id='s1', name='App', version='v1', files=0)"


def test_async_status_states() -> None:
    running = AsyncStatus.from_api({"statusId": "j", "status": "running"})
    assert running.status == "RUNNING" and not running.failed and not running.completed
    for state in ("ERROR", "ABORTED", "EXPIRED"):
        assert AsyncStatus.from_api({"status": state}).failed


def test_parse_timestamp_tolerates_rubbish() -> None:
    assert parse_timestamp("2025-01-02T03:04:05Z") == datetime(
        2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc
    )
    assert (
        parse_timestamp("") is None and parse_timestamp(5) is None and parse_timestamp("x") is None
    )


def test_missing_fields_equal_the_constructor_defaults() -> None:
    assert Template.from_api({}) == Template() == Template.from_api({"id": None})
    assert Template.from_api({}).id == ""  # not the text "None"


@pytest.mark.parametrize("data", [None, [], ["id"], "abc", 5])
def test_anything_but_an_object_is_said_not_made_empty(data: Any) -> None:
    with pytest.raises(DataRobotError, match="where AsyncStatus data"):
        AsyncStatus.from_api(data)


def test_to_api_is_json_serialisable() -> None:
    app = Application.from_api(
        {"id": "a1", "createdAt": "2025-01-02T03:04:05Z", "expiresAt": "2025-02-01T00:00:00Z"}
    )
    text = json.dumps(app.to_api())
    assert '"expiresAt": "2025-02-01T00:00:00Z"' in text
    assert Application.from_api(json.loads(text)) == app


def test_wrongly_shaped_nested_values_are_tolerated() -> None:
    from types import MappingProxyType

    t = Template.from_api(
        MappingProxyType(
            {"id": 7, "items": "oops", "defaultEnvironment": ["x"], "templateMetadata": 3}
        )
    )
    assert t.id == "7" and t.files == [] and t.default_environment.environment_id is None
    assert t.metadata.tags == [] and t.extra == {}
    files = Template.from_api({"items": [{"id": "a", "name": "x"}, "junk", None]}).files
    assert [f.name for f in files] == ["x"]


def test_declared_types_are_coerced() -> None:
    t = Template.from_api(
        {"id": 12, "name": 5, "enabled": "false", "templateMetadata": {"tags": [1, "a"]}}
    )
    assert (t.id, t.name, t.enabled, t.tags) == ("12", "5", False, ["1", "a"])
    assert Template.from_api({"enabled": "true"}).enabled is True
    assert Template.from_api({"enabled": 0}).enabled is False
    assert AsyncStatus.from_api({"status": "completed", "code": "3"}).code == 3


def test_values_that_cannot_be_coerced_fall_back_to_the_default() -> None:
    """The rule: an unreadable value gets the field's default; an unreadable list item goes."""
    t = Template.from_api(
        {
            "id": "t1",
            "name": {"not": "text"},
            "enabled": "maybe",
            "createdAt": "not a date",
            "templateMetadata": {"tags": ["a", None, {"b": 1}, "c"], "readme": ["x"]},
            "somethingNew": [1, 2],
        }
    )
    assert (t.id, t.name, t.enabled, t.created_at) == ("t1", "", True, None)
    assert t.tags == ["a", "c"] and t.readme is None
    assert t.extra == {"somethingNew": [1, 2]}  # unknown fields are kept as sent


def test_a_listing_with_one_odd_item_keeps_every_other_field() -> None:
    items = [{"id": f"t{i}", "name": f"T{i}", "enabled": True} for i in range(3)]
    items[1] = {**items[1], "enabled": "not a flag", "templateMetadata": {"tags": "a,b"}}
    parsed = [Template.from_api(item) for item in items]
    assert [t.name for t in parsed] == ["T0", "T1", "T2"]
    assert parsed[1].enabled is True and parsed[1].tags == []


def test_models_take_snake_case_names_too() -> None:
    status = AsyncStatus(status_id="j1", status="completed", location="/x")
    assert (status.status_id, status.status, status.completed) == ("j1", "COMPLETED", True)
    assert Template(template_type="customApplicationTemplate").can_create_application


TERMINAL_README = "\n".join(
    [
        "# Churn predictor",
        "",
        "<script>alert('x')</script><b>Scores</b> customers \x1b[31mby risk\x1b[0m.",
        "",
        "| metric | value |",
        *[f"line {i}" for i in range(1, 30)],
    ]
)


def test_template_reads_as_plain_text_in_a_terminal() -> None:
    from IPython.core.formatters import PlainTextFormatter
    from IPython.lib.pretty import pretty

    t = Template.from_api(
        {
            **FULL_TEMPLATE,
            "name": "Churn \x1b]0;pwned\x07Predictor",
            "templateSubType": "streamlit",
            "templateMetadata": {"readme": TERMINAL_README, "tags": ["churn", "demo"]},
        }
    )
    text = pretty(t)
    assert PlainTextFormatter()(t) == text  # what a terminal's Out[] shows
    lines = text.splitlines()
    assert lines[0] == "Churn Predictor"  # the name first, control sequences removed
    for part in (
        "customApplicationTemplate / streamlit (application)",
        "disabled",
        "churn, demo",
        "65f0c0ffee0123456789abcd",
        "A minimal Flask app",
        "# Churn predictor",
        "Scores customers by risk.",
        "| metric | value |",
    ):
        assert part in text, (part, text)
    assert "line 3" in text and "line 20" not in text  # the README's first lines only
    assert "more lines" in text
    assert "<" not in text and "alert" not in text and "\x1b" not in text and "\x07" not in text
    assert len(lines) < 20
    # repr stays one short line, for logs.
    assert repr(t).startswith("Template(id='65f0c0ffee0123456789abcd'") and "\n" not in repr(t)


def test_plain_text_of_a_bare_template() -> None:
    from IPython.lib.pretty import pretty

    text = pretty(Template.from_api({"id": "abc", "templateType": "customThing"}))
    assert text.splitlines()[0] == "abc"
    assert "customThing" in text and "README" not in text
