"""Routes of execution environments (``executionEnvironments/``): read-only, as DataRobot's."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from dr_notebook.sandbox.api.routing import API, Limit, Offset, Text, not_found, page
from dr_notebook.sandbox.service.environments import ExecutionEnvironment, environments, find

ENVIRONMENTS = f"{API}/executionEnvironments"
USE_CASE = "customApplication"


router = APIRouter(tags=["executionEnvironments"])


def environment_or_404(environment_id: str) -> ExecutionEnvironment:
    environment = find(environment_id)
    if environment is None or environment.id != environment_id:
        raise not_found("execution environment", environment_id)
    return environment


@router.get(f"{ENVIRONMENTS}/")
async def list_environments(
    request: Request,
    offset: Offset = 0,
    limit: Limit = 100,
    searchFor: Text = None,
    search_for: Text = None,
    useCases: Text = None,
    use_cases: Text = None,
) -> dict[str, Any]:
    """Environments, filtered by name (``searchFor``) and use case (``useCases``)."""
    wanted = (searchFor or search_for or "").lower()
    use_case = useCases or use_cases
    found = [
        environment.to_json()
        for environment in environments()
        if wanted in environment.name.lower() and use_case in (None, "", USE_CASE)
    ]
    return page(request, found[offset : offset + limit], len(found), offset, limit)


@router.get(f"{ENVIRONMENTS}/{{environmentId}}/")
async def get_environment(environmentId: str) -> dict[str, Any]:
    """One environment, with its latest version."""
    return environment_or_404(environmentId).to_json()


@router.get(f"{ENVIRONMENTS}/{{environmentId}}/versions/")
async def list_versions(
    request: Request,
    environmentId: str,
    offset: Offset = 0,
    limit: Limit = 100,
    buildStatus: Text = None,
    build_status: Text = None,
) -> dict[str, Any]:
    """The environment's versions (one: its build always succeeded)."""
    version = environment_or_404(environmentId).version_json()
    status = buildStatus or build_status
    found = [version] if status in (None, "", version["buildStatus"]) else []
    return page(request, found[offset : offset + limit], len(found), offset, limit)


@router.get(f"{ENVIRONMENTS}/{{environmentId}}/versions/{{versionId}}/")
async def get_version(environmentId: str, versionId: str) -> dict[str, Any]:
    """One version of the environment."""
    environment = environment_or_404(environmentId)
    if versionId != environment.version_id:
        raise not_found("version of this execution environment", versionId)
    return environment.version_json()


@router.get(f"{ENVIRONMENTS}/{{environmentId}}/versions/{{versionId}}/buildLog/")
async def get_build_log(environmentId: str, versionId: str) -> dict[str, Any]:
    """The version's image build log: there is none, the environment is this machine's."""
    environment = environment_or_404(environmentId)
    if versionId != environment.version_id:
        raise not_found("version of this execution environment", versionId)
    return {"log": f"Python {environment.python_version}: {environment.python}", "error": ""}
