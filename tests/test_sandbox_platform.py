"""The platform calls DataRobot's application templates make, over HTTP and with the official
``datarobot`` client: account, projects, deployments, use cases, datasets, the LLM gateway."""

from __future__ import annotations

import json
import warnings

import pytest
from datarobot.client import Client as OfficialClient
from datarobot.client import set_client
from datarobot.models.dataset import Dataset
from datarobot.models.deployment.deployment import Deployment
from datarobot.models.project import Project
from datarobot.models.use_cases.use_case import UseCase

from dr_notebook.sandbox.testing import start_sandbox


@pytest.fixture(scope="module")
def sb():
    with start_sandbox(demo=False, generate=0, seed=5) as server:
        yield server


@pytest.fixture
def client(sb):
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        OfficialClient(endpoint=sb.endpoint, token=sb.token)
    yield
    set_client(None)  # pyright: ignore[reportArgumentType]


def test_account_info_names_the_user(sb):
    body = sb.api("GET", "account/info/").json()
    assert {"uid", "username", "email", "firstName", "lastName", "orgId", "tenantId"} <= set(body)
    assert body["email"] == body["username"]


def test_projects_is_a_plain_array_as_datarobot_answers(sb):
    body = sb.api("GET", "projects/").json()
    assert isinstance(body, list) and len(body) >= 2
    assert all({"id", "projectName", "target"} <= set(p) for p in body)
    one = sb.api("GET", f"projects/{body[0]['id']}/").json()
    assert one == body[0]


def test_lists_are_paginated_and_items_are_found_by_id(sb):
    for path, key in (("deployments/", "id"), ("datasets/", "datasetId"), ("useCases/", "id")):
        body = sb.api("GET", path).json()
        assert body["totalCount"] == body["count"] == len(body["data"]) >= 2, path
        assert body["next"] is None
        first = sb.api("GET", path, params={"limit": 1}).json()
        assert first["count"] == 1 and first["next"] is not None, path
        if path != "useCases/":
            one = sb.api("GET", f"{path}{body['data'][0][key]}/").json()
            assert one == body["data"][0]


def test_unknown_ids_and_paths_are_datarobot_404s(sb):
    for path in ("deployments/nope/", "datasets/nope/", "projects/nope/", "modelPackages/"):
        response = sb.api("GET", path)
        assert response.status_code == 404, path
        assert "message" in response.json()


def test_llm_catalog_entries_are_active_chat_models(sb):
    body = sb.api("GET", "genai/llmgw/catalog/").json()
    models = [entry["model"] for entry in body["data"]]
    assert "azure/gpt-5-1-2025-11-13" in models
    for entry in body["data"]:
        assert entry["isActive"] is True
        assert entry["availableLitellmEndpoints"]["supportsChatCompletions"] is True


@pytest.mark.parametrize("path", ["genai/llmgw/chat/completions", "genai/llmgw/chat/completions/"])
@pytest.mark.parametrize("model", ["azure/gpt-4o-mini", "datarobot/azure/gpt-4o-mini"])
def test_chat_completion_is_a_labelled_local_reply(sb, path, model):
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"}]
    body = sb.api("POST", path, json={"model": model, "messages": messages}).json()
    assert body["object"] == "chat.completion"
    assert body["model"] == "azure/gpt-4o-mini"
    choice = body["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": "[sandbox] local reply: hello"}
    assert choice["finish_reason"] == "stop"
    assert body["usage"]["total_tokens"] == (
        body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"]
    )


def test_chat_completion_streams_server_sent_events(sb):
    response = sb.api(
        "POST",
        "genai/llmgw/chat/completions/",
        json={"model": "azure/gpt-4o-mini", "stream": True,
              "messages": [{"role": "user", "content": "stream me please"}]},
    )  # fmt: skip
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    assert {chunk["object"] for chunk in chunks} == {"chat.completion.chunk"}
    text = "".join(chunk["choices"][0]["delta"].get("content", "") for chunk in chunks)
    assert text == "[sandbox] local reply: stream me please"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_chat_with_an_unknown_model_is_a_404_naming_the_catalog(sb):
    response = sb.api(
        "POST", "genai/llmgw/chat/completions",
        json={"model": "openai/made-up", "messages": []},
    )  # fmt: skip
    assert response.status_code == 404
    assert "not found" in response.json()["message"] and "catalog" in response.json()["message"]
    bad = sb.api("POST", "genai/llmgw/chat/completions", json={"model": 1})
    assert bad.status_code == 422


def test_the_official_client_reads_them(sb, client):
    projects = Project.list()
    assert {p.project_name for p in projects} >= {"Customer Churn", "Demand Forecast"}
    deployments = Deployment.list()
    assert {d.label for d in deployments} == {"Churn Predictor", "Demand Forecaster"}
    assert Deployment.get(deployments[0].id).label == deployments[0].label
    datasets = Dataset.list()
    assert {d.name for d in datasets} == {"customers.csv", "sales.csv"}
    assert Dataset.get(datasets[0].id).name == datasets[0].name
    assert {u.name for u in UseCase.list()} == {"Reduce customer churn", "Plan inventory"}
