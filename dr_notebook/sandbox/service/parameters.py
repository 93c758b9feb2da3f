"""Runtime parameters: definitions from ``metadata.yaml``, checks of values, the app's variables.

A source version's ``metadata.yaml`` declares ``runtimeParameterDefinitions``; values are set on
the version (``runtimeParameterValues`` as ``[{fieldName, type, value}]``, or the newer
``runtimeParameters`` as ``[{fieldName, type, currentValue}]``). Everything here is pure: the
store reads the files, the routes turn problems into 422s, the runtime calls
:func:`runtime_environment`.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import yaml

from dr_notebook.sandbox.service.validation import json_value, unstorable

MAX_RUNTIME_PARAMETERS = 100
MAX_VALUE_CHARS = 65_536
TYPES = ("string", "boolean", "numeric", "credential", "deployment")
RESERVED_PREFIXES = ("DRUM_", "MLOPS_", "KUBERNETES_")
ENV_PREFIX = "MLOPS_RUNTIME_PARAM_"
#: What a version's ``runtimeParameters`` shows instead of a credential's secret.
CREDENTIAL_MASK = "********"
_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
# The payload key a credential given as one string goes under, by credential type.
_SECRET_KEYS = {"basic": "password", "bearer": "token", "gcp": "gcpKey"}


def parse_values(raw: Any) -> tuple[list[dict[str, Any]], str | None]:
    """``[{fieldName, type, value}]`` from either form, as a list or its JSON text.

    Entries may carry ``value`` (``runtimeParameterValues``) or ``currentValue``
    (``runtimeParameters``); a later entry for the same name wins. A ``None`` value unsets.
    """
    data, problem = json_value(raw)
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
        name, kind = entry.get("fieldName"), entry.get("type", "string")
        value = entry["value"] if "value" in entry else entry.get("currentValue")
        if not isinstance(name, str) or not _FIELD_NAME.fullmatch(name):
            return [], "fieldName must be letters, digits and underscores (a variable name)"
        if not isinstance(kind, str) or not kind or len(kind) > 64:
            return [], f"{name}: type must be a short string such as 'string' or 'numeric'"
        if len(json.dumps(value)) > MAX_VALUE_CHARS:
            return [], f"{name}: value is too large"
        values[name] = {"fieldName": name, "type": kind, "value": value}
    return list(values.values()), None


def definitions(metadata: bytes | None) -> list[dict[str, Any]]:
    """The usable ``runtimeParameterDefinitions`` of a ``metadata.yaml`` (none if unreadable)."""
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


def check_values(
    declared: list[dict[str, Any]], values: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[str]]:
    """``values`` checked against the definitions: the values as stored, and every problem.

    Problems name the parameter: unknown names, reserved prefixes, wrong types (numbers and
    booleans may come as their text, as form fields and command lines send them), values out
    of ``minValue``/``maxValue``, empty values where ``allowEmpty`` is false.
    """
    by_name = {d["fieldName"]: d for d in declared}
    checked: list[dict[str, Any]] = []
    problems: list[str] = []
    for entry in values:
        name, value = entry["fieldName"], entry["value"]
        definition = by_name.get(name)
        if name.upper().startswith(RESERVED_PREFIXES):
            problems.append(f"{name}: names beginning {', '.join(RESERVED_PREFIXES)} are reserved")
            continue
        if definition is None:
            known = ", ".join(by_name) or "none"
            problems.append(f"{name}: metadata.yaml declares no such parameter (it has: {known})")
            continue
        kind = str(definition.get("type") or "string")
        if value is None:
            checked.append({"fieldName": name, "type": kind, "value": None})
            continue
        value, problem = _coerce(kind, value)
        problem = problem or _range_problem(definition, value)
        if problem is None and value == "" and definition.get("allowEmpty") is False:
            problem = "must not be empty"
        if problem:
            problems.append(f"{name}: {problem}")
        else:
            checked.append({"fieldName": name, "type": kind, "value": value})
    return checked, problems


def merge_values(
    stored: list[dict[str, Any]], changes: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The stored values with ``changes`` applied by name (a ``None`` value removes one)."""
    merged = {v["fieldName"]: v for v in stored}
    for change in changes:
        if change["value"] is None:
            merged.pop(change["fieldName"], None)
        else:
            merged[change["fieldName"]] = change
    return list(merged.values())


