"""Application sources (from templates or empty), the people behind roles, and async jobs."""

from __future__ import annotations

import time
from typing import Any

from dr_notebook.sandbox.service.permissions import permissions, user_of
from dr_notebook.sandbox.service.versions import VERSION_RULES, new_version
from dr_notebook.sandbox.store.database import Store, new_id, now_iso
from dr_notebook.sandbox.store.sources import SourceStore

ORG_ID = "5f0c1e1f2a3b4c5d6e7f8091"
APP_TEMPLATE_TYPE = "customApplicationTemplate"
_FAILURES = {
    "ERROR": "The application source could not be created from the template.",
    "ABORTED": "The job was aborted before the application source was created.",
    "EXPIRED": "The job expired before the application source was created.",
}


def why_not_creatable(template: dict[str, Any]) -> str | None:
    """Why no application source can be created from ``template``, or None."""
    if template["templateType"] != APP_TEMPLATE_TYPE:
        return (
            f"Template {template['id']} is a {template['templateType']}; application sources "
            f"can only be created from templates of type {APP_TEMPLATE_TYPE}."
        )
    if not template["enabled"]:
        return f"Template {template['id']} is disabled; enable it before creating a source from it."
    return None


def create_source(sources: SourceStore, template: dict[str, Any], role: str) -> dict[str, Any]:
    """Create and store a source whose first version holds copies of the template's files."""
    source, version = _new_source(template["name"], role, template.get("defaultEnvironment"))
    sources.insert_source(source, version, template_id=template["id"])
    return _stored(sources, source["id"])


def create_empty_source(sources: SourceStore, name: str, role: str) -> dict[str, Any]:
    """Create and store a source whose first version holds no files yet."""
    source, version = _new_source(name, role, None)
    sources.insert_source(source, version)
    return _stored(sources, source["id"])


def _stored(sources: SourceStore, source_id: str) -> dict[str, Any]:
    stored = sources.get_source(source_id)
    if stored is None:  # only a concurrent delete could get here
        raise LookupError(f"source {source_id} was deleted while it was being created")
    return stored


def _new_source(
    name: str, role: str, environment: dict[str, Any] | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A source's own fields and its first version (label v1)."""
    created = now_iso()
    person = user_of(role)
    source = {
        "id": new_id(),
        "name": name[:255],
        "createdAt": created,
        "updatedAt": created,
        **person,
        "orgId": ORG_ID,
    }
    environment = environment or {}
    base = {
        "baseEnvironmentId": environment.get("environmentId") or None,
        "baseEnvironmentVersionId": environment.get("environmentVersionId") or None,
    }
    return source, new_version(person, "v1", base)


def with_permissions(source: dict[str, Any], role: str) -> dict[str, Any]:
    """The source as ``role`` sees it: with the actions that role may take."""
    return {**source, "permissions": permissions(role, source.get("userId"))}


def new_job(template_id: str, role: str, delay_ms: int, outcome: str) -> dict[str, Any]:
    """An async source-creation job, started now."""
    return {
        "id": new_id(),
        "template_id": template_id,
        "role": role,
        "created": now_iso(),
        "created_ts": time.time(),
        "delay_ms": delay_ms,
        "outcome": outcome,
        "source_id": None,
        "message": None,
    }


def job_state(job: dict[str, Any]) -> str:
    """INITIALIZED, RUNNING, or the job's final outcome once its delay has passed."""
    elapsed_ms = (time.time() - job["created_ts"]) * 1000
    if job["message"]:
        return "ERROR" if job["outcome"] == "COMPLETED" else job["outcome"]
    if elapsed_ms < job["delay_ms"] * 0.25:
        return "INITIALIZED"
    if elapsed_ms < job["delay_ms"]:
        return "RUNNING"
    return job["outcome"]


def advance_job(store: Store, job: dict[str, Any]) -> dict[str, Any]:
    """Finish a due job (create its source, or record its failure); the job as it is now."""
    state = job_state(job)
    if job["source_id"] or job["message"] or state in ("INITIALIZED", "RUNNING"):
        return job
    if state in _FAILURES:
        problem: str | None = _FAILURES[state]
        done = store.finish_job(job["id"], None, problem)
        return {**job, "message": problem} if done else _as_stored(store, job)
    template = store.get_template(job["template_id"])
    if template is None:
        problem = "The template was deleted while the job ran."
    else:
        problem = why_not_creatable(template)
    if template is None or problem:
        done = store.finish_job(job["id"], None, problem)
        return {**job, "message": problem} if done else _as_stored(store, job)
    source, version = _new_source(template["name"], job["role"], template.get("defaultEnvironment"))
    if not SourceStore(store, VERSION_RULES).insert_source(
        source, version, template_id=template["id"], job_id=job["id"]
    ):
        return _as_stored(store, job)  # another poll finished the job first
    return {**job, "source_id": source["id"]}


def _as_stored(store: Store, job: dict[str, Any]) -> dict[str, Any]:
    return store.get_job(job["id"]) or job


def status_body(job: dict[str, Any]) -> dict[str, Any]:
    """The ``GET status/{id}/`` body for a job."""
    state = "COMPLETED" if job["source_id"] else job_state(job)
    return {
        "statusId": job["id"],
        "status": state,
        "message": job["message"] or ("" if state != "COMPLETED" else "Source created."),
        "code": 1 if job["message"] else 0,
        "created": job["created"],
        "description": f"Create a custom application source from template {job['template_id']}",
        "statusType": "customApplicationSource",
    }
