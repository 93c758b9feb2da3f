"""Custom applications, the service: status transitions, saved, then handed to the runtime.

The routes call this and never touch processes; this never reads requests. Operations on one
application are serialized (a lock per application), and every change is written back by
reading the stored row again under the store's lock, so no change overwrites another.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from dr_notebook.sandbox.runtime.base import ENTRYPOINT, Reporter, RunSpec, Runtime, Upstream
from dr_notebook.sandbox.runtime.output import clip, redact
from dr_notebook.sandbox.runtime.proxy import PAGE_PREFIX, script_name
from dr_notebook.sandbox.service.parameters import credential_secrets
from dr_notebook.sandbox.service.permissions import can_read_output, can_write, permissions, user_of
from dr_notebook.sandbox.service.sources import ORG_ID
from dr_notebook.sandbox.service.versions import runtime_environment
from dr_notebook.sandbox.store.applications import ApplicationStore, AppRecord
from dr_notebook.sandbox.store.database import new_id, now_iso
from dr_notebook.sandbox.store.sources import SourceStore

SANDBOX_ENVIRONMENT_VERSION = "5f0c1e1f2a3b4c5d6e7f0001"
DEFAULT_RESOURCES = {
    "resourceLabel": "cpu.small",
    "replicas": 1,
    "sessionAffinity": False,
    "serviceWebRequestsOnRootPath": True,  # the sandbox's reading: DataRobot computes it
    "cpuRequest": 1.0,
    "cpuLimit": 1,
    "memoryRequest": 2 * 1024**3,
    "memoryLimit": 2 * 1024**3,
}
BUILDING = "building"
#: What ``buildError`` shows roles that may not read the application's output.
HIDDEN_ERROR = (
    "The application failed. Its owner (or an admin) reads why in its logs and buildError."
)
MAX_BUILD_LOG = 65536  # characters of build log stored


def root_path_mode(record: AppRecord) -> bool:
    """The application's ``serviceWebRequestsOnRootPath`` (the sandbox's default: on)."""
    value = (record.body.get("fields", {}).get("resources") or {}).get(
        "serviceWebRequestsOnRootPath"
    )
    return True if value is None else bool(value)


def entrypoint_problem(sources: SourceStore, version_id: str) -> str | None:
    """Why the version cannot become an application (no usable ``start-app.sh``), or None."""
    script = sources.file(version_id, ENTRYPOINT)
    if script is None:
        return f"The version has no {ENTRYPOINT} at its root: add one that starts the app."
    if not script.startswith(b"#!"):
        return f"{ENTRYPOINT} must start with '#!' (e.g. #!/usr/bin/env bash)."
    return None


class Applications:
    """Creating, restarting, stopping and deleting applications, and what they show."""

    def __init__(
        self,
        apps: ApplicationStore,
        sources: SourceStore,
        runtime: Runtime,
        tokens: dict[str, str],
        public_url: Callable[[], str],
        app_origins: bool = False,
    ) -> None:
        self.apps = apps
        self.sources = sources
        self.runtime = runtime
        self.tokens = tokens
        self.public_url = public_url
        self.app_origins = app_origins
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    @property
    def simulated(self) -> bool:
        """Whether applications are simulated (the sandbox runs without ``--run-apps``)."""
        return self.runtime.simulated

    def lock(self, app_id: str) -> threading.Lock:
        """The lock that serializes every operation on one application."""
        with self._lock:
            return self._locks.setdefault(app_id, threading.Lock())

    # -- what callers may see ----------------------------------------------------------------
    def app_url(self, app_id: str) -> str:
        """``applicationUrl``: under the sandbox's address, or (``--app-origins``) the root of
        the app's own origin, ``http://<id>.localhost:<port>/``."""
        base = self.public_url()
        if not self.app_origins:
            return f"{base}{PAGE_PREFIX}/{app_id}/"
        parts = urlsplit(base)
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{app_id}.localhost{port}/"

    def view(self, record: AppRecord, role: str) -> dict[str, Any]:
        """The application as ``role`` sees it (its URL from the sandbox's own address;
        ``buildError`` generic unless ``role`` may read its output)."""
        return {
            **record.api,
            "applicationUrl": self.app_url(record.id),
            "permissions": permissions(role, owner_of(record)),
            "buildError": self.build_error(record, role),
        }

    def build_error(self, record: AppRecord, role: str) -> str | None:
        """``buildError`` as ``role`` may read it: lines taken from the application's output
        for its owner and admins only, a generic message for everyone else."""
        error = record.body.get("buildError")
        if error is None or self.may_read_output(record, role):
            return error
        return HIDDEN_ERROR

    def may_change(self, record: AppRecord, role: str) -> bool:
        """Whether ``role`` may change, restart, stop or delete the application."""
        return can_write(role, owner_of(record))

    def may_read_output(self, record: AppRecord, role: str) -> bool:
        """Whether ``role`` may read the application's logs, build log and history."""
        return can_read_output(role, owner_of(record))

    def credential_problem(self, version: dict[str, Any], app_owner: str) -> str | None:
        """Why an application owned by ``app_owner`` (a role) may not run ``version``: it
        holds credential values that belong to the version's owner; None when it may."""
        if self._same_owner(version, app_owner):
            return None
        names = sorted(
            p["fieldName"]
            for p in self.sources.runtime_parameters(version["id"])
            if p.get("type") == "credential" and p.get("currentValue") is not None
        )
        if not names:
            return None
        return (
            f"Forbidden: this version's credential parameters ({', '.join(names)}) hold "
            "values that belong to the version's owner; an application of another user cannot "
            "use them. Create a version of your own (baseVersion copies this one's files) "
            "and set your own values."
        )

    def _same_owner(self, version: dict[str, Any], role: str) -> bool:
        source = self.sources.get_source(version["sourceId"])
        return source is not None and source.get("userId") == user_of(role)["userId"]

    # -- operations --------------------------------------------------------------------------
    def create(
        self, name: str, version: dict[str, Any], who: str, settings: dict[str, Any]
    ) -> AppRecord:
        """Store an application built from ``version`` and start it; the version freezes when
        it is the application owner's own (never someone else's for them)."""
        app_id, stamp = new_id(), now_iso()
        record = AppRecord(
            id=app_id,
            name=name,
            source_id=version["sourceId"],
            version_id=version["id"],
            status=BUILDING,
            status_id=new_id(),
            role=who,
            run_id=new_id(),
            ready_ts=self.runtime.ready_at(),
            port=self.runtime.port_for(None),
            created_at=stamp,
            updated_at=stamp,
            body={
                "fields": {
                    "envVersionId": settings.get("envVersionId")
                    or version.get("baseEnvironmentVersionId")
                    or SANDBOX_ENVIRONMENT_VERSION,
                    "lrsId": new_id(),
                    **user_of(who),
                    "orgId": ORG_ID,
                    "expiresAt": None,
                    "applicationUrl": self.app_url(app_id),
                    "externalAccessEnabled": False,
                    "externalAccessRecipients": [],
                    "allowAutoStopping": False,
                    "resources": {
                        **DEFAULT_RESOURCES,
                        **(version.get("resources") or {}),
                        **(settings.get("resources") or {}),
                    },
                    "requiredKeyScopeLevel": None,
                },
                "history": [],
                "buildError": None,
                "buildLog": "",
            },
        )
        _remember(record, version)
        with self.lock(app_id):
            self.apps.insert(record, freeze=self._same_owner(version, who))
            self._launch(record, version)
        return record

    def restart(self, app_id: str, version: dict[str, Any]) -> AppRecord | None:
        """Run the application again (on ``version``): same id, same URL, same port if free."""
        with self.lock(app_id):
            self.runtime.stop(app_id)

            def change(record: AppRecord) -> None:
                record.source_id, record.version_id = version["sourceId"], version["id"]
                _remember(record, version)
                record.status, record.run_id = BUILDING, new_id()
                record.ready_ts = self.runtime.ready_at()
                record.port = self.runtime.port_for(record.port)
                record.body["buildError"] = None
                record.body["buildLog"] = ""

            current = self.apps.get(app_id)
            mine = current is not None and self._same_owner(version, current.role)
            record = self.apps.modify(app_id, change, freeze=version["id"] if mine else None)
            if record is not None:
                self._launch(record, version)
            return record

    def stop(self, app_id: str) -> AppRecord | None:
        """End the application's processes; it shows ``stopped``."""
        with self.lock(app_id):
            self.runtime.stop(app_id)

            def change(record: AppRecord) -> None:
                record.status, record.run_id = "stopped", "stopped"

            return self.apps.modify(app_id, change)

    def change_settings(self, app_id: str, change: Callable[[AppRecord], object]) -> None:
        """Apply a settings change (name, access) to the stored application."""
        with self.lock(app_id):
            self.apps.modify(app_id, change)

    def stop_all(self) -> None:
        """End every run and what the runtime holds besides (the sandbox is stopping)."""
        self.runtime.close()

    def delete(self, app_id: str) -> None:
        """Stop the application and forget it (its working folders too)."""
        with self.lock(app_id):
            self.runtime.stop(app_id, forget_files=True)
            self.apps.delete(app_id)

    def upstream(self, record: AppRecord) -> Upstream | None:
        """Where the running application answers, if it runs here."""
        if record.status != "running":
            return None
        return self.runtime.upstream(record.id)

    def logs(self, record: AppRecord) -> dict[str, Any]:
        """``{logs, buildLog, buildStatus, buildError}`` of the application's current run."""
        live = self.runtime.logs(record.id)
        build_log = live.build_log if live.build_log is not None else record.body.get("buildLog")
        status = {BUILDING: "inProgress", "failed": "failed"}.get(record.status, "completed")
        if status == "inProgress" and live.started:
            status = "completed"  # built; start-app.sh is starting and not answering yet
        return {
            "logs": live.lines,
            "buildLog": redact(build_log or "", self.tokens),
            "buildStatus": status,
            "buildError": record.body.get("buildError"),
        }

    def _launch(self, record: AppRecord, version: dict[str, Any]) -> None:
        parameters = self.sources.runtime_parameters(version["id"])
        if not self._same_owner(version, record.role):  # the version owner's credentials
            parameters = [
                {**p, "currentValue": None} if p.get("type") == "credential" else p
                for p in parameters
            ]
        env = runtime_environment(parameters)
        env["DATAROBOT_ENDPOINT"] = f"{self.public_url()}/api/v2"
        env["DATAROBOT_API_TOKEN"] = self.owner_token(record)
        # What DataRobot gives an application besides: its id, its path prefix (empty when
        # requests arrive at the root), and its address as users open it.
        env["APPLICATION_ID"] = record.id
        env["SCRIPT_NAME"] = script_name(record.id, root_path_mode(record))
        env["DR_CUSTOM_APP_EXTERNAL_URL"] = f"{self.public_url()}{PAGE_PREFIX}/{record.id}/"
        # As DataRobot sets it, builds too: no leading slash (`vite build --base=/$BASE_PATH`).
        env["BASE_PATH"] = f"{PAGE_PREFIX.strip('/')}/{record.id}"
        spec = RunSpec(
            app_id=record.id,
            run_id=record.run_id,
            files=self.sources.files(version["id"]),
            port=record.port,
            env=env,
            secrets=(*self.tokens, *credential_secrets(parameters)),
            environment_id=version.get("baseEnvironmentVersionId")
            or version.get("baseEnvironmentId"),
            root_path=root_path_mode(record),
        )
        self.runtime.start(spec)

    def owner_token(self, record: AppRecord) -> str:
        """A token of the application's owner: the app runs as its owner, whoever restarts it."""
        return next(t for t, r in self.tokens.items() if r == record.role)


