"""Routes of application sources and their versions (``customApplicationSources/``)."""

from __future__ import annotations

import json
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from dr_notebook.sandbox.api.errors import ApiError, field_errors
from dr_notebook.sandbox.api.forms import read_template_body, read_version_body
from dr_notebook.sandbox.api.openapi import SOURCE_BODY, VERSION_CREATE_BODY, VERSION_PATCH_BODY
from dr_notebook.sandbox.api.routing import (
    API,
    Limit,
    Offset,
    Text,
    allow,
    base_url,
    not_found,
    page,
    role,
)
from dr_notebook.sandbox.api.state import BehaviourDep, SourcesDep, StoreDep
from dr_notebook.sandbox.service import sources as src
from dr_notebook.sandbox.service.permissions import can_write
from dr_notebook.sandbox.service.validation import unstorable
from dr_notebook.sandbox.service.versions import (
    VALUE_FIELDS,
    new_version,
    parse_label,
    version_settings,
)
from dr_notebook.sandbox.store.sources import (
    ParameterChange,
    SourceStore,
    VersionFrozen,
    VersionProblem,
)

SourceOrder = Literal["name", "-name", "createdAt", "-createdAt", "updatedAt", "-updatedAt"]
SOURCES = f"{API}/customApplicationSources"
VERSION = f"{SOURCES}/{{sourceId}}/versions/{{versionId}}/"
FROZEN = "This version is frozen: an application was built from it. Create a new version (baseVersion copies this one) and change that."  # noqa: E501
EDITORS = ("admin", "user")


class FromTemplate(BaseModel):
    """Body of ``POST customApplicationSources/fromCustomTemplate/``."""

    model_config = ConfigDict(extra="allow")
    customTemplateId: str = Field(min_length=1, max_length=255)


router = APIRouter(tags=["customApplicationSources"])


def source_or_404(sources: SourceStore, source_id: str) -> dict[str, Any]:
    source = sources.get_source(source_id)
    if source is None:
        raise not_found("custom application source", source_id)
    return source


def owned(sources: SourceStore, source_id: str, who: str) -> dict[str, Any]:
    """The source, if ``who`` may change it and write into its versions (else 403)."""
    source = source_or_404(sources, source_id)
    if not can_write(who, source.get("userId")):
        raise ApiError(403, f"Forbidden: the {who} role can change only the sources it owns.")
    return source


@router.post(
    f"{SOURCES}/fromCustomTemplate/",
    responses={202: {"description": "Started; poll the Location header."}},
)
async def source_from_template(
    sources: SourcesDep,
    store: StoreDep,
    behaviour: BehaviourDep,
    request: Request,
    body: FromTemplate,
    who: str = allow(*EDITORS),
) -> Any:
    """Create an application source from an application template (sync or async)."""
    template = store.get_template(body.customTemplateId)
    if template is None:
        raise not_found("custom template", body.customTemplateId)
    problem = src.why_not_creatable(template)
    if problem:
        raise ApiError(422, problem, {"customTemplateId": problem})
    if behaviour.async_sources:
        job = src.new_job(template["id"], who, behaviour.async_delay_ms, behaviour.async_outcome)
        store.insert_job(job)
        location = f"{base_url(request)}{API}/status/{job['id']}/"
        return JSONResponse(src.status_body(job), status_code=202, headers={"Location": location})
    created = await run_in_threadpool(src.create_source, sources, template, who)
    return src.with_permissions(created, who)


@router.post(f"{SOURCES}/", status_code=201, openapi_extra={"requestBody": SOURCE_BODY})
async def create_source(
    sources: SourcesDep, request: Request, who: str = allow(*EDITORS)
) -> dict[str, Any]:
    """Create an empty application source (its first version holds no files)."""
    fields, _ = await read_template_body(request)
    name = _name(fields, required=True)
    assert name is not None
    return src.with_permissions(src.create_empty_source(sources, name, who), who)


