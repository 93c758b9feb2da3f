"""Routes of custom applications (``customApplications/``) and their pages."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from dr_notebook.sandbox.api.errors import ApiError, field_errors
from dr_notebook.sandbox.api.forms import read_template_body
from dr_notebook.sandbox.api.openapi import APPLICATION_CREATE_BODY, APPLICATION_PATCH_BODY
from dr_notebook.sandbox.api.routing import (
    API,
    Limit,
    Offset,
    Text,
    allow,
    base_url,
    not_found,
    page,
)
from dr_notebook.sandbox.api.routing import role as role_of
from dr_notebook.sandbox.api.state import ApplicationsDep
from dr_notebook.sandbox.service.applications import (
    Applications,
    entrypoint_problem,
    history_entries,
    root_path_mode,
)
from dr_notebook.sandbox.service.validation import unstorable
from dr_notebook.sandbox.service.versions import parse_resources
from dr_notebook.sandbox.store.applications import AppRecord

APPS = f"{API}/customApplications"
AppOrder = Literal["name", "-name", "createdAt", "-createdAt", "updatedAt", "-updatedAt"]
EDITORS = ("admin", "user")
MAX_RECIPIENTS = 100


router = APIRouter(tags=["customApplications"])


def app_or_404(applications: Applications, app_id: str) -> AppRecord:
    record = applications.apps.get(app_id)
    if record is None:
        raise not_found("custom application", app_id)
    return record


def changeable(applications: Applications, app_id: str, who: str) -> AppRecord:
    record = app_or_404(applications, app_id)
    if not applications.may_change(record, who):
        raise ApiError(403, f"Forbidden: the {who} role can change only the applications it owns.")
    return record


def output_readable(applications: Applications, app_id: str, who: str) -> AppRecord:
    record = app_or_404(applications, app_id)
    if not applications.may_read_output(record, who):
        raise ApiError(403, "Forbidden: only the application's owner and admins read its output.")
    return record


def view(applications: Applications, record: AppRecord | None, who: str) -> dict[str, Any]:
    if record is None:  # deleted while it was being changed
        raise not_found("custom application", "")
    return applications.view(record, who)


def runnable_version(
    applications: Applications,
    source_id: str | None,
    version_id: str | None,
    field: str,
    owner: str,
) -> dict[str, Any]:
    """The version an application owned by ``owner`` (a role) may run; 404, 422 or 403."""
    if version_id is None:
        assert source_id is not None
        if applications.sources.get_source(source_id) is None:
            raise not_found("custom application source", source_id)
        version_id = applications.sources.latest_version_id(source_id)
        if version_id is None:
            raise ApiError(422, "The source has no version.", {field: "no version"})
    version = applications.sources.find_version(version_id)
    if version is None:
        raise not_found("custom application source version", version_id)
    problem = entrypoint_problem(applications.sources, version_id)
    if problem:
        raise ApiError(422, problem, {field: problem})
    problem = applications.credential_problem(version, owner)
    if problem:
        raise ApiError(403, problem, {field: "credentials of another user"})
    return version


@router.post(
    f"{APPS}/",
    status_code=202,
    responses={202: {"description": "Building; poll the Location header."}},
    openapi_extra={"requestBody": APPLICATION_CREATE_BODY},
)
async def create_application(
    applications: ApplicationsDep, request: Request, who: str = allow(*EDITORS)
) -> JSONResponse:
    """Build an application from a source (its latest version) or a source version."""
    fields, _ = await read_template_body(request)
    chosen = [k for k in ("applicationSourceId", "applicationSourceVersionId") if fields.get(k)]
    errors: dict[str, str] = {}
    if len(chosen) != 1:
        key = "environmentId" if fields.get("environmentId") else "applicationSourceId"
        errors[key] = (
            "send exactly one of applicationSourceId and applicationSourceVersionId "
            "(the sandbox builds applications from sources)"
        )
    for key in chosen:
        if not isinstance(fields[key], str) or len(fields[key]) > 64:
            errors[key] = "must be an id"
    name = fields.get("name")
    if name is not None and (not _is_name(name)):
        errors["name"] = "must be a non-blank string of at most 255 characters"
    resources, problem = parse_resources(fields.get("resources"))
    if problem:
        errors["resources"] = problem
    env_version = fields.get("envVersionId")
    if env_version is not None and not _is_name(env_version):
        errors["envVersionId"] = "must be an id"
    if errors:
        raise field_errors(errors, "Invalid application")
    key = chosen[0]
    version = runnable_version(
        applications,
        fields[key] if key == "applicationSourceId" else None,
        fields[key] if key == "applicationSourceVersionId" else None,
        key,
        who,
    )
    if name is None:
        source = applications.sources.get_source(version["sourceId"])
        name = source["name"] if source else "Application"
    settings = {"resources": resources, "envVersionId": env_version}
    record = await run_in_threadpool(applications.create, name.strip(), version, who, settings)
    location = f"{base_url(request)}{API}/status/{record.status_id}/"
    return JSONResponse(
        applications.view(record, who), status_code=202, headers={"Location": location}
    )


@router.get(f"{APPS}/")
async def list_applications(
    applications: ApplicationsDep,
    request: Request,
    offset: Offset = 0,
    limit: Limit = 100,
    orderBy: AppOrder | None = None,
    name: Text = None,
    customApplicationSourceId: Text = None,
    status: Text = None,
) -> dict[str, Any]:
    """A page of applications, filtered by name, source and status."""
    records, total = applications.apps.list(
        name=name,
        source_id=customApplicationSourceId,
        status=status,
        order_by=orderBy,
        offset=offset,
        limit=limit,
    )
    who = role_of(request)
    return page(request, [applications.view(r, who) for r in records], total, offset, limit)


@router.get(f"{APPS}/nameCheck/")
async def name_check(applications: ApplicationsDep, name: Text = None) -> dict[str, bool]:
    """Whether an application already has this name."""
    if not name:
        raise field_errors({"name": "this query parameter is required"})
    return {"inUse": applications.apps.name_in_use(name)}


@router.get(f"{APPS}/{{applicationId}}/")
async def get_application(
    applications: ApplicationsDep, request: Request, applicationId: str
) -> dict[str, Any]:
    """One application."""
    return applications.view(app_or_404(applications, applicationId), role_of(request))


@router.patch(f"{APPS}/{{applicationId}}/", openapi_extra={"requestBody": APPLICATION_PATCH_BODY})
async def update_application(
    applications: ApplicationsDep, request: Request, applicationId: str, who: str = allow(*EDITORS)
) -> dict[str, Any]:
    """Rename, change access settings, or restart on another source version."""
    record = changeable(applications, applicationId, who)
    root_before = root_path_mode(record)
    fields, _ = await read_template_body(request)
    errors = _apply_settings(record, fields)
    version_id = fields.get("customApplicationSourceVersionId")
    if version_id is not None and (not isinstance(version_id, str) or len(version_id) > 64):
        errors["customApplicationSourceVersionId"] = "must be a version id"
    if errors:
        raise field_errors(errors, "Invalid application change")
    changed = [k for k in _SETTINGS if k in fields] + (["name"] if "name" in fields else [])
    if version_id is None and not changed:
        raise ApiError(422, "Nothing to update: send a field to change.", {"body": "empty"})
    if changed:
        await run_in_threadpool(
            applications.change_settings, applicationId, lambda r: _apply_settings(r, fields)
        )
    # The path mode changes SCRIPT_NAME: a live app restarts on its version to get it.
    live = record.status in ("building", "running")
    if version_id is None and live and root_path_mode(record) != root_before:
        version_id = record.version_id
    if version_id is not None:
        version = runnable_version(
            applications, None, version_id, "customApplicationSourceVersionId", record.role
        )
        await run_in_threadpool(applications.restart, applicationId, version)
    return view(applications, applications.apps.get(applicationId), who)


@router.delete(f"{APPS}/{{applicationId}}/", status_code=204)
async def delete_application(
    applications: ApplicationsDep, applicationId: str, who: str = allow(*EDITORS)
) -> Response:
    """Stop the application's processes and delete it."""
    changeable(applications, applicationId, who)
    await run_in_threadpool(applications.delete, applicationId)
    return Response(status_code=204)


