"""The FastAPI application: DataRobot's custom template and application source endpoints."""

from __future__ import annotations

import json
import random
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from dr_notebook._version import __version__
from dr_notebook.sandbox import sources as src
from dr_notebook.sandbox.errors import ApiError, field_errors, install_handlers
from dr_notebook.sandbox.forms import Upload, read_template_body
from dr_notebook.sandbox.middleware import SandboxMiddleware, Stats
from dr_notebook.sandbox.openapi import install_openapi, template_form_body
from dr_notebook.sandbox.settings import RuntimeConfig
from dr_notebook.sandbox.store import NewTemplate, Store, TemplateQuery
from dr_notebook.sandbox.uploads import UploadError, unpack
from dr_notebook.sandbox.validation import normalize_metadata, validate_template_fields

API = "/api/v2"
API_VERSION = {"major": 2, "minor": 49, "versionString": "2.49.0"}
TemplateOrder = Literal[
    "name", "-name", "createdAt", "-createdAt",
    "templateType", "-templateType", "templateSubType", "-templateSubType",
]  # fmt: skip
SourceOrder = Literal["name", "-name", "createdAt", "-createdAt", "updatedAt", "-updatedAt"]
Offset = Annotated[int, Query(ge=0, le=1_000_000_000, description="Number of results to skip.")]
Limit = Annotated[int, Query(ge=1, le=100, description="At most this many results (1..100).")]
Text = Annotated[str | None, Query(max_length=10_000)]


class FromTemplate(BaseModel):
    """Body of ``POST customApplicationSources/fromCustomTemplate/``."""

    model_config = ConfigDict(extra="allow")
    customTemplateId: str = Field(min_length=1, max_length=255)


def role(request: Request) -> str:
    """The caller's role (set by the auth middleware)."""
    return request.state.role


def allow(*roles: str) -> Any:
    """A dependency answering 403 unless the caller has one of ``roles``."""

    def check(request: Request) -> str:
        who = role(request)
        if who not in roles:
            raise ApiError(
                403, f"Forbidden: the {who} role cannot do this (needs {' or '.join(roles)})."
            )
        return who

    return Depends(check)