def reporter(apps: ApplicationStore, tokens: dict[str, str]) -> Reporter:
    """What the runtime calls when a run reaches a status: stored, without any token."""

    def report(app_id: str, run_id: str, status: str, problem: str | None, log: str) -> None:
        error = None if problem is None else clip(redact(problem, tokens))
        apps.report(app_id, run_id, status, error, clip(redact(log, tokens), MAX_BUILD_LOG))

    return report


def owner_of(record: AppRecord) -> str | None:
    """The ``userId`` of the application's owner."""
    return user_of(record.role)["userId"]


def history_entries(record: AppRecord) -> list[dict[str, Any]]:
    """The runs the application has had (one per start), newest first."""
    return list(reversed(record.body.get("history", [])))


def _remember(record: AppRecord, version: dict[str, Any]) -> None:
    record.body.setdefault("history", []).append(
        {
            "customApplicationSourceId": version["sourceId"],
            "customApplicationSourceVersionId": version["id"],
            "label": version.get("label"),
            "createdAt": now_iso(),
        }
    )


def status_page(record: AppRecord, files: Sequence[str], simulated: bool) -> str:
    """The sandbox's own page at ``applicationUrl`` when the app itself cannot answer there.

    It never shows the application's output: why it failed is behind the API (owner, admins).
    """
    name = html.escape(record.name)
    if simulated and record.status == "running":
        listing = "".join(f"<li><code>{html.escape(f)}</code></li>" for f in files)
        body = (
            f"<p>This application is <strong>simulated</strong>: the sandbox was started without "
            f"<code>--run-apps</code>, so its code did not run.</p>"
            f"<p>Its files:</p><ul>{listing}</ul>"
            f"<p>To run it on this machine, start the sandbox with <code>--run-apps</code> "
            f"(<code>dr-notebook sandbox --run-apps</code>; <code>make demo</code> does). That "
            f"runs the application's <code>{ENTRYPOINT}</code> with your user's rights.</p>"
        )
    elif record.status == BUILDING:
        body = "<p>The application is starting. This page reloads itself.</p>"
    elif record.status == "failed":
        body = (
            "<p>The application failed. Its owner (or an admin) reads why in its logs "
            "(<code>client.applications.logs(app)</code> or <code>%dr_app</code>).</p>"
        )
    else:
        body = f"<p>The application is {html.escape(record.status)}.</p>"
    refresh = '<meta http-equiv="refresh" content="2">' if record.status == BUILDING else ""
    return (
        f"<!doctype html><html><head><meta charset='utf-8'>{refresh}<title>{name}</title></head>"
        f"<body><h1>{name}</h1>{body}</body></html>"
    )