@router.post(f"{APPS}/{{applicationId}}/start/", status_code=202)
async def start_application(
    applications: ApplicationsDep, request: Request, applicationId: str, who: str = allow(*EDITORS)
) -> dict[str, Any]:
    """Start a stopped or failed application again on its version."""
    record = changeable(applications, applicationId, who)
    version = runnable_version(
        applications, None, record.version_id, "customApplicationSourceVersionId", record.role
    )
    return view(
        applications, await run_in_threadpool(applications.restart, applicationId, version), who
    )


@router.post(f"{APPS}/{{applicationId}}/stop/", status_code=202)
async def stop_application(
    applications: ApplicationsDep, applicationId: str, who: str = allow(*EDITORS)
) -> dict[str, Any]:
    """Stop the application's processes; it shows ``stopped``."""
    changeable(applications, applicationId, who)
    return view(applications, await run_in_threadpool(applications.stop, applicationId), who)


@router.get(f"{APPS}/{{applicationId}}/logs/")
async def application_logs(
    applications: ApplicationsDep, request: Request, applicationId: str
) -> dict[str, Any]:
    """The last lines of the app's output (at most 1000, 1 MiB), build log, status, error.

    Owner and admins only."""
    return applications.logs(output_readable(applications, applicationId, role_of(request)))


