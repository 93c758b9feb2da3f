"""Checks made before a request is sent: texts, ids, template types, order-by values, filters,
metadata, environments and resources; each raises ``InvalidArgumentError`` with a message that
names the fix, so nothing invalid reaches the server.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic.alias_generators import to_camel

from dr_notebook.enums import (
    RESOURCE_BUNDLE_IDS,
    TEMPLATE_TYPE_LABELS,
    expand_template_type,
    known_template_types,
    order_by_value,
)
from dr_notebook.errors import InvalidArgumentError, UnknownValueWarning
from dr_notebook.models import ApiModel, DefaultEnvironment, Template, TemplateMetadata

TEXT_LIMITS = {
    "name": 255,
    "description": 10_000,
    "template_type": 255,
    "template_sub_type": 255,
    "publisher": 255,
    "category": 255,
}
MAX_README = 1_048_576
MAX_LIST_ITEMS = 1000
_DRIVE = re.compile(r"^[A-Za-z]:")

FORM_NAMES = {
    "name": "name",
    "description": "description",
    "template_type": "templateType",
    "template_sub_type": "templateSubType",
    "default_resource_bundle_id": "defaultResourceBundleId",
    "publisher": "publisher",
    "category": "category",
}
METADATA_NAMES = {
    "readme": "readme",
    "tags": "tags",
    "resource_bundle_ids": "resourceBundleIds",
    "class_labels": "classLabels",
}


def check_text(name: str, value: Any, *, required: bool) -> str | None:
    """``value`` if it is a string within its length limit (and present when required)."""
    if value is None:
        if required:
            raise InvalidArgumentError(f"{name} is required: pass {name}='...'.")
        return None
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{name} must be a string, not {type(value).__name__}.")
    if required and not value.strip():
        raise InvalidArgumentError(f"{name} must not be empty.")
    limit = TEXT_LIMITS.get(name)
    if limit is not None and len(value) > limit:
        raise InvalidArgumentError(
            f"{name} is {len(value)} characters long; the limit is {limit}: shorten it."
        )
    return value


_warned_types: set[str] = set()


def check_template_type(value: Any) -> Any:
    """``template_type`` with short names expanded (see ``enums.expand_template_type``).

    A type outside the known ones is sent as given, as the API allows, after a warning that
    names the known ones: once per value and process.
    """
    if not isinstance(value, str):
        return value  # check_text says what is wrong with it
    expanded = expand_template_type(value) or value
    if expanded.strip() and expanded not in TEMPLATE_TYPE_LABELS and expanded not in _warned_types:
        _warned_types.add(expanded)
        warnings.warn(
            f"template_type={expanded!r} is not a known type ({known_template_types()}); "
            "it is sent as given, and no filter by a known type will find it.",
            UnknownValueWarning,
            stacklevel=4,  # the caller of create() or update()
        )
    return expanded


def check_order_by(value: Any, allowed: tuple[str, ...]) -> str | None:
    """The API's ``orderBy`` value for ``value`` (snake_case or camelCase, ``-`` descending)."""
    if value is None:
        return None
    api = order_by_value(value, allowed) if isinstance(value, str) else None
    if api is None:
        raise InvalidArgumentError(
            f"order_by={value!r} is not allowed; use one of: {', '.join(allowed)} "
            "(snake_case works too, e.g. '-created_at')."
        )
    return api


def check_id(name: str, value: Any) -> str:
    """The id string of ``value`` (an id, or an entity such as a ``Template``)."""
    if isinstance(value, ApiModel):
        value = getattr(value, "id", value)
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgumentError(f"{name} must be a non-empty id string, not {value!r}.")
    return value.strip()


def check_limit(limit: Any) -> int | None:
    """``limit`` if it is a whole number >= 0 or None."""
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise InvalidArgumentError(f"limit must be a whole number >= 0 or None, not {limit!r}.")
    return limit


def filter_params(
    filters: Mapping[str, Any],
    keys: Mapping[str, str],
    order_by: Iterable[str],
    *,
    ids: Iterable[str] = (),
) -> tuple[dict[str, str], int | None]:
    """A listing's query parameters (``keys`` maps each filter to its API name) and its limit.

    Filter values are strings; those named in ``ids`` may also be entities (their id is sent);
    ``order_by`` lists the allowed ``orderBy`` values. Unknown filters are refused.
    """
    unknown = sorted(set(filters) - {*keys, "limit"})
    if unknown:
        raise InvalidArgumentError(
            f"Unknown filters {unknown}; use: {', '.join([*keys, 'limit'])}."
        )
    id_filters = set(ids)
    params: dict[str, str] = {}
    for snake, key in keys.items():
        value = filters.get(snake)
        if value is None:
            continue
        if snake in id_filters:
            value = check_id(snake, value)
        elif not isinstance(value, str):
            raise InvalidArgumentError(f"{snake} must be a string, not {type(value).__name__}.")
        params[key] = value
    if "orderBy" in params:
        params["orderBy"] = check_order_by(params["orderBy"], tuple(order_by)) or ""
    return params, check_limit(filters.get("limit"))