@router.get(f"{SOURCES}/")
async def list_sources(
    sources: SourcesDep,
    request: Request,
    offset: Offset = 0,
    limit: Limit = 100,
    orderBy: SourceOrder | None = None,
    name: Text = None,
) -> dict[str, Any]:
    """A page of application sources."""
    data, total = sources.list_sources(name, orderBy, offset, limit)
    who = role(request)
    return page(request, [src.with_permissions(s, who) for s in data], total, offset, limit)


@router.get(f"{SOURCES}/{{sourceId}}/")
async def get_source(sources: SourcesDep, request: Request, sourceId: str) -> dict[str, Any]:
    """One application source, with the caller's permissions."""
    return src.with_permissions(source_or_404(sources, sourceId), role(request))


@router.patch(f"{SOURCES}/{{sourceId}}/", openapi_extra={"requestBody": SOURCE_BODY})
async def update_source(
    sources: SourcesDep, request: Request, sourceId: str, who: str = allow(*EDITORS)
) -> dict[str, Any]:
    """Rename a source, or set the resources of its latest version."""
    source = owned(sources, sourceId, who)
    fields, _ = await read_template_body(request)
    name = _name(fields, required=False)
    settings, errors = version_settings({k: v for k, v in fields.items() if k == "resources"})
    if errors:
        raise field_errors(errors, "Invalid source")
    if name is None and not settings:
        raise ApiError(422, "Nothing to update: send name or resources.")
    if settings:
        _change_version(sources, sourceId, source["latestVersion"]["id"], settings)
    if name is not None:
        sources.rename_source(sourceId, name)
    return src.with_permissions(source_or_404(sources, sourceId), who)


@router.delete(f"{SOURCES}/{{sourceId}}/", status_code=204)
async def delete_source(sources: SourcesDep, sourceId: str, who: str = allow(*EDITORS)) -> Response:
    """Delete a source and its versions (applications built from it keep running)."""
    owned(sources, sourceId, who)
    if not sources.delete_source(sourceId):
        raise not_found("custom application source", sourceId)
    return Response(status_code=204)


# -- versions -------------------------------------------------------------------------
@router.get(f"{SOURCES}/{{sourceId}}/versions/")
async def list_versions(
    sources: SourcesDep, request: Request, sourceId: str, offset: Offset = 0, limit: Limit = 100
) -> dict[str, Any]:
    """A page of the source's versions, newest first."""
    source_or_404(sources, sourceId)
    data, total = sources.list_versions(sourceId, offset, limit)
    return page(request, data, total, offset, limit)


@router.post(
    f"{SOURCES}/{{sourceId}}/versions/",
    status_code=201,
    openapi_extra={"requestBody": VERSION_CREATE_BODY},
)
async def create_version(
    sources: SourcesDep, request: Request, sourceId: str, who: str = allow(*EDITORS)
) -> dict[str, Any]:
    """A new version: empty, or a copy of ``baseVersion``'s files and settings."""
    owned(sources, sourceId, who)
    fields, _ = await read_template_body(request)
    label, problem = parse_label(fields.get("label"))
    settings, errors = version_settings(fields)
    if problem:
        errors["label"] = problem
    base_id = fields.get("baseVersion")
    if base_id is not None and not isinstance(base_id, str):
        errors["baseVersion"] = "must be a version id"
    if errors:
        raise field_errors(errors, "Invalid version")
    base = None
    if base_id is not None:
        base = sources.get_version(sourceId, base_id)
        if base is None:
            raise not_found("version of this source", base_id)
        base = {**base, "runtimeParameterValues": sources.parameter_values(base_id)}
    count = sources.list_versions(sourceId, 0, 1)[1]
    version = new_version(src.user_of(who), label or f"v{count + 1}", base)
    values = _take_values(settings)
    version.update(settings)
    try:
        created = await run_in_threadpool(
            sources.create_version,
            sourceId,
            version,
            None if base is None else base["id"],
            values,
        )
    except VersionProblem as exc:
        raise ApiError(422, f"Invalid version: {exc}", {exc.field: str(exc)}) from None
    if created is None:
        raise not_found("custom application source", sourceId)
    return created


@router.get(VERSION)
async def get_version(sources: SourcesDep, sourceId: str, versionId: str) -> dict[str, Any]:
    """One version: its settings and its items."""
    source_or_404(sources, sourceId)
    version = sources.get_version(sourceId, versionId)
    if version is None:
        raise not_found("version of this source", versionId)
    return version


