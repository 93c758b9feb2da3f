"""Validation of template create/update fields, as the vendor's payload schemas restrict them."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

RESOURCE_BUNDLE_IDS = [
    "cpu.nano",
    "cpu.micro",
    "cpu.small",
    "cpu.medium",
    "cpu.large",
    "cpu.xlarge",
    "cpu.2xlarge",
    "cpu.3xlarge",
    "cpu.4xlarge",
    "cpu.5xlarge",
    "cpu.6xlarge",
    "cpu.7xlarge",
    "cpu.8xlarge",
    "cpu.16xlarge",
    "DRAWSG4dn.xlargeFrac1Regular",
    "DRAWSG4dn.2xlargeFrac1Regular",
    "DRAWSG5.2xlargeFrac1Regular",
    "DRAWSG5.12xlargeFrac1Regular",
    "DRAWSG5.48xlargeFrac1Regular",
    "DRAWSG6e.xlargeFrac1Regular",
    "DRAWSG6e.12xlargeFrac1Regular",
    "DRAWSG6e.48xlargeFrac1Regular",
    "gpu.small",
    "gpu.medium",
    "gpu.large",
    "gpu.xlarge",
    "gpu.2xlarge",
    "gpu.3xlarge",
    "gpu.5xlarge",
    "gpu.7xlarge",
    "starter",
    "basic",
    "basic.8x",
    "train.l",
    "infer.s",
    "infer.m",
    "infer.l",
]
MAX_README = 1_048_576
MAX_LIST = 1000
_TEXT_LIMITS = {
    "name": 255,
    "description": 10_000,
    "templateType": 255,
    "templateSubType": 255,
    "publisher": 255,
    "category": 255,
}
REQUIRED_ON_CREATE = (
    "name",
    "description",
    "templateType",
    "templateSubType",
    "defaultEnvironment",
)
# Fields a client may send that the sandbox accepts and ignores.
IGNORED_FIELDS = ("isHidden",)
_FIELDS = (
    *_TEXT_LIMITS,
    "enabled",
    "defaultResourceBundleId",
    "defaultEnvironment",
    "templateMetadata",
)


def validate_template_fields(
    fields: dict[str, Any], *, partial: bool
) -> tuple[dict[str, Any], dict[str, str]]:
    """Parsed values by API name and errors by field name (empty when all is well)."""
    values: dict[str, Any] = {}
    errors = {
        name: problem
        for name in _FIELDS
        if name in fields and (problem := unstorable(fields[name])) is not None
    }
    fields = {k: v for k, v in fields.items() if k not in errors}
    if not partial:
        for name in REQUIRED_ON_CREATE:
            if name not in errors and fields.get(name) in (None, ""):
                errors[name] = "this field is required"
    for name, limit in _TEXT_LIMITS.items():
        raw = fields.get(name)
        if raw is None or name in errors:
            continue
        if not isinstance(raw, str):
            errors[name] = "must be a string"
        elif len(raw) > limit:
            errors[name] = f"must be at most {limit} characters long"
        elif not raw.strip() and name not in ("publisher", "category"):
            errors[name] = "must not be blank"
        elif name in ("publisher", "category"):
            values[name] = raw.strip() or None  # blank clears it
        else:
            values[name] = raw if name == "description" else raw.strip()
    if "enabled" in fields and fields["enabled"] is not None:
        parsed = _parse_bool(fields["enabled"])
        if parsed is None:
            errors["enabled"] = 'must be "true" or "false"'
        else:
            values["enabled"] = parsed
    bundle = fields.get("defaultResourceBundleId")
    if bundle not in (None, ""):
        if bundle in RESOURCE_BUNDLE_IDS:
            values["defaultResourceBundleId"] = bundle
        else:
            shown = ", ".join(RESOURCE_BUNDLE_IDS[:4])
            errors["defaultResourceBundleId"] = f"must be a resource bundle id ({shown}, ...)"
    if fields.get("defaultEnvironment") not in (None, "") and "defaultEnvironment" not in errors:
        take_parsed(fields, "defaultEnvironment", _parse_environment, values, errors)
    if "templateMetadata" in fields:
        take_parsed(fields, "templateMetadata", parse_metadata, values, errors)
    return values, errors


def take_parsed(
    fields: dict[str, Any],
    key: str,
    parse: Callable[[Any], tuple[Any, str | None]],
    values: dict[str, Any],
    errors: dict[str, str],
) -> None:
    """Parse ``fields[key]``: its value goes into ``values``, or its problem into ``errors``."""
    value, problem = parse(fields[key])
    if problem:
        errors[key] = problem
    else:
        values[key] = value


def _parse_bool(raw: Any) -> bool | None:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
        return raw.strip().lower() == "true"
    return None


def _load_json(raw: Any) -> tuple[Any, str | None]:
    if isinstance(raw, (dict, list)):
        return raw, None
    if not isinstance(raw, str):
        return None, "must be a JSON string"
    try:
        data = json.loads(raw, parse_constant=reject_constant)
    except (ValueError, RecursionError):
        return None, "must be valid JSON"
    return data, unstorable(data)


def reject_constant(name: str) -> Any:
    """For ``json.loads``: ``NaN`` and ``Infinity`` are not JSON (they could not be sent back)."""
    raise ValueError(f"{name} is not valid JSON")


def unstorable(value: Any) -> str | None:
    """Why ``value``, or anything nested in it, could not be stored and sent back; or None.

    A JSON number such as ``1e999`` parses to infinity, which JSON cannot carry back, and a JSON
    escape such as ``"\\ud800"`` gives a string that is not valid Unicode (SQLite refuses it).
    """
    # Iterative, and the path is built only for the culprit: nesting may be deep.
    stack: list[tuple[_Path, Any]] = [(None, value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return _at(path, "must be a finite number (a JSON number such as 1e999 overflows)")
        if isinstance(item, str) and not _is_unicode(item):
            return _at(path, "must be valid Unicode text (it holds a lone surrogate)")
        if isinstance(item, dict):
            for key, child in item.items():
                if isinstance(key, str) and not _is_unicode(key):
                    return _at(path, "must have valid Unicode keys (one holds a lone surrogate)")
                stack.append(((path, str(key)), child))
        elif isinstance(item, list):
            stack.extend(((path, index), child) for index, child in enumerate(item))
    return None


# A position inside a value: None at the top, else (parent position, key or list index).
_Path = tuple[Any, str | int] | None


def _at(path: _Path, problem: str) -> str:
    parts: list[str] = []
    while path is not None:
        path, step = path
        parts.append(f"[{step}]" if isinstance(step, int) else f".{step}")
    where = "".join(reversed(parts)).lstrip(".")
    if not where:
        return problem
    shown = where if len(where) <= 80 else where[:77] + "..."
    return f"{shown} {problem}"


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _parse_environment(raw: Any) -> tuple[dict[str, str], str | None]:
    data, problem = _load_json(raw)
    if problem:
        return {}, problem
    if not isinstance(data, dict):
        return {}, "must be a JSON object with environmentId and environmentVersionId"
    env: dict[str, str] = {}
    for key in ("environmentId", "environmentVersionId"):
        value = data.get(key)
        if not isinstance(value, str) or not value.strip():
            return {}, f"{key} is required and must be a non-empty string"
        if len(value) > 255:
            return {}, f"{key} must be at most 255 characters long"
        env[key] = value
    return env, None


def parse_metadata(raw: Any) -> tuple[dict[str, Any], str | None]:
    """Template metadata from its JSON string, normalized: every documented key present."""
    if raw is None or raw == "" or raw == "null":
        return normalize_metadata({}), None
    data, problem = _load_json(raw)
    if problem:
        return {}, problem
    if data is None:
        return normalize_metadata({}), None
    if not isinstance(data, dict):
        return {}, "must be a JSON object"
    readme = data.get("readme")
    if readme is not None and not isinstance(readme, str):
        return {}, "readme must be a string or null"
    if readme is not None and len(readme) > MAX_README:
        return {}, f"readme must be at most {MAX_README} characters long"
    for key in ("tags", "resourceBundleIds", "classLabels"):
        value = data.get(key)
        if value is None:
            continue
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return {}, f"{key} must be a list of strings"
        if len(value) > MAX_LIST:
            return {}, f"{key} must have at most {MAX_LIST} items"
    source = data.get("source")
    if source is not None and not isinstance(source, dict):
        return {}, "source must be an object"
    specific = data.get("templateTypeSpecificResources")
    if specific is not None:
        if not isinstance(specific, dict):
            return {}, "templateTypeSpecificResources must be an object"
        flag = specific.get("serviceWebRequestsOnRootPath")
        if flag is not None and not isinstance(flag, bool):
            return (
                {},
                "templateTypeSpecificResources.serviceWebRequestsOnRootPath must be a boolean",
            )
    return normalize_metadata(data), None


def normalize_metadata(data: dict[str, Any]) -> dict[str, Any]:
    """Metadata with every documented key present (lists and objects never null)."""
    meta = {k: v for k, v in data.items() if v is not None}
    meta.setdefault("readme", None)
    for key in ("tags", "resourceBundleIds", "classLabels"):
        meta.setdefault(key, [])
    meta.setdefault("source", {})
    meta.setdefault("templateTypeSpecificResources", {})
    return meta


def json_value(raw: Any) -> tuple[Any, str | None]:
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
