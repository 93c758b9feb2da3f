"""Source versions: new versions, and checks of what a request may change in one."""

from __future__ import annotations

from typing import Any

from dr_notebook.sandbox.service import parameters, uploads
from dr_notebook.sandbox.service.parameters import parse_values, runtime_environment
from dr_notebook.sandbox.service.validation import json_value, take_parsed, unstorable
from dr_notebook.sandbox.store.database import new_id, now_iso
from dr_notebook.sandbox.store.sources import VersionRules

__all__ = [
    "VALUE_FIELDS",
    "new_version",
    "parse_label",
    "parse_resources",
    "runtime_environment",
    "version_settings",
]

MAX_LABEL = 255
#: The two forms runtime parameter values come in (DataRobot's older and newer field).
VALUE_FIELDS = ("runtimeParameterValues", "runtimeParameters")
_RESOURCE_TYPES: dict[str, tuple[type, ...]] = {
    "replicas": (int,),
    "resourceLabel": (str,),
    "sessionAffinity": (bool,),
    "serviceWebRequestsOnRootPath": (bool,),
}
_ENVIRONMENT_KEYS = ("baseEnvironmentId", "baseEnvironmentVersionId")


def new_version(
    person: dict[str, str], label: str | None, base: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A version to store: its settings copied from ``base`` when given."""
    stamp = now_iso()
    settings = base or {}
    return {
        "id": new_id(),
        "label": label,
        "baseEnvironmentId": settings.get("baseEnvironmentId"),
        "baseEnvironmentVersionId": settings.get("baseEnvironmentVersionId"),
        "resources": settings.get("resources"),
        "runtimeParameterValues": settings.get("runtimeParameterValues", []),
        "createdAt": stamp,
        "updatedAt": stamp,
        **person,
    }


def version_settings(fields: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The settings a request changes (environment, resources, runtime parameter values).

    Values come back under the field they were sent in (see ``VALUE_FIELDS``); the store
    checks them against the version's ``metadata.yaml`` and merges them into those it holds.
    """
    settings: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for key in _ENVIRONMENT_KEYS:
        if key in fields:
            value = fields[key]
            if value is not None and (not isinstance(value, str) or len(value) > 255):
                errors[key] = "must be a string of at most 255 characters, or null"
            else:
                settings[key] = value or None
    if "resources" in fields:
        take_parsed(fields, "resources", parse_resources, settings, errors)
    for key in VALUE_FIELDS:
        if key in fields:
            take_parsed(fields, key, parse_values, settings, errors)
    return settings, errors


def parse_label(raw: Any) -> tuple[str | None, str | None]:
    """A version label (None: not given) and what is wrong with it, if anything."""
    if raw is None:
        return None, None
    if not isinstance(raw, str) or not raw.strip():
        return None, "must be a non-blank string"
    if len(raw) > MAX_LABEL or unstorable(raw):
        return None, f"must be valid text of at most {MAX_LABEL} characters"
    return raw.strip(), None


def parse_resources(raw: Any) -> tuple[dict[str, Any] | None, str | None]:
    """Resources from an object or its JSON text; keys with null values are left out."""
    data, problem = json_value(raw)
    if problem:
        return None, problem
    if data is None:
        return None, None
    if not isinstance(data, dict):
        return None, "must be an object: replicas, resourceLabel, sessionAffinity, ..."
    resources: dict[str, Any] = {}
    for key, kinds in _RESOURCE_TYPES.items():
        value = data.get(key)
        if value is None:
            continue
        if not isinstance(value, kinds) or (kinds == (int,) and isinstance(value, bool)):
            return None, f"{key} must be a {kinds[0].__name__}"
        if key == "replicas" and not 1 <= value <= 100:
            return None, "replicas must be between 1 and 100"
        if key == "resourceLabel" and (not value.strip() or len(value) > 255):
            return None, "resourceLabel must be a non-blank string of at most 255 characters"
        resources[key] = value
    return resources or None, None


class _Rules:
    """The service's rules for a version's content, as the store takes them."""

    max_files = uploads.MAX_FILES
    max_total_bytes = uploads.MAX_TOTAL_BYTES
    definitions = staticmethod(parameters.definitions)
    check_values = staticmethod(parameters.check_values)
    merge_values = staticmethod(parameters.merge_values)
    listing = staticmethod(parameters.listing)
    clash = staticmethod(uploads.clash)


#: What ``SourceStore`` checks a version's files and runtime parameter values with.
VERSION_RULES: VersionRules = _Rules()
