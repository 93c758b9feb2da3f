"""The FastAPI application: templates, status and control routes; the others from routers."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from dr_notebook._version import __version__
from dr_notebook.sandbox.api.applications import application_router
from dr_notebook.sandbox.api.environments import environment_router
from dr_notebook.sandbox.api.errors import ApiError, field_errors, install_handlers
from dr_notebook.sandbox.api.forms import Upload, read_template_body
from dr_notebook.sandbox.api.middleware import SandboxMiddleware, Stats
from dr_notebook.sandbox.api.openapi import install_openapi, template_form_body
from dr_notebook.sandbox.api.pages import ApplicationPages
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
from dr_notebook.sandbox.api.sources import source_router
from dr_notebook.sandbox.runtime.base import Runtime
from dr_notebook.sandbox.runtime.local import LocalRuntime
from dr_notebook.sandbox.runtime.proxy import PAGE_PREFIX, Proxy
from dr_notebook.sandbox.runtime.simulated import SimulatedRuntime
from dr_notebook.sandbox.service import sources as src
from dr_notebook.sandbox.service.applications import Applications, reporter
from dr_notebook.sandbox.service.uploads import UploadError, unpack
from dr_notebook.sandbox.service.validation import normalize_metadata, validate_template_fields
from dr_notebook.sandbox.settings import BuildSettings, RuntimeConfig
from dr_notebook.sandbox.store.applications import ApplicationStore, AppRecord
from dr_notebook.sandbox.store.database import NewTemplate, Store, TemplateQuery
from dr_notebook.sandbox.store.sources import SourceStore

API_VERSION = {"major": 2, "minor": 49, "versionString": "2.49.0"}
TemplateOrder = Literal[
    "name", "-name", "createdAt", "-createdAt",
    "templateType", "-templateType", "templateSubType", "-templateSubType",
]  # fmt: skip


def create_app(
    store: Store,
    tokens: dict[str, str],
    runtime: RuntimeConfig | None = None,
    seed: int | None = None,
    apps_dir: Path | None = None,
    public_url: str | None = None,
    builds: BuildSettings | None = None,
) -> SandboxMiddleware:
    """The sandbox as an ASGI app (FastAPI wrapped in the auth/latency/fault middleware).

    With ``apps_dir``, applications really run (``--run-apps``), in working folders there;
    without, they are simulated. ``.app.state.applications.stop_all()`` ends every run.
    ``public_url`` (``http://host:port``) is the sandbox's own address: applications'
    ``DATAROBOT_ENDPOINT``, ``applicationUrl`` and ``Location`` headers are built from it,
    never from a request's headers. ``builds``: where and how applications' environments are
    built, and whether each application gets a network of its own (``--run-apps`` only).
    """
    runtime = runtime or RuntimeConfig()
    stats = Stats()
    app = FastAPI(
        title="dr-notebook sandbox",
        version=__version__,
        description="A local DataRobot-compatible API: custom templates, application sources, "
        "source versions and custom applications.",
    )
    sources = SourceStore(store)
    sources.migrate()
    app.state.public_url = public_url.rstrip("/") if public_url else None
    apps = ApplicationStore(store, sources)
    config = runtime  # the settings the runtime reads while the server runs
    # The one place that names a concrete runtime.
    executor: Runtime
    if apps_dir is not None:
        report = reporter(apps, tokens)
        builds = builds or BuildSettings()
        local = LocalRuntime(
            apps_dir,
            report,
            lambda: config.app_start_timeout_s,
            envs=builds.envs_dir,
            offline=builds.offline,
            force_port=builds.isolation == "port",
        )
        app.state.network_note = local.networks.note()
        local.sweep()  # what a killed sandbox on this database left running
        executor = local
    else:
        executor = SimulatedRuntime(lambda: config.app_start_delay_ms)
    applications = Applications(
        apps, sources, executor, tokens, lambda: app.state.public_url or "http://127.0.0.1"
    )
    apps.stop_live()  # nothing runs yet: what ran before a restart is stopped
    app.state.store = store
    app.state.runtime = runtime
    app.state.applications = applications
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
        envelope = page(request, [], total, offset, limit, count=len(bodies))
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
        location = f"{base_url(request)}{API}/customTemplates/{template.id}/"
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
            raise not_found("custom template", customTemplateId)
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
            raise not_found("custom template", customTemplateId)
        return Response(status_code=204)

    @app.get(
        f"{API}/customTemplates/{{customTemplateId}}/files/{{fileId}}/", tags=["customTemplates"]
    )
    async def get_file(customTemplateId: str, fileId: str) -> dict[str, Any]:
        """One file of a template, with its content."""
        _template_or_404(store, customTemplateId)
        found = store.get_file(customTemplateId, fileId)
        if found is None:
            raise not_found("file", fileId)
        return found

    @app.get(
        f"{API}/status/{{statusId}}/",
        tags=["status"],
        responses={303: {"description": "Done; the Location header points at the result."}},
    )
    async def job_status(request: Request, statusId: str) -> Any:
        """An async job's state; 303 to the created source or application once it is done."""
        job = store.get_job(statusId)
        if job is None:
            return _application_status(request, applications.apps.by_status_id(statusId), statusId)
        job = src.advance_job(store, job)
        body = src.status_body(job)
        if job["source_id"]:
            location = f"{base_url(request)}{API}/customApplicationSources/{job['source_id']}/"
            return JSONResponse(body, status_code=303, headers={"Location": location})
        return body

    app.include_router(source_router(store, sources, runtime))
    app.include_router(application_router(applications))
    app.include_router(environment_router())
    # applicationUrl: the app itself through the proxy (HTTP and websockets), no token needed.
    app.mount(PAGE_PREFIX, ApplicationPages(applications, tokens, Proxy()))

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


def _application_status(request: Request, record: AppRecord | None, status_id: str) -> Any:
    """An application's creation status: done as soon as it exists (303 to it)."""
    if record is None:
        raise not_found("status", status_id)
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


def _template_or_404(store: Store, template_id: str) -> dict[str, Any]:
    template = store.get_template(template_id)
    if template is None:
        raise not_found("custom template", template_id)
    return template
