"""Source versions: new versions, and checks of what a request may change in one."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from dr_notebook.sandbox.store import new_id, now_iso
from dr_notebook.sandbox.validation import reject_constant, take_parsed, unstorable

MAX_LABEL = 255
MAX_RUNTIME_PARAMETERS = 100
_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
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
    """The settings a request changes (environment, resources, runtime parameter values)."""
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
    if "runtimeParameterValues" in fields:
        take_parsed(fields, "runtimeParameterValues", parse_runtime_values, settings, errors)
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
    data, problem = _json_value(raw)
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


def parse_runtime_values(raw: Any) -> tuple[list[dict[str, Any]], str | None]:
    """``[{fieldName, type, value}]`` from a list or its JSON text (both are sent)."""
    data, problem = _json_value(raw)
    if problem:
        return [], problem
    if data is None:
        return [], None
    if not isinstance(data, list) or len(data) > MAX_RUNTIME_PARAMETERS:
        return [], f"must be a list of at most {MAX_RUNTIME_PARAMETERS} objects"
    values: dict[str, dict[str, Any]] = {}
    for entry in data:
        if not isinstance(entry, dict):
            return [], "each entry must be an object with fieldName, type and value"
        name, kind, value = entry.get("fieldName"), entry.get("type", "string"), entry.get("value")
        if not isinstance(name, str) or not _FIELD_NAME.fullmatch(name):
            return [], "fieldName must be letters, digits and underscores (a variable name)"
        if not isinstance(kind, str) or not kind or len(kind) > 64:
            return [], f"{name}: type must be a short string such as 'string' or 'numeric'"
        if isinstance(value, (dict, list)) and len(json.dumps(value)) > 65_536:
            return [], f"{name}: value is too large"
        values[name] = {"fieldName": name, "type": kind, "value": value}
    return list(values.values()), None


def runtime_parameters(
    metadata: bytes | None, values: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The version's runtime parameters: ``metadata.yaml``'s definitions with the set values."""
    parameters: dict[str, dict[str, Any]] = {}
    for definition in _definitions(metadata):
        name = definition["fieldName"]
        parameters[name] = {
            "fieldName": name,
            "type": str(definition.get("type") or "string"),
            "description": definition.get("description"),
            "defaultValue": definition.get("defaultValue"),
            "currentValue": None,
            "allowEmpty": bool(definition.get("allowEmpty", True)),
        }
    for entry in values:
        name = entry["fieldName"]
        known = parameters.setdefault(
            name,
            {"fieldName": name, "type": entry["type"], "description": None,
             "defaultValue": None, "currentValue": None, "allowEmpty": True},
        )  # fmt: skip
        known["currentValue"] = entry["value"]
    return list(parameters.values())


def runtime_environment(parameters: list[dict[str, Any]]) -> dict[str, str]:
    """``MLOPS_RUNTIME_PARAM_<NAME>`` variables, each ``{"type", "payload"}`` as DataRobot sets."""
    env: dict[str, str] = {}
    for parameter in parameters:
        value = parameter["currentValue"]
        if value is None:
            value = parameter["defaultValue"]
        if value is None:
            continue
        payload = {"type": parameter["type"], "payload": value}
        env[f"MLOPS_RUNTIME_PARAM_{parameter['fieldName']}"] = json.dumps(payload)
    return env


def _definitions(metadata: bytes | None) -> list[dict[str, Any]]:
    if not metadata:
        return []
    try:
        spec = yaml.safe_load(metadata.decode("utf-8", errors="replace"))
    except yaml.YAMLError:
        return []
    found = spec.get("runtimeParameterDefinitions") if isinstance(spec, dict) else None
    if not isinstance(found, list):
        return []
    return [
        d
        for d in found[:MAX_RUNTIME_PARAMETERS]
        if isinstance(d, dict)
        and isinstance(d.get("fieldName"), str)
        and _FIELD_NAME.fullmatch(d["fieldName"])
        and unstorable(d) is None
        and _is_json(d)
    ]


def _is_json(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


def _json_value(raw: Any) -> tuple[Any, str | None]:
    """A value given as itself or as JSON text (multipart parts are always text)."""
    if isinstance(raw, str):
        if not raw.strip():
            return None, None
        try:
            raw = json.loads(raw, parse_constant=reject_constant)
        except (ValueError, RecursionError):
            return None, "must be valid JSON"
    problem = unstorable(raw)
    return raw, problem