@router.get(f"{APPS}/{{applicationId}}/history/")
async def application_history(
    applications: ApplicationsDep,
    request: Request,
    applicationId: str,
    offset: Offset = 0,
    limit: Limit = 100,
) -> dict[str, Any]:
    """The versions the application has run, one entry per start, newest first.

    Owner and admins only."""
    entries = history_entries(output_readable(applications, applicationId, role_of(request)))
    return page(request, entries[offset : offset + limit], len(entries), offset, limit)


_SETTINGS = ("externalAccessEnabled", "externalAccessRecipients", "allowAutoStopping", "resources")


def _apply_settings(record: AppRecord, fields: dict[str, Any]) -> dict[str, str]:
    """Set the settings ``fields`` holds on ``record``; the field errors."""
    errors: dict[str, str] = {}
    if "name" in fields:
        if _is_name(fields["name"]):
            record.name = fields["name"].strip()
        else:
            errors["name"] = "must be a non-blank string of at most 255 characters"
    for key in ("externalAccessEnabled", "allowAutoStopping"):
        if key in fields:
            if isinstance(fields[key], bool):
                record.body["fields"][key] = fields[key]
            else:
                errors[key] = "must be true or false"
    if "resources" in fields:
        resources, problem = parse_resources(fields["resources"])
        if problem:
            errors["resources"] = problem
        elif resources:
            fields_now = record.body["fields"]
            fields_now["resources"] = {**(fields_now.get("resources") or {}), **resources}
    if "externalAccessRecipients" in fields:
        value = fields["externalAccessRecipients"]
        if (
            isinstance(value, list)
            and len(value) <= MAX_RECIPIENTS
            and all(isinstance(v, str) and 0 < len(v) <= 320 and not unstorable(v) for v in value)
        ):
            record.body["fields"]["externalAccessRecipients"] = list(dict.fromkeys(value))
        else:
            errors["externalAccessRecipients"] = (
                f"must be a list of at most {MAX_RECIPIENTS} email addresses"
            )
    return errors


def _is_name(value: Any) -> bool:
    return (
        isinstance(value, str)
        and bool(value.strip())
        and len(value) <= 255
        and not unstorable(value)
    )
