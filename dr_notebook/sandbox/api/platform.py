"""Routes of the platform calls applications make (account, projects, deployments, use cases,
datasets, the LLM gateway), answered in DataRobot's shapes from the demo data of
``service/platform.py``. Read-only; a chat completion is a labelled local reply."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, NoReturn

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from dr_notebook.sandbox.api.errors import ApiError
from dr_notebook.sandbox.api.routing import API, Limit, Offset, Text, not_found, page
from dr_notebook.sandbox.service import platform as demo

router = APIRouter(tags=["platform"])
CHAT = f"{API}/genai/llmgw/chat/completions"


def _page(request: Request, records: list[dict[str, Any]], offset: int, limit: int) -> Any:
    return page(request, records[offset : offset + limit], len(records), offset, limit)


@router.get(f"{API}/account/info/")
async def account_info() -> dict[str, Any]:
    """The caller's account (a fixed demo user)."""
    return demo.ACCOUNT


@router.get(f"{API}/projects/")
async def list_projects(projectName: Text = None) -> list[dict[str, Any]]:
    """Projects: a plain JSON array, as DataRobot answers ``projects/`` (no envelope)."""
    wanted = (projectName or "").lower()
    return [p for p in demo.PROJECTS if wanted in p["projectName"].lower()]


@router.get(f"{API}/projects/{{projectId}}/")
async def get_project(projectId: str) -> dict[str, Any]:
    """One project."""
    return demo.by_id(demo.PROJECTS, "id", projectId) or _missing("project", projectId)


@router.get(f"{API}/deployments/")
async def list_deployments(
    request: Request, offset: Offset = 0, limit: Limit = 20, search: Text = None
) -> dict[str, Any]:
    """Deployments (paginated), filtered by label (``search``)."""
    wanted = (search or "").lower()
    found = [d for d in demo.DEPLOYMENTS if wanted in d["label"].lower()]
    return _page(request, found, offset, limit)


@router.get(f"{API}/deployments/{{deploymentId}}/")
async def get_deployment(deploymentId: str) -> dict[str, Any]:
    """One deployment."""
    return demo.by_id(demo.DEPLOYMENTS, "id", deploymentId) or _missing("deployment", deploymentId)


@router.get(f"{API}/useCases/")
async def list_use_cases(
    request: Request, offset: Offset = 0, limit: Limit = 100, search: Text = None
) -> dict[str, Any]:
    """Use cases (paginated), filtered by name (``search``)."""
    wanted = (search or "").lower()
    found = [u for u in demo.USE_CASES if wanted in u["name"].lower()]
    return _page(request, found, offset, limit)


@router.get(f"{API}/datasets/")
async def list_datasets(request: Request, offset: Offset = 0, limit: Limit = 100) -> dict[str, Any]:
    """Datasets (paginated)."""
    return _page(request, list(demo.DATASETS), offset, limit)


@router.get(f"{API}/datasets/{{datasetId}}/")
async def get_dataset(datasetId: str) -> dict[str, Any]:
    """One dataset (its latest version)."""
    return demo.by_id(demo.DATASETS, "datasetId", datasetId) or _missing("dataset", datasetId)


@router.get(f"{API}/genai/llmgw/catalog/")
async def llm_catalog(
    request: Request, offset: Offset = 0, limit: Limit = 100, llmId: Text = None
) -> dict[str, Any]:
    """The LLM gateway's catalogue: the models a chat completion accepts."""
    found = [e for e in demo.LLM_CATALOG if llmId in (None, "", e["llmId"], e["model"])]
    return _page(request, found, offset, limit)


class ChatRequest(BaseModel):
    """An OpenAI-compatible chat completion request (other OpenAI fields are accepted)."""

    model_config = ConfigDict(extra="allow")
    model: str = Field(max_length=500)
    messages: list[dict[str, Any]] = Field(max_length=1000)
    stream: bool = False


@router.post(CHAT, responses={200: {"content": {"text/event-stream": {}}}})
@router.post(f"{CHAT}/", include_in_schema=False)
async def chat_completion(body: ChatRequest) -> Any:
    """A chat completion through the LLM gateway: a local reply labelled as the sandbox's."""
    entry = demo.catalog_entry(body.model)
    if entry is None:
        message = (
            f"Model {body.model!r} not found in the LLM gateway catalog (genai/llmgw/catalog/)."
        )
        raise ApiError(404, message)
    text = demo.local_reply(body.messages)
    if not body.stream:
        return demo.completion(entry["model"], text, demo.prompt_tokens(body.messages))

    def events() -> Iterator[str]:
        for chunk in demo.completion_chunks(entry["model"], text):
            yield f"data: {json.dumps(chunk)}\n\n"
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


def _missing(what: str, ident: str) -> NoReturn:
    raise not_found(what, ident)