@router.patch(VERSION, openapi_extra={"requestBody": VERSION_PATCH_BODY})
async def update_version(
    sources: SourcesDep, request: Request, sourceId: str, versionId: str, who: str = allow(*EDITORS)
) -> dict[str, Any]:
    """Add or replace files (multipart ``file`` + ``filePath``), delete items, settings."""
    owned(sources, sourceId, who)
    body = await read_version_body(request)
    settings, errors = version_settings(body.fields)
    errors.update(body.errors)
    delete_ids = _ids(body.fields.get("filesToDelete"), errors)
    if body.fields.get("file") == "(content)":
        errors["file"] = "files are sent as multipart/form-data parts with their filePath"
    if not errors and not (settings or body.files or delete_ids):
        raise ApiError(
            422, "Nothing to update: send files, filesToDelete or settings.", {"body": "empty"}
        )
    if errors:
        raise field_errors(errors, "Invalid version change")
    values = _take_values(settings)
    return await run_in_threadpool(
        _change_version, sources, sourceId, versionId, settings, body.files, delete_ids, values
    )


@router.delete(VERSION, status_code=204)
async def delete_version(
    sources: SourcesDep, sourceId: str, versionId: str, who: str = allow(*EDITORS)
) -> Response:
    """Delete a version that no application was built from."""
    owned(sources, sourceId, who)
    try:
        deleted = sources.delete_version(sourceId, versionId)
    except VersionFrozen:
        raise ApiError(422, FROZEN, {"versionId": "frozen"}) from None
    except VersionProblem as exc:
        raise ApiError(422, f"Cannot delete: {exc}", {exc.field: str(exc)}) from None
    if not deleted:
        raise not_found("version of this source", versionId)
    return Response(status_code=204)


@router.get(f"{VERSION}items/{{itemId}}/")
async def get_item(
    sources: SourcesDep, sourceId: str, versionId: str, itemId: str
) -> dict[str, Any]:
    """One file of a version, with its content."""
    source_or_404(sources, sourceId)
    item = sources.get_item(sourceId, versionId, itemId)
    if item is None:
        raise not_found("item of this version", itemId)
    return item


def _change_version(
    sources: SourceStore,
    source_id: str,
    version_id: str,
    settings: dict[str, Any],
    files: list[tuple[str, bytes]] | None = None,
    delete_ids: list[str] | None = None,
    values: ParameterChange | None = None,
) -> dict[str, Any]:
    try:
        changed = sources.update_version(
            source_id, version_id, settings, files or [], delete_ids or [], values
        )
    except VersionFrozen:
        raise ApiError(422, FROZEN, {"versionId": "frozen"}) from None
    except VersionProblem as exc:
        raise ApiError(422, f"Invalid version change: {exc}", {exc.field: str(exc)}) from None
    if changed is None:
        raise not_found("version of this source", version_id)
    return changed


def _name(fields: dict[str, Any], required: bool) -> str | None:
    raw = fields.get("name")
    if raw is None and not required:
        return None
    if not isinstance(raw, str) or not raw.strip() or len(raw) > 255 or unstorable(raw):
        raise field_errors({"name": "must be a non-blank string of at most 255 characters"})
    return raw.strip()


def _ids(raw: Any, errors: dict[str, str]) -> list[str]:
    """``filesToDelete``: a list of item ids (or its JSON text, from a form)."""
    if raw is None:
        return []
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.strip().startswith("[") else [raw]
        except ValueError:
            raw = None
    if not isinstance(raw, list) or not all(isinstance(i, str) and len(i) <= 64 for i in raw):
        errors["filesToDelete"] = "must be a list of item ids"
        return []
    return list(dict.fromkeys(raw))[:1000]


def _take_values(settings: dict[str, Any]) -> ParameterChange | None:
    """Runtime parameter values out of ``settings`` (either form; the newer one wins)."""
    change = None
    for key in VALUE_FIELDS:
        if key in settings:
            change = (key, settings.pop(key))
    return change
