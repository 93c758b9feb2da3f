"""Runtime parameters through the client against the sandbox: definitions as typed objects,
values checked before anything is created (one error naming every problem), values set on
new versions and on applications (a new version when the chosen one is frozen)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

import dr_notebook as drn
from dr_notebook import errors
from dr_notebook.models import RuntimeParameter
from dr_notebook.sandbox.testing import start_sandbox

METADATA = """\
runtimeParameterDefinitions:
  - fieldName: MODEL_NAME
    type: string
    allowEmpty: false
    description: The model to ask.
  - fieldName: TEMPERATURE
    type: numeric
    defaultValue: 0.2
    minValue: 0
    maxValue: 2
  - fieldName: STREAM
    type: boolean
    defaultValue: true
  - fieldName: API_KEY
    type: credential
    credentialType: api_token
"""
START = (
    '#!/usr/bin/env bash\nexec python -m http.server "$PORT" --bind "${BIND_ADDRESS:-127.0.0.1}"\n'
)
SECRET = "sk-never-print-me-7777"


@pytest.fixture(scope="module")
def sb() -> Any:
    with start_sandbox() as server:
        yield server


@pytest.fixture(scope="module")
def client(sb: Any) -> drn.Client:
    return drn.Client(sb.endpoint, sb.token, progress=False)


def new_source(client: drn.Client) -> Any:
    source = client.app_sources.create(f"Params {uuid.uuid4().hex[:6]}")
    client.app_sources.new_version(
        source, {"metadata.yaml": METADATA, "start-app.sh": START}, base_version=None
    )
    return client.app_sources.get(source)


def writes(sb: Any) -> list[str]:
    return [
        f"{r['method']} {r['path']}"
        for r in sb.stats()["requests"]
        if r["method"] in ("POST", "PATCH", "PUT", "DELETE")
    ]


def test_a_template_declares_typed_parameters(client: drn.Client) -> None:
    chat = client.templates.resolve("Q&A Chat Generation App")
    found = {p.field_name: p for p in client.templates.runtime_parameters(chat)}
    assert {"MODEL_NAME", "SYSTEM_PROMPT", "TEMPERATURE", "SHOW_SOURCES"} <= set(found)
    temperature = found["TEMPERATURE"]
    assert isinstance(temperature, RuntimeParameter) and temperature.type == "numeric"
    assert (temperature.min_value, temperature.max_value, temperature.default_value) == (0, 2, 0.2)
    assert found["SHOW_SOURCES"].default_value is True
    assert found["SYSTEM_PROMPT"].description == "Instructions sent before every conversation."
    assert not found["MODEL_NAME"].required  # allowEmpty: false, but it has a default
    nim = {p.field_name: p for p in client.templates.runtime_parameters(
        client.templates.resolve("NIM-hosted LLM Chat").id)}  # fmt: skip
    key = nim["NIM_API_KEY"]
    assert key.is_credential and key.required and key.credential_type == "api_token"
    flask = client.templates.resolve("Flask App Base")
    assert [p.field_name for p in client.templates.runtime_parameters(flask)] == [
        "DEPLOYMENT_ID",
        "APP_TITLE",
    ]


def test_a_version_lists_its_parameters_with_current_values(client: drn.Client) -> None:
    source = new_source(client)
    version = client.app_sources.new_version(
        source, runtime_parameters={"MODEL_NAME": "big", "TEMPERATURE": "1.5", "API_KEY": SECRET}
    )
    found = {p.field_name: p for p in client.app_sources.runtime_parameters(source)}
    assert found["MODEL_NAME"].current_value == "big" and found["TEMPERATURE"].value == 1.5
    assert found["STREAM"].value is True and found["STREAM"].current_value is None
    assert SECRET not in repr(found) and SECRET not in repr(version)
    assert "<set>" in repr(found["API_KEY"])
    older = client.app_sources.versions(source)[1]  # newest first: the one before
    assert [p.current_value for p in client.app_sources.runtime_parameters(source, older)] == [
        None, None, None, None,
    ]  # fmt: skip


def test_every_problem_is_named_in_one_error_and_nothing_is_created(
    client: drn.Client, sb: Any
) -> None:
    source = new_source(client)
    before = len(client.app_sources.versions(source))
    sb.reset_stats()
    with pytest.raises(errors.RuntimeParameterError) as caught:
        client.app_sources.new_version(
            source, runtime_parameters={"NOPE": 1, "TEMPERATURE": 7, "STREAM": "maybe"}
        )
    err = caught.value
    message = str(err)
    for words in (
        "NOPE: not a parameter",
        "TEMPERATURE: 7 is above the maximum 2",
        "STREAM: must be true or false",
        "missing required MODEL_NAME (The model",
    ):
        assert words in message, message
    assert [m.field_name for m in err.missing] == ["MODEL_NAME"] and len(err.problems) == 3
    assert isinstance(err, ValueError)
    with pytest.raises(errors.RuntimeParameterError, match="TEMPERATURE: must be a number"):
        client.app_sources.new_version(
            source, runtime_parameters={"MODEL_NAME": "m", "TEMPERATURE": True}
        )
    with pytest.raises(errors.RuntimeParameterError, match="MLOPS_X: names beginning"):
        client.app_sources.new_version(source, runtime_parameters={"MODEL_NAME": "m", "MLOPS_X": 1})
    with pytest.raises(errors.RuntimeParameterError, match="MODEL_NAME: must be a string"):
        client.applications.create(source, runtime_parameters={"MODEL_NAME": 3})
    assert writes(sb) == []
    assert len(client.app_sources.versions(source)) == before
    assert client.applications.list(source=source) == []


def test_new_version_reads_the_metadata_it_uploads(client: drn.Client) -> None:
    source = client.app_sources.create(f"Fresh {uuid.uuid4().hex[:6]}")
    with pytest.raises(errors.RuntimeParameterError, match="declares: none"):
        client.app_sources.new_version(source, {"a.txt": "a"}, runtime_parameters={"X": "1"})
    version = client.app_sources.new_version(
        source, {"metadata.yaml": METADATA}, runtime_parameters={"MODEL_NAME": "m", "STREAM": "no"}
    )
    values = {p.field_name: p.current_value for p in version.runtime_parameters}
    assert values["MODEL_NAME"] == "m" and values["STREAM"] is False


def test_create_sets_values_and_makes_a_new_version_when_the_chosen_one_is_frozen(
    client: drn.Client,
) -> None:
    source = new_source(client)
    first = client.applications.create(
        source, name=f"p-{uuid.uuid4().hex[:6]}", runtime_parameters={"MODEL_NAME": "one"}
    )
    built = client.app_sources.version(source, first.source_version_id or "")
    assert (
        built.is_frozen
        and {p.field_name: p.current_value for p in built.runtime_parameters}["MODEL_NAME"] == "one"
    )
    second = client.applications.create(
        built, name=f"p-{uuid.uuid4().hex[:6]}", runtime_parameters={"TEMPERATURE": 1}
    )
    assert second.source_version_id != built.id
    rebuilt = client.app_sources.runtime_parameters(source, second.source_version_id or "")
    values = {p.field_name: p.current_value for p in rebuilt}
    assert values["MODEL_NAME"] == "one" and values["TEMPERATURE"] == 1  # copied, then set
    bare = drn.models.ApplicationSourceVersion.from_api({"id": built.id})
    with pytest.raises(errors.InvalidArgumentError, match="pass the source"):
        client.applications.create(bare, runtime_parameters={"TEMPERATURE": 1})
    for app in (first, second):
        client.applications.delete(app)