def listing(
    metadata: bytes | None, values: list[dict[str, Any]], *, reveal: bool = False
) -> list[dict[str, Any]]:
    """A version's ``runtimeParameters``: each definition with its ``currentValue``.

    Values of parameters the metadata no longer declares are left out. Credentials show
    :data:`CREDENTIAL_MASK` unless ``reveal`` (the runtime's view, never an answer's).
    """
    current = {v["fieldName"]: v["value"] for v in values}
    shown: list[dict[str, Any]] = []
    for definition in definitions(metadata):
        name = definition["fieldName"]
        kind = str(definition.get("type") or "string")
        value = current.get(name)
        if kind == "credential" and value is not None and not reveal:
            value = CREDENTIAL_MASK
        shown.append(
            {
                "fieldName": name,
                "type": kind,
                "description": definition.get("description"),
                "defaultValue": definition.get("defaultValue"),
                "currentValue": value,
                "allowEmpty": bool(definition.get("allowEmpty", True)),
                "minValue": definition.get("minValue"),
                "maxValue": definition.get("maxValue"),
                "credentialType": definition.get("credentialType"),
            }
        )
    return shown


def runtime_environment(parameters: list[dict[str, Any]]) -> dict[str, str]:
    """``MLOPS_RUNTIME_PARAM_<NAME>`` for each parameter with a value (else its default).

    ``parameters`` is :func:`listing` with ``reveal=True``. As DataRobot sets them for
    applications: the plain value (numbers as written, booleans ``true``/``false``), except
    credentials: JSON ``{"type": "credential", "payload": {"credentialType", ...}}``.
    """
    env: dict[str, str] = {}
    for parameter in parameters:
        value = parameter.get("currentValue")
        if value is None:
            value = parameter.get("defaultValue")
        if value is None:
            continue
        kind = parameter.get("type") or "string"
        if kind == "credential":
            text = json.dumps({"type": "credential", "payload": _credential(parameter, value)})
        else:
            text = _plain(value)
        env[f"{ENV_PREFIX}{parameter['fieldName']}"] = text
    return env


def credential_secrets(parameters: list[dict[str, Any]]) -> list[str]:
    """The secret strings of the credentials set (their values, and each as the app gets it),
    for the runtime to redact from the app's output like the tokens."""
    found: list[str] = []
    credentials = [p for p in parameters if p.get("type") == "credential"]
    for text in runtime_environment(credentials).values():
        found.append(text)
        payload = json.loads(text)["payload"]
        found += [v for k, v in payload.items() if k != "credentialType" and isinstance(v, str)]
    return [s for s in found if len(s) >= 4]  # never redact every "a" of the output


def _credential(parameter: dict[str, Any], value: Any) -> dict[str, Any]:
    kind = parameter.get("credentialType") or "api_token"
    if isinstance(value, dict):
        return {"credentialType": kind, **value}
    return {"credentialType": kind, _SECRET_KEYS.get(kind, "apiToken"): str(value)}


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _coerce(kind: str, value: Any) -> tuple[Any, str | None]:
    """The value as its type stores it, or what is wrong with it."""
    if kind == "numeric":
        number = value
        if isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                return None, f"must be a number, not {value!r}"
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            return None, f"must be a number, not {type(value).__name__}"
        if not math.isfinite(number):
            return None, "must be a finite number"
        return (int(number) if float(number).is_integer() else number), None
    if kind == "boolean":
        if isinstance(value, bool):
            return value, None
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true", None
        return None, f"must be true or false, not {value!r}"
    if kind == "credential" and isinstance(value, dict):
        return value, None
    if not isinstance(value, str):
        return None, f"must be a string, not {type(value).__name__}"
    return value, None


def _range_problem(definition: dict[str, Any], value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    low, high = _number(definition.get("minValue")), _number(definition.get("maxValue"))
    if low is not None and value < low:
        return f"{value} is below the minimum {definition['minValue']}"
    if high is not None and value > high:
        return f"{value} is above the maximum {definition['maxValue']}"
    return None


def _number(value: Any) -> float | None:
    return None if isinstance(value, bool) or not isinstance(value, (int, float)) else value


def _is_json(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True