def check_str_list(name: str, value: Any) -> list[str]:
    """``value`` as a list of at most ``MAX_LIST_ITEMS`` strings."""
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise InvalidArgumentError(f"{name} must be a list of strings, e.g. {name}=['a', 'b'].")
    items = list(value)
    if not all(isinstance(item, str) for item in items):
        raise InvalidArgumentError(f"{name} must be a list of strings.")
    if len(items) > MAX_LIST_ITEMS:
        raise InvalidArgumentError(f"{name} has {len(items)} items; the limit is {MAX_LIST_ITEMS}.")
    return items


def environment_to_api(value: Any) -> dict[str, str]:
    """``default_environment`` as the API's ``{environmentId, environmentVersionId}``.

    ``value``: a template (its environment is copied), a ``DefaultEnvironment``, a dict (snake
    or camel keys) or a pair ``(id, version_id)``.
    """
    if isinstance(value, Template):
        value = value.default_environment
    if isinstance(value, DefaultEnvironment):
        env = {
            "environmentId": value.environment_id,
            "environmentVersionId": value.environment_version_id,
        }
    elif isinstance(value, Mapping):
        env = {
            "environmentId": value.get("environmentId", value.get("environment_id")),
            "environmentVersionId": value.get(
                "environmentVersionId", value.get("environment_version_id")
            ),
        }
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        env = {"environmentId": value[0], "environmentVersionId": value[1]}
    else:
        env = {}
    checked = {k: v for k, v in env.items() if isinstance(v, str) and v.strip()}
    if len(checked) != 2:
        raise InvalidArgumentError(
            "default_environment needs an environment id and version id: pass an existing "
            "template (its environment is copied), {'environment_id': '...', "
            "'environment_version_id': '...'} or a pair (id, version_id)."
        )
    return checked


def resources_to_api(value: Any) -> dict[str, Any]:
    """Application ``resources`` (snake_case or camelCase keys) as the API's camelCase object."""
    if not isinstance(value, Mapping):
        raise InvalidArgumentError(
            "resources must be a dict, e.g. {'resource_label': 'cpu.small', 'replicas': 1}."
        )
    return {(to_camel(str(k)) if "_" in str(k) else str(k)): v for k, v in value.items()}


def metadata_to_api(meta: TemplateMetadata | Mapping[str, Any]) -> dict[str, Any]:
    """``templateMetadata`` in the API's camelCase, from a model or a (snake or camel) dict."""
    if isinstance(meta, TemplateMetadata):
        return meta.to_api()
    if isinstance(meta, Mapping):
        snake_to_api = {**METADATA_NAMES, "source": "source"}
        snake_to_api["template_type_specific_resources"] = "templateTypeSpecificResources"
        return {snake_to_api.get(k, k): v for k, v in meta.items()}
    raise InvalidArgumentError("template_metadata must be a TemplateMetadata or a dict.")


def check_metadata(meta: dict[str, Any]) -> dict[str, Any]:
    """``meta`` with its README read (when a path) and its lists and bundle ids checked."""
    readme = meta.get("readme")
    if isinstance(readme, os.PathLike):
        readme = meta["readme"] = Path(readme).read_text(encoding="utf-8")
    if readme is not None and not isinstance(readme, str):
        raise InvalidArgumentError("readme must be a string (the README's markdown).")
    if readme is not None and len(readme) > MAX_README:
        raise InvalidArgumentError(f"readme is longer than {MAX_README} characters: shorten it.")
    for snake, key in METADATA_NAMES.items():
        if key != "readme" and meta.get(key) is not None:
            meta[key] = check_str_list(snake, meta[key])
    bundles = [b for b in meta.get("resourceBundleIds") or [] if b not in RESOURCE_BUNDLE_IDS]
    if bundles:
        raise InvalidArgumentError(
            f"resource_bundle_ids has unknown ids {bundles}; "
            f"allowed: {', '.join(RESOURCE_BUNDLE_IDS)}."
        )
    return meta


def check_source_path(path: object) -> str:
    """A file's path inside a source: relative, forward slashes, no ``..`` and no drive."""
    if not isinstance(path, str) or not path.strip():
        raise InvalidArgumentError(f"A file path in a source must be a non-empty string: {path!r}.")
    text = path.replace("\\", "/")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if text.startswith("/") or _DRIVE.match(text) or ".." in parts or not parts or "\x00" in text:
        raise InvalidArgumentError(
            f"{path!r} is not a path inside the source: give a relative path such as "
            "'app.py' or 'templates/index.html'."
        )
    return "/".join(parts)
