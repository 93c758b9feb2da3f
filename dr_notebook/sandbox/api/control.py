"""The sandbox's own control API (``/_sandbox/``; admin token, checked by the middleware)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from dr_notebook.sandbox.api.errors import field_errors
from dr_notebook.sandbox.api.state import BehaviourDep, StatsDep

router = APIRouter(prefix="/_sandbox", tags=["sandbox"])


@router.get("/stats/")
async def get_stats(stats: StatsDep) -> dict[str, Any]:
    """Requests seen under /api/v2 since the last reset."""
    return stats.snapshot()


@router.post("/stats/reset/")
async def reset_stats(stats: StatsDep) -> dict[str, Any]:
    """Forget the request statistics."""
    stats.reset()
    return stats.snapshot()


@router.get("/config/")
async def get_config(behaviour: BehaviourDep) -> dict[str, Any]:
    """The sandbox's behaviour settings (latency, faults, async sources, app starts)."""
    return behaviour.as_dict()


@router.put("/config/")
async def put_config(behaviour: BehaviourDep, changes: dict[str, Any]) -> dict[str, Any]:
    """Change latency, faults and async behaviour while the server runs."""
    errors = behaviour.update(changes)
    if errors:
        raise field_errors(errors, "Invalid sandbox configuration")
    return behaviour.as_dict()
