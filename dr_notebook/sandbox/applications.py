"""Custom applications: building them from a source version, runs (real or simulated), pages."""

from __future__ import annotations

import html
import time
from typing import Any

from dr_notebook.sandbox.application_store import ApplicationStore, AppRecord
from dr_notebook.sandbox.runner import ENTRYPOINT, AppRunner, RunSpec, free_port, port_is_free
from dr_notebook.sandbox.settings import RuntimeConfig
from dr_notebook.sandbox.source_store import SourceStore
from dr_notebook.sandbox.sources import ORG_ID, PERMISSIONS, user_of
from dr_notebook.sandbox.store import new_id, now_iso
from dr_notebook.sandbox.versions import runtime_environment

PAGE_PREFIX = "/custom_applications"
SANDBOX_ENVIRONMENT_VERSION = "5f0c1e1f2a3b4c5d6e7f0001"
DEFAULT_RESOURCES = {
    "resourceLabel": "cpu.small",
    "replicas": 1,
    "sessionAffinity": False,
    "serviceWebRequestsOnRootPath": False,
    "cpuRequest": 1.0,
    "cpuLimit": 1,
    "memoryRequest": 2 * 1024**3,
    "memoryLimit": 2 * 1024**3,
}
BUILDING = "building"


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
        runtime: RuntimeConfig,
        tokens: dict[str, str],
        runner: AppRunner | None,
    ) -> None:
        self.apps = apps
        self.sources = sources
        self.runtime = runtime
        self.tokens = tokens
        self.runner = runner

    @property
    def simulated(self) -> bool:
        """Whether applications are simulated (the sandbox runs without ``--run-apps``)."""
        return self.runner is None

    def create(
        self,
        name: str,
        version: dict[str, Any],
        who: str,
        base: str,
        settings: dict[str, Any],
    ) -> AppRecord:
        """Store an application built from ``version`` (which freezes) and start it."""
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
            ready_ts=None,
            port=None,
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
                    "applicationUrl": f"{base}{PAGE_PREFIX}/{app_id}/",
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
        self._prepare_run(record)
        self.apps.insert(record)
        self._launch(record, version, base)
        return record

    def restart(self, record: AppRecord, version: dict[str, Any], base: str) -> None:
        """Run the application again (on ``version``): same id, same URL, same port if free."""
        self.stop(record)
        if version["id"] != record.version_id:
            record.source_id, record.version_id = version["sourceId"], version["id"]
            _remember(record, version)
        record.status, record.run_id = BUILDING, new_id()
        record.body["buildError"] = None
        self._prepare_run(record)
        self.apps.save(record, freeze=version["id"])
        self._launch(record, version, base)

    def stop(self, record: AppRecord) -> None:
        """End the application's process group, if it has one."""
        if self.runner is not None:
            self.runner.stop(record.id)

    def stop_all(self) -> None:
        """End every run (the sandbox is stopping)."""
        if self.runner is not None:
            self.runner.stop_all()

    def delete(self, record: AppRecord) -> None:
        """Stop the application and forget it (its working folder too)."""
        if self.runner is not None:
            self.runner.stop(record.id, forget_files=True)
        self.apps.delete(record.id)

    def logs(self, record: AppRecord) -> dict[str, Any]:
        """``{logs, buildLog, buildStatus, buildError}`` of the application's current run."""
        lines: list[str] = []
        build_log = record.body.get("buildLog") or ""
        if self.runner is not None:
            lines, live = self.runner.logs(record.id)
            build_log = live if live is not None else build_log
        else:
            build_log = (
                "Simulated build: the sandbox was started without --run-apps, so start-app.sh "
                "was not run. The application shows a page that says so."
            )
        status = {BUILDING: "inProgress", "failed": "failed"}.get(record.status, "completed")
        if status == "inProgress" and self.runner is not None and self.runner.started(record.id):
            status = "completed"  # built; start-app.sh is starting and not answering yet
        return {
            "logs": lines,
            "buildLog": build_log,
            "buildStatus": status,
            "buildError": record.body.get("buildError"),
        }

    def report(
        self, app_id: str, run_id: str, status: str, problem: str | None, build_log: str
    ) -> None:
        """What a run reached (called from the runner's threads)."""
        self.apps.report(app_id, run_id, status, problem, build_log)

    def _prepare_run(self, record: AppRecord) -> None:
        if self.runner is None:
            record.ready_ts = time.time() + self.runtime.app_start_delay_ms / 1000
        elif record.port is None or not port_is_free(record.port):
            record.port = free_port()

    def _launch(self, record: AppRecord, version: dict[str, Any], base: str) -> None:
        if self.runner is None or record.port is None:
            return
        env = runtime_environment(self.sources.runtime_parameters(version["id"]))
        env["DATAROBOT_ENDPOINT"] = f"{base}/api/v2"
        env["DATAROBOT_API_TOKEN"] = next(t for t, r in self.tokens.items() if r == record.role)
        spec = RunSpec(
            app_id=record.id,
            run_id=record.run_id,
            files=self.sources.files(version["id"]),
            port=record.port,
            env=env,
        )
        self.runner.start(spec)


def with_permissions(record: AppRecord, role: str) -> dict[str, Any]:
    """The application as ``role`` sees it."""
    return {**record.api, "permissions": list(PERMISSIONS.get(role, ["CAN_VIEW"]))}


def history_entries(record: AppRecord) -> list[dict[str, Any]]:
    """The versions the application has run, newest first."""
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


def status_page(record: AppRecord, files: list[str], simulated: bool) -> str:
    """The sandbox's own page at ``applicationUrl`` when the app itself cannot answer there."""
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
        problem = html.escape(record.body.get("buildError") or "unknown")
        body = f"<p>The application failed:</p><pre>{problem}</pre>"
    else:
        body = f"<p>The application is {html.escape(record.status)}.</p>"
    refresh = '<meta http-equiv="refresh" content="2">' if record.status == BUILDING else ""
    return (
        f"<!doctype html><html><head><meta charset='utf-8'>{refresh}<title>{name}</title></head>"
        f"<body><h1>{name}</h1>{body}</body></html>"
    )
