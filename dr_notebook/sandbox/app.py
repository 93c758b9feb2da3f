"""Wiring only: the stores, the services and the one runtime, put where the routers read them.

This is the one module that names a concrete runtime (``LocalRuntime`` with ``--run-apps``,
``SimulatedRuntime`` without); everything else talks to :class:`~.runtime.base.Runtime`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI
from starlette.datastructures import State

from dr_notebook._version import __version__
from dr_notebook.sandbox.api import (
    applications,
    control,
    environments,
    platform,
    sources,
    status,
    templates,
)
from dr_notebook.sandbox.api.errors import install_handlers
from dr_notebook.sandbox.api.forms import MAX_BODY_BYTES
from dr_notebook.sandbox.api.limits import RequestLimits
from dr_notebook.sandbox.api.middleware import SandboxMiddleware, Stats
from dr_notebook.sandbox.api.openapi import install_openapi
from dr_notebook.sandbox.api.pages import ApplicationPages, AppOrigins
from dr_notebook.sandbox.runtime.base import Runtime
from dr_notebook.sandbox.runtime.local import LocalRuntime
from dr_notebook.sandbox.runtime.proxy import PAGE_PREFIX, Proxy
from dr_notebook.sandbox.runtime.simulated import SimulatedRuntime
from dr_notebook.sandbox.service.applications import Applications, reporter
from dr_notebook.sandbox.service.versions import VERSION_RULES
from dr_notebook.sandbox.settings import BehaviourSettings, BuildSettings
from dr_notebook.sandbox.store.applications import ApplicationStore
from dr_notebook.sandbox.store.database import Store
from dr_notebook.sandbox.store.sources import SourceStore


def create_app(
    store: Store,
    tokens: dict[str, str],
    behaviour: BehaviourSettings | None = None,
    seed: int | None = None,
    apps_dir: Path | None = None,
    public_url: str | None = None,
    builds: BuildSettings | None = None,
    http: HttpSettings | None = None,
) -> SandboxMiddleware | AppOrigins:
    """The sandbox as an ASGI app (FastAPI wrapped in the auth/latency/fault middleware).

    With ``apps_dir``, applications really run (``--run-apps``), in working folders there;
    without, they are simulated. ``.app.state.applications.stop_all()`` ends every run.
    ``public_url`` (``http://host:port``) is the sandbox's own address: applications'
    ``DATAROBOT_ENDPOINT``, ``applicationUrl`` and ``Location`` headers are built from it,
    never from a request's headers. ``builds``: where and how applications' environments are
    built, and whether each application gets a network of its own (``--run-apps`` only).
    ``behaviour``: latency, faults and the like, changed while the server runs. ``http``:
    the bodies' limits and whether applications get origins of their own. The result's
    ``.state`` is the FastAPI app's state.
    """
    http = http or HttpSettings()
    behaviour = behaviour or BehaviourSettings()
    app = FastAPI(
        title="dr-notebook sandbox",
        version=__version__,
        description="A local DataRobot-compatible API: custom templates, application sources, "
        "source versions and custom applications.",
    )
    state = app.state
    state.public_url = public_url.rstrip("/") if public_url else None
    state.store = store
    state.sources = SourceStore(store, VERSION_RULES)
    state.sources.migrate()
    apps = ApplicationStore(store, state.sources)
    runtime = _runtime(state, apps, tokens, behaviour, apps_dir, builds)
    state.applications = Applications(
        apps,
        state.sources,
        runtime,
        tokens,
        lambda: state.public_url or "http://127.0.0.1",
        app_origins=http.app_origins,
    )
    apps.stop_live()  # nothing runs yet: what ran before a restart is stopped
    state.behaviour = behaviour
    state.stats = Stats()
    install_handlers(app)
    install_openapi(app)
    app.include_router(status.version_router)
    for module in (templates, status, sources, applications, environments, platform):
        app.include_router(module.router)
    # applicationUrl: the app itself through the proxy (HTTP and websockets), no token needed.
    app.mount(PAGE_PREFIX, ApplicationPages(state.applications, tokens, Proxy()))
    app.include_router(control.router)
    limited = RequestLimits(app, api_limit=MAX_BODY_BYTES, app_limit=http.app_body_limit)
    outer: SandboxMiddleware | AppOrigins = SandboxMiddleware(
        limited, tokens=tokens, behaviour=behaviour, stats=state.stats, rng=random.Random(seed)
    )
    if http.app_origins:  # first of all: the Host decides what the path means
        outer = AppOrigins(outer, state.applications.app_url)
    outer.state = state
    return outer


@dataclass(frozen=True)
class HttpSettings:
    """What the HTTP side allows: request bodies forwarded to apps, apps' own origins."""

    app_body_limit: int = 256 * 1024 * 1024
    app_origins: bool = False


def _runtime(
    state: State,
    apps: ApplicationStore,
    tokens: dict[str, str],
    behaviour: BehaviourSettings,
    apps_dir: Path | None,
    builds: BuildSettings | None,
) -> Runtime:
    """The one place that names a concrete runtime: real runs with ``apps_dir``, else simulated.

    The runtime reads the behaviour settings through callables: they change while it runs."""
    if apps_dir is None:
        return SimulatedRuntime(lambda: behaviour.app_start_delay_ms)
    builds = builds or BuildSettings()
    local = LocalRuntime(
        apps_dir,
        reporter(apps, tokens),
        lambda: behaviour.app_start_timeout_s,
        envs=builds.envs_dir,
        offline=builds.offline,
        force_port=builds.isolation == "port",
    )
    state.network_note = local.networks.note()
    local.sweep()  # what a killed sandbox on this database left running
    return local
