"""Routes of custom templates (``customTemplates/``): list, read, and (admin) write."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from dr_notebook.sandbox.api.errors import ApiError, field_errors
from dr_notebook.sandbox.api.forms import Upload, read_template_body
from dr_notebook.sandbox.api.openapi import template_form_body
from dr_notebook.sandbox.api.routing import (
    API,
    Limit,
    Offset,
    Text,
    allow,
    base_url,
    not_found,
    page,
    spliced_page,
)
from dr_notebook.sandbox.api.state import StoreDep
from dr_notebook.sandbox.service.uploads import UploadError, unpack
from dr_notebook.sandbox.service.validation import normalize_metadata, validate_template_fields
from dr_notebook.sandbox.store.database import NewTemplate, Store, TemplateQuery

TEMPLATES = f"{API}/customTemplates"
TemplateOrder = Literal[
    "name", "-name", "createdAt", "-createdAt",
    "templateType", "-templateType", "templateSubType", "-templateSubType",
]  # fmt: skip

router = APIRouter(tags=["customTemplates"])


@router.get(f"{TEMPLATES}/")
async def list_templates(
    store: StoreDep,
    request: Request,
    offset: Offset = 0,
    limit: Limit = 100,
    orderBy: TemplateOrder | None = None,
    search: Text = None,
    tag: Text = None,
    templateType: Text = None,
    templateSubType: Text = None,
    publisher: Text = None,
    category: Text = None,
) -> Response:
    """A page of custom templates, filtered and ordered."""
    query = TemplateQuery(
        search=search,
        tag=tag,
        template_type=templateType,
        template_sub_type=templateSubType,
        publisher=publisher,
        category=category,
        order_by=orderBy,
        offset=offset,
        limit=limit,
    )
    bodies, total = store.list_template_bodies(query)
    envelope = page(request, [], total, offset, limit, count=len(bodies))
    del envelope["data"]
    return Response(spliced_page(envelope, bodies), media_type="application/json")


@router.post(
    f"{TEMPLATES}/",
    status_code=201,
    openapi_extra={"requestBody": template_form_body(required=("name", "description",
                   "templateType", "templateSubType", "defaultEnvironment", "file"))},
    dependencies=[allow("admin")],
)  # fmt: skip
async def create_template(store: StoreDep, request: Request) -> JSONResponse:
    """Create a custom template from form fields and uploaded content."""
    fields, upload = await read_template_body(request)
    values, errors = validate_template_fields(fields, partial=False)
    files: list[tuple[str, bytes]] = []
    if upload is None:
        errors["file"] = "this field is required: the template content (zip, tar.gz or file)"
    else:
        try:
            files = await _unpack(upload)
        except UploadError as exc:
            errors["file"] = str(exc)
    if errors:
        raise field_errors(errors, "Invalid template")
    metadata = values.get("templateMetadata") or normalize_metadata({})
    if metadata.get("readme") is None:
        readme = next((c for n, c in files if n.lower() == "readme.md"), None)
        if readme is not None and len(readme) <= 1_048_576:
            metadata["readme"] = readme.decode("utf-8", errors="replace")
    template = NewTemplate(
        name=values["name"],
        description=values["description"],
        template_type=values["templateType"],
        template_sub_type=values["templateSubType"],
        enabled=values.get("enabled", True),
        default_resource_bundle_id=values.get("defaultResourceBundleId"),
        default_environment=values["defaultEnvironment"],
        template_metadata=metadata,
        publisher=values.get("publisher") or None,
        category=values.get("category") or None,
        files=files,
    )
    await run_in_threadpool(store.insert_templates, [template])
    location = f"{base_url(request)}{TEMPLATES}/{template.id}/"
    return JSONResponse(
        {"customTemplateId": template.id}, status_code=201, headers={"Location": location}
    )


@router.get(f"{TEMPLATES}/{{customTemplateId}}/")
async def get_template(store: StoreDep, customTemplateId: str) -> dict[str, Any]:
    """One custom template."""
    return _template_or_404(store, customTemplateId)


@router.patch(
    f"{TEMPLATES}/{{customTemplateId}}/",
    openapi_extra={"requestBody": template_form_body(required=())},
    dependencies=[allow("admin")],
)
async def update_template(
    store: StoreDep, request: Request, customTemplateId: str
) -> dict[str, Any]:
    """Change some fields of a template (and replace its files when content is sent)."""
    _template_or_404(store, customTemplateId)
    fields, upload = await read_template_body(request)
    values, errors = validate_template_fields(fields, partial=True)
    files = None
    if upload is not None:
        try:
            files = await _unpack(upload)
        except UploadError as exc:
            errors["file"] = str(exc)
    if errors:
        raise field_errors(errors, "Invalid template")
    if not values and files is None:
        raise ApiError(422, "Nothing to update: send at least one field or a file.")
    updated = await run_in_threadpool(store.update_template, customTemplateId, values, files)
    if updated is None:
        raise not_found("custom template", customTemplateId)
    return updated


@router.delete(f"{TEMPLATES}/{{customTemplateId}}/", status_code=204, dependencies=[allow("admin")])
async def delete_template(store: StoreDep, customTemplateId: str) -> Response:
    """Delete a template and its files."""
    if not store.delete_template(customTemplateId):
        raise not_found("custom template", customTemplateId)
    return Response(status_code=204)


@router.get(f"{TEMPLATES}/{{customTemplateId}}/files/{{fileId}}/")
async def get_file(store: StoreDep, customTemplateId: str, fileId: str) -> dict[str, Any]:
    """One file of a template, with its content."""
    _template_or_404(store, customTemplateId)
    found = store.get_file(customTemplateId, fileId)
    if found is None:
        raise not_found("file", fileId)
    return found


async def _unpack(upload: Upload) -> list[tuple[str, bytes]]:
    """The upload's files, unpacked on a worker thread: the event loop keeps serving."""
    return await run_in_threadpool(unpack, upload.content, upload.filename)


def _template_or_404(store: Store, template_id: str) -> dict[str, Any]:
    template = store.get_template(template_id)
    if template is None:
        raise not_found("custom template", template_id)
    return template
