"""The API version and async jobs' status (``version/``, ``status/{id}/``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from dr_notebook.sandbox.api.routing import API, base_url, not_found, role
from dr_notebook.sandbox.api.state import ApplicationsDep, StoreDep
from dr_notebook.sandbox.service import sources as src
from dr_notebook.sandbox.store.applications import AppRecord

API_VERSION = {"major": 2, "minor": 49, "versionString": "2.49.0"}

#: ``version/`` (first in the OpenAPI document, as DataRobot lists it) and ``status/``.
version_router = APIRouter()
router = APIRouter()


@version_router.get(f"{API}/version/", tags=["meta"])
async def version() -> dict[str, Any]:
    """The API version (the official client checks it when it connects)."""
    return API_VERSION


@router.get(
    f"{API}/status/{{statusId}}/",
    tags=["status"],
    responses={303: {"description": "Done; the Location header points at the result."}},
)
async def job_status(
    store: StoreDep, applications: ApplicationsDep, request: Request, statusId: str
) -> Any:
    """An async job's state; 303 to the created source or application once it is done."""
    job = store.get_job(statusId)
    if job is None:
        record = applications.apps.by_status_id(statusId)
        error = None if record is None else applications.build_error(record, role(request))
        return _application_status(request, record, statusId, error)
    job = src.advance_job(store, job)
    body = src.status_body(job)
    if job["source_id"]:
        location = f"{base_url(request)}{API}/customApplicationSources/{job['source_id']}/"
        return JSONResponse(body, status_code=303, headers={"Location": location})
    return body


def first_error(build_error: object) -> str:
    """The job's one line for a failed application: the ``First error:`` its reason names,
    else the reason's first line."""
    text = str(build_error or "The application failed.")
    _, found, after = text.partition(" First error: ")
    line = after if found else text
    return line.splitlines()[0].strip()


def _application_status(
    request: Request, record: AppRecord | None, status_id: str, build_error: str | None
) -> Any:
    """An application's creation job: ``RUNNING`` while it builds and starts, done (303 to the
    application, as drapps expects) once it serves, ``ERROR`` with its first error line when
    it failed."""
    if record is None:
        raise not_found("status", status_id)
    if record.status != "running":
        failed = record.status == "failed"
        return {
            "statusId": status_id,
            "status": "ERROR" if failed else "RUNNING",
            "message": first_error(build_error) if failed
            else f"The application is {record.status}.",
            "code": 1 if failed else 0,
            "created": record.created_at,
            "description": f"Create custom application {record.id}",
            "statusType": "customApplication",
        }  # fmt: skip
    body = {
        "statusId": status_id,
        "status": "COMPLETED",
        "message": "Application created.",
        "code": 0,
        "created": record.created_at,
        "description": f"Create custom application {record.id}",
        "statusType": "customApplication",
    }
    location = f"{base_url(request)}{API}/customApplications/{record.id}/"
    return JSONResponse(body, status_code=303, headers={"Location": location})
