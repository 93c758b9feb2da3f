"""The platform calls DataRobot's application templates make, answered with a little demo data.

DataRobot's own templates (``datarobot-oss/streamlit-app-base`` and friends) read the account,
projects, deployments, use cases, datasets and the LLM gateway's catalogue, and chat through the
LLM gateway. The sandbox answers in DataRobot's shapes (those the official ``datarobot`` client
and ``litellm`` read) from the fixed records here; a chat completion is a local, clearly
labelled reply, never a model's answer.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

CREATED = "2026-01-15T09:30:00.000000Z"
LOCAL_REPLY = "[sandbox] local reply: "
_USER_ID = "65f1c0ffee0000000000a001"
_ORG_ID = "65f1c0ffee0000000000b001"
_USER = {
    "id": _USER_ID,
    "fullName": "Sandbox User",
    "email": "sandbox@example.com",
    "userhash": None,
    "username": "sandbox@example.com",
}

ACCOUNT = {
    "uid": _USER_ID,
    "username": "sandbox@example.com",
    "email": "sandbox@example.com",
    "firstName": "Sandbox",
    "lastName": "User",
    "orgId": _ORG_ID,
    "tenantId": None,
    "limits": {"maxConcurrentWorkloads": 10, "maxWorkloadReplicas": 4},
}


def _project(ident: str, name: str, target: str, metric: str, use_case: str) -> dict[str, Any]:
    return {
        "id": ident,
        "projectName": name,
        "projectDescription": f"Demo project: {name} (sandbox data).",
        "created": CREATED,
        "fileName": f"{name.lower().replace(' ', '_')}.csv",
        "stage": "modeling",
        "target": target,
        "metric": metric,
        "autopilotMode": 0,
        "holdoutUnlocked": False,
        "useCaseId": use_case,
    }


_CASE_CHURN = "66a1000000000000000c0001"
_CASE_DEMAND = "66a1000000000000000c0002"

PROJECTS = (
    _project("66a1000000000000000a0001", "Customer Churn", "churned", "LogLoss", _CASE_CHURN),
    _project("66a1000000000000000a0002", "Demand Forecast", "units_sold", "RMSE", _CASE_DEMAND),
    _project("66a1000000000000000a0003", "Loan Default", "is_bad", "AUC", _CASE_CHURN),
)


def _deployment(ident: str, label: str, project: dict[str, Any], model: str) -> dict[str, Any]:
    health = {"status": "passing", "message": "", "startDate": CREATED, "endDate": None}
    return {
        "id": ident,
        "label": label,
        "description": f"Demo deployment of the {project['projectName']} model.",
        "status": "active",
        "importance": "MODERATE",
        "createdAt": CREATED,
        "defaultPredictionServer": None,
        "model": {
            "id": model,
            "type": "eXtreme Gradient Boosted Trees Classifier",
            "targetName": project["target"],
            "projectId": project["id"],
            "projectName": project["projectName"],
        },
        "modelPackage": {"id": model, "name": label, "registeredModelId": model},
        "predictionUsage": {"dailyRates": [0, 0, 0, 0, 0, 0, 0], "lastTimestamp": None},
        "permissions": ["CAN_VIEW", "CAN_MAKE_PREDICTIONS"],
        "serviceHealth": health,
        "modelHealth": health,
        "accuracyHealth": health,
        "tags": [],
        "capabilities": {"supportsChatApi": False},
    }


DEPLOYMENTS = (
    _deployment(
        "66a1000000000000000d0001", "Churn Predictor", PROJECTS[0], "66a1000000000000000e0001"
    ),
    _deployment(
        "66a1000000000000000d0002", "Demand Forecaster", PROJECTS[1], "66a1000000000000000e0002"
    ),
)


def _use_case(ident: str, name: str, projects: int, deployments: int) -> dict[str, Any]:
    return {
        "id": ident,
        "name": name,
        "description": f"Demo use case: {name}.",
        "createdAt": CREATED,
        "created": _USER,
        "updatedAt": CREATED,
        "updated": _USER,
        "modelsCount": deployments,
        "projectsCount": projects,
        "datasetsCount": 1,
        "filesCount": 0,
        "notebooksCount": 0,
        "applicationsCount": 0,
        "playgroundsCount": 0,
        "vectorDatabasesCount": 0,
        "members": [{**_USER, "role": "OWNER", "isOrganization": False}],
        "owners": [_USER],
    }


USE_CASES = (
    _use_case(_CASE_CHURN, "Reduce customer churn", 2, 1),
    _use_case(_CASE_DEMAND, "Plan inventory", 1, 1),
)


def _dataset(ident: str, version: str, name: str, rows: int, size: int) -> dict[str, Any]:
    return {
        "datasetId": ident,
        "versionId": version,
        "name": name,
        "categories": ["TRAINING"],
        "creationDate": CREATED,
        "createdBy": "sandbox@example.com",
        "dataPersisted": True,
        "datasetSize": size,
        "rowCount": rows,
        "sampleSize": {"type": "rows", "value": rows},
        "isDataEngineEligible": False,
        "isLatestVersion": True,
        "isSnapshot": True,
        "processingState": "COMPLETED",
        "timeSeriesProperties": {"isMostlyImputed": []},
    }


DATASETS = (
    _dataset("66a1000000000000000f0001", "66a1000000000000001f0001", "customers.csv", 7043, 977501),
    _dataset("66a1000000000000000f0002", "66a1000000000000001f0002", "sales.csv", 913000, 18260000),
)  # fmt: skip


def _llm(model: str, name: str, provider: str, creator: str, context: int) -> dict[str, Any]:
    return {
        "model": model,
        "llmId": model.split("/", 1)[-1],
        "name": name,
        "description": f"{name} (the sandbox answers with a local reply, not this model).",
        "provider": provider,
        "creator": creator,
        "contextSize": context,
        "maxCompletionTokens": 16384,
        "capabilities": ["chat"],
        "supportedLanguages": ["en"],
        "inputTypes": ["text"],
        "outputTypes": ["text"],
        "parameters": {},
        "documentationLink": None,
        "referenceLinks": [],
        "dateAdded": "2026-01-15",
        "license": "Commercial",
        "isPreview": False,
        "isMetered": True,
        "retirementDate": None,
        "suggestedReplacement": None,
        "isDeprecated": False,
        "isActive": True,
        "availableRegions": ["us"],
        "availableLitellmEndpoints": {"supportsChatCompletions": True, "supportsResponses": False},
    }


LLM_CATALOG = (
    _llm("azure/gpt-5-1-2025-11-13", "GPT-5.1", "azure", "openai", 400_000),
    _llm("azure/gpt-4o-mini", "GPT-4o mini", "azure", "openai", 128_000),
    _llm(
        "bedrock/anthropic.claude-sonnet-4-5", "Claude Sonnet 4.5", "bedrock", "anthropic", 200000
    ),
)


def by_id(records: tuple[dict[str, Any], ...], key: str, ident: str) -> dict[str, Any] | None:
    """The record whose ``key`` is ``ident``."""
    return next((record for record in records if record[key] == ident), None)


def catalog_entry(model: str) -> dict[str, Any] | None:
    """The catalogue entry of ``model`` (with or without litellm's ``datarobot/`` prefix)."""
    name = model.removeprefix("datarobot/")
    return next((e for e in LLM_CATALOG if name in (e["model"], e["llmId"])), None)


def local_reply(messages: Any) -> str:
    """The labelled local reply to a chat: it echoes the last user message."""
    last = ""
    for message in messages if isinstance(messages, list) else []:
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):  # OpenAI content parts
                content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
            last = str(content or "")
    return f"{LOCAL_REPLY}{last[:2000]}"


def completion(model: str, text: str, prompt_tokens: int) -> dict[str, Any]:
    """An OpenAI ``chat.completion`` carrying ``text``."""
    used = len(text.split())
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": used,
            "total_tokens": prompt_tokens + used,
        },
    }


def completion_chunks(model: str, text: str) -> list[dict[str, Any]]:
    """The same reply as OpenAI ``chat.completion.chunk`` events (role, words, stop)."""
    ident, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        return {
            "id": ident,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    words = text.split(" ")
    parts = [w if i == 0 else f" {w}" for i, w in enumerate(words)]
    return [
        chunk({"role": "assistant", "content": ""}, None),
        *(chunk({"content": part}, None) for part in parts),
        chunk({}, "stop"),
    ]


def prompt_tokens(messages: Any) -> int:
    """A rough token count of the prompt (words)."""
    if not isinstance(messages, list):
        return 0
    return sum(len(str(m.get("content", "")).split()) for m in messages if isinstance(m, dict))
