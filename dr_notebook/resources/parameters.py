"""Runtime parameters: definitions from ``metadata.yaml`` or a version, values checked and packed.

Values are checked here, before anything is created: names the definitions do not declare,
reserved names, wrong types, values out of range and required parameters left without a value
make one :class:`~dr_notebook.errors.RuntimeParameterError` naming every problem.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from dr_notebook.errors import InvalidArgumentError, RuntimeParameterError
from dr_notebook.models import RuntimeParameter

__all__ = [
    "METADATA_FILE",
    "RESERVED_PREFIXES",
    "check_values",
    "parse_metadata",
    "values_to_api",
]

METADATA_FILE = "metadata.yaml"
RESERVED_PREFIXES = ("DRUM_", "MLOPS_", "KUBERNETES_")
_TRUE, _FALSE = ("true", "yes", "1", "on"), ("false", "no", "0", "off")


def parse_metadata(text: str | bytes | None) -> list[RuntimeParameter]:
    """The ``runtimeParameterDefinitions`` of a ``metadata.yaml`` as typed objects.

    Entries without a ``fieldName`` are left out; a file that is not YAML raises
    ``InvalidArgumentError`` naming the problem (DataRobot refuses such a file too).
    """
    if not text:
        return []
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    try:
        spec = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise InvalidArgumentError(f"{METADATA_FILE} is not valid YAML: {err}") from None
    found = spec.get("runtimeParameterDefinitions") if isinstance(spec, dict) else None
    if not isinstance(found, list):
        return []
    return [
        RuntimeParameter.from_api(entry)
        for entry in found
        if isinstance(entry, dict) and isinstance(entry.get("fieldName"), str)
    ]


def check_values(
    definitions: Iterable[RuntimeParameter],
    values: Mapping[str, Any] | None,
    *,
    what: str = "the application",
) -> list[dict[str, Any]]:
    """``values`` (``{name: value}``) as the API's ``[{fieldName, type, value}]``, checked.

    Numbers and booleans may be given as text (``"0.5"``, ``"true"``), as command lines give
    them. A required parameter (``allowEmpty: false``, no default) counts as given when
    ``values`` has it or it already has a current value. Raises
    :class:`RuntimeParameterError` naming every problem; nothing is sent by this function.
    """
    declared = {d.field_name: d for d in definitions}
    if values is not None and not isinstance(values, Mapping):
        raise InvalidArgumentError(
            "runtime_parameters must be a dict {name: value}, e.g. {'MODEL_NAME': 'gpt-4o'}."
        )
    given = dict(values or {})
    entries: list[dict[str, Any]] = []
    problems: list[str] = []
    for name, raw in given.items():
        definition = declared.get(name)
        if not isinstance(name, str) or name.upper().startswith(RESERVED_PREFIXES):
            problems.append(f"{name}: names beginning {', '.join(RESERVED_PREFIXES)} are reserved")
        elif definition is None:
            known = ", ".join(declared) or "none"
            problems.append(f"{name}: not a parameter of {what} (it declares: {known})")
        else:
            value, problem = _checked(definition, raw)
            if problem:
                problems.append(f"{name}: {problem}")
            else:
                entries.append({"fieldName": name, "type": definition.type, "value": value})
    missing = [
        d
        for d in declared.values()
        if d.required and d.current_value is None and given.get(d.field_name) in (None, "")
        and d.field_name not in {p.split(":")[0] for p in problems}
    ]  # fmt: skip
    if problems or missing:
        lines = list(problems)
        if missing:
            lines.append("missing required " + ", ".join(_described(d) for d in missing))
        raise RuntimeParameterError(
            f"Runtime parameters of {what} refused (nothing was created): {'; '.join(lines)}.",
            problems=problems,
            missing=missing,
        )
    return entries


def values_to_api(entries: list[dict[str, Any]]) -> dict[str, str]:
    """The request body setting ``entries``: ``runtimeParameterValues`` as a JSON string."""
    return {"runtimeParameterValues": json.dumps(entries)}


def _described(definition: RuntimeParameter) -> str:
    about = f" ({definition.description.rstrip('.')})" if definition.description else ""
    return f"{definition.field_name}{about}"


def _checked(definition: RuntimeParameter, raw: Any) -> tuple[Any, str | None]:
    """The value as the API takes it, or what is wrong with it."""
    kind = definition.type
    if raw is None:
        return None, None
    if kind == "numeric":
        value = raw
        if isinstance(raw, str):
            try:
                value = float(raw.strip())
            except ValueError:
                return None, f"must be a number, not {raw!r}"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None, f"must be a number, not {type(raw).__name__}"
        if not math.isfinite(value):
            return None, "must be a finite number"
        if float(value).is_integer():
            value = int(value)
        low, high = definition.min_value, definition.max_value
        if low is not None and value < low:
            return None, f"{value} is below the minimum {low:g}"
        if high is not None and value > high:
            return None, f"{value} is above the maximum {high:g}"
        return value, None
    if kind == "boolean":
        if isinstance(raw, bool):
            return raw, None
        text = raw.strip().lower() if isinstance(raw, str) else None
        if text in _TRUE or text in _FALSE:
            return text in _TRUE, None
        return None, f"must be true or false, not {raw!r}"
    if definition.is_credential and isinstance(raw, Mapping):
        return dict(raw), None
    if not isinstance(raw, str):
        return None, f"must be a string, not {type(raw).__name__}"
    if raw == "" and not definition.allow_empty:
        return None, "must not be empty"
    return raw, None