def create_app(
    store: Store,
    tokens: dict[str, str],
    runtime: RuntimeConfig | None = None,
    seed: int | None = None,
) -> Any:
    """The sandbox as an ASGI app (FastAPI wrapped in the auth/latency/fault middleware)."""
    runtime = runtime or RuntimeConfig()
    stats = Stats()
    app = FastAPI(
        title="dr-notebook sandbox",
        version=__version__,
        description="A local DataRobot-compatible API: custom templates, application sources.",
    )
    app.state.store = store
    app.state.runtime = runtime
    app.state.stats = stats
    install_handlers(app)
    install_openapi(app)

    @app.get(f"{API}/version/", tags=["meta"])
    async def version() -> dict[str, Any]:
        """The API version (the official client checks it when it connects)."""
        return API_VERSION

    @app.get(f"{API}/customTemplates/", tags=["customTemplates"])
    async def list_templates(
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
        envelope = _page(request, [], total, offset, limit, count=len(bodies))
        del envelope["data"]
        return Response(spliced_page(envelope, bodies), media_type="application/json")

    @app.post(
        f"{API}/customTemplates/",
        status_code=201,
        tags=["customTemplates"],
        openapi_extra={"requestBody": template_form_body(required=("name", "description",
                       "templateType", "templateSubType", "defaultEnvironment", "file"))},
        dependencies=[allow("admin")],
    )  # fmt: skip
    async def create_template(request: Request) -> JSONResponse:
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
        location = f"{_base(request)}{API}/customTemplates/{template.id}/"
        return JSONResponse(
            {"customTemplateId": template.id}, status_code=201, headers={"Location": location}
        )

    @app.get(f"{API}/customTemplates/{{customTemplateId}}/", tags=["customTemplates"])
    async def get_template(customTemplateId: str) -> dict[str, Any]:
        """One custom template."""
        return _template_or_404(store, customTemplateId)

    @app.patch(
        f"{API}/customTemplates/{{customTemplateId}}/",
        tags=["customTemplates"],
        openapi_extra={"requestBody": template_form_body(required=())},
        dependencies=[allow("admin")],
    )
    async def update_template(request: Request, customTemplateId: str) -> dict[str, Any]:
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
            raise _not_found("custom template", customTemplateId)
        return updated

    @app.delete(
        f"{API}/customTemplates/{{customTemplateId}}/",
        status_code=204,
        tags=["customTemplates"],
        dependencies=[allow("admin")],
    )
    async def delete_template(customTemplateId: str) -> Response:
        """Delete a template and its files."""
        if not store.delete_template(customTemplateId):
            raise _not_found("custom template", customTemplateId)
        return Response(status_code=204)

    @app.get(
        f"{API}/customTemplates/{{customTemplateId}}/files/{{fileId}}/", tags=["customTemplates"]
    )
    async def get_file(customTemplateId: str, fileId: str) -> dict[str, Any]:
        """One file of a template, with its content."""
        _template_or_404(store, customTemplateId)
        found = store.get_file(customTemplateId, fileId)
        if found is None:
            raise _not_found("file", fileId)
        return found

    @app.post(
        f"{API}/customApplicationSources/fromCustomTemplate/",
        tags=["customApplicationSources"],
        responses={202: {"description": "Started; poll the Location header."}},
    )
    async def source_from_template(
        request: Request,
        body: FromTemplate,
        who: str = allow("admin", "user"),
    ) -> Any:
        """Create an application source from an application template (sync or async)."""
        template = store.get_template(body.customTemplateId)
        if template is None:
            raise _not_found("custom template", body.customTemplateId)
        problem = src.why_not_creatable(template)
        if problem:
            raise ApiError(422, problem, {"customTemplateId": problem})
        if runtime.async_sources:
            job = src.new_job(template["id"], who, runtime.async_delay_ms, runtime.async_outcome)
            store.insert_job(job)
            location = f"{_base(request)}{API}/status/{job['id']}/"
            return JSONResponse(
                src.status_body(job), status_code=202, headers={"Location": location}
            )
        return src.with_permissions(src.create_source(store, template, who), who)

    @app.get(f"{API}/customApplicationSources/", tags=["customApplicationSources"])
    async def list_sources(
        request: Request,
        offset: Offset = 0,
        limit: Limit = 100,
        orderBy: SourceOrder | None = None,
        name: Text = None,
    ) -> dict[str, Any]:
        """A page of application sources."""
        data, total = store.list_sources(name, orderBy, offset, limit)
        who = role(request)
        return _page(request, [src.with_permissions(s, who) for s in data], total, offset, limit)

    @app.get(f"{API}/customApplicationSources/{{sourceId}}/", tags=["customApplicationSources"])
    async def get_source(request: Request, sourceId: str) -> dict[str, Any]:
        """One application source, with the caller's permissions."""
        source = store.get_source(sourceId)
        if source is None:
            raise _not_found("custom application source", sourceId)
        return src.with_permissions(source, role(request))

    @app.get(
        f"{API}/status/{{statusId}}/",
        tags=["status"],
        responses={303: {"description": "Done; the Location header points at the result."}},
    )
    async def job_status(request: Request, statusId: str) -> Any:
        """An async job's state; 303 to the created source once it is done."""
        job = store.get_job(statusId)
        if job is None:
            raise _not_found("status", statusId)
        job = src.advance_job(store, job)
        body = src.status_body(job)
        if job["source_id"]:
            location = f"{_base(request)}{API}/customApplicationSources/{job['source_id']}/"
            return JSONResponse(body, status_code=303, headers={"Location": location})
        return body

    # -- control API (admin token; checked by the middleware) -----------------------------------
    @app.get("/_sandbox/stats/", tags=["sandbox"])
    async def get_stats() -> dict[str, Any]:
        """Requests seen under /api/v2 since the last reset."""
        return stats.snapshot()

    @app.post("/_sandbox/stats/reset/", tags=["sandbox"])
    async def reset_stats() -> dict[str, Any]:
        """Forget the request statistics."""
        stats.reset()
        return stats.snapshot()

    @app.get("/_sandbox/config/", tags=["sandbox"])
    async def get_config() -> dict[str, Any]:
        """The runtime configuration."""
        return runtime.as_dict()

    @app.put("/_sandbox/config/", tags=["sandbox"])
    async def put_config(changes: dict[str, Any]) -> dict[str, Any]:
        """Change latency, faults and async behaviour while the server runs."""
        errors = runtime.update(changes)
        if errors:
            raise field_errors(errors, "Invalid sandbox configuration")
        return runtime.as_dict()

    wrapped = SandboxMiddleware(
        app, tokens=tokens, runtime=runtime, stats=stats, rng=random.Random(seed)
    )
    return wrapped


async def _unpack(upload: Upload) -> list[tuple[str, bytes]]:
    """The upload's files, unpacked on a worker thread: the event loop keeps serving."""
    return await run_in_threadpool(unpack, upload.content, upload.filename)


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _page(
    request: Request,
    data: list[dict[str, Any]],
    total: int,
    offset: int,
    limit: int,
    count: int | None = None,
) -> dict[str, Any]:
    """A list response; ``count`` stands for ``len(data)`` when the items are added later."""
    if count is None:
        count = len(data)
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in ("offset", "limit")]

    def link(new_offset: int) -> str:
        query = urlencode([*params, ("offset", str(new_offset)), ("limit", str(limit))])
        return str(request.url.replace(query=query))

    return {
        "count": count,
        "totalCount": total,
        "next": link(offset + limit) if offset + count < total and count else None,
        "previous": link(max(0, offset - limit)) if offset > 0 else None,
        "data": data,
    }


def spliced_page(envelope: dict[str, Any], bodies: list[str]) -> str:
    """A page as JSON text: the envelope's fields, then ``"data"``: the stored JSON bodies.

    The templates are stored as JSON text, so a page is assembled rather than decoded and
    re-encoded (that costs ~1 ms of CPU a page of 100; this, ~5 us). An encoded object always
    ends with its closing brace: the data array goes just before it, whatever the key order.
    """
    if "data" in envelope or not envelope:
        raise ValueError("the envelope must be non-empty and hold no 'data'")
    head = json.dumps(envelope, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return f'{head[:-1]},"data":[{",".join(bodies)}]}}'


def _template_or_404(store: Store, template_id: str) -> dict[str, Any]:
    template = store.get_template(template_id)
    if template is None:
        raise _not_found("custom template", template_id)
    return template


def _not_found(what: str, ident: str) -> ApiError:
    shown = ident if len(ident) <= 64 else ident[:61] + "..."
    return ApiError(404, f"No {what} with id {shown!r}.")
