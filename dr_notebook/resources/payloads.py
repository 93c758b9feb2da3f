"""What template create/update requests send: checks made before sending, and content packing.

Everything here raises ``InvalidArgumentError`` with a message that names the fix, so nothing
invalid reaches the server.
"""

from __future__ import annotations

import io
import os
import re
import warnings
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO, Union

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
MAX_FILES = 1000
SKIPPED_NAMES = frozenset({".git", "__pycache__", ".ipynb_checkpoints", ".DS_Store", ".venv"})
FileContent = Union[str, os.PathLike, bytes, bytearray, memoryview, BinaryIO]  # noqa: UP007
#: What ``new_version(files=...)`` takes: a folder, ``{path_in_source: content}`` or paths.
SourceFiles = Union[  # noqa: UP007
    str,
    os.PathLike,
    Mapping[str, Union[str, bytes, os.PathLike]],  # noqa: UP007
    Iterable[Union[str, os.PathLike]],  # noqa: UP007
]
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


def _skipped(name: str) -> bool:
    """Caches and ``.env`` files (which often hold the API token) never go into an upload."""
    return name in SKIPPED_NAMES or name == ".env" or name.startswith(".env.")


def folder_files(folder: Path) -> Iterator[Path]:
    """The files under ``folder`` that an upload takes, in a stable order.

    Left out: ``.git``, caches, ``.env`` / ``.env.*`` files and symbolic links (a link could
    pull a file from outside the folder, such as a credentials file, into a shared catalogue).
    At most ``MAX_FILES``.
    """
    count = 0
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not _skipped(d))
        for name in sorted(names):
            if _skipped(name):
                continue
            path = Path(root, name)
            if path.is_symlink() or not path.is_file():
                continue
            count += 1
            if count > MAX_FILES:
                raise InvalidArgumentError(
                    f"{folder} holds more than {MAX_FILES} files; an upload may have at most "
                    f"{MAX_FILES}."
                )
            yield path


def zip_folder(folder: Path) -> bytes:
    """The folder's files (see :func:`folder_files`) as an in-memory zip (relative paths)."""
    buffer = io.BytesIO()
    count = 0
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in folder_files(folder):
            count += 1
            archive.write(path, path.relative_to(folder).as_posix())
    if count == 0:
        raise InvalidArgumentError(f"The folder {folder} holds no files to upload.")
    return buffer.getvalue()


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


def _bytes_of(value: object, where: str) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, os.PathLike):
        path = Path(value).expanduser()
        if not path.is_file():
            raise InvalidArgumentError(f"{where}: {str(path)!r} is not a file.")
        return path.read_bytes()
    raise InvalidArgumentError(
        f"{where}: give the content as str (text), bytes or a pathlib.Path, "
        f"not {type(value).__name__}."
    )


def source_files(files: SourceFiles) -> list[tuple[str, bytes]]:
    """``(path_in_source, content)`` pairs for a source version upload.

    ``files`` is a folder (its files at their relative paths; see :func:`folder_files` for what
    is left out), a mapping ``{path_in_source: content}`` where content is ``str`` (text, sent
    as UTF-8), ``bytes`` or a ``pathlib.Path`` to read, or a list of paths: each file goes in
    under its own name, each folder's files at their paths relative to that folder.
    """
    pairs: list[tuple[str, bytes]] = []
    if isinstance(files, Mapping):
        for key, value in files.items():
            pairs.append((check_source_path(key), _bytes_of(value, f"files[{key!r}]")))
    else:
        entries = [files] if isinstance(files, (str, os.PathLike)) else files
        if not isinstance(entries, Iterable):
            raise InvalidArgumentError(
                "files must be a folder, a {path_in_source: content} mapping or a list of paths."
            )
        for entry in entries:
            if not isinstance(entry, (str, os.PathLike)):
                raise InvalidArgumentError(
                    f"files lists {entry!r}; a list of files holds paths (str or Path)."
                )
            path = Path(entry).expanduser()
            if path.is_dir():
                pairs += [
                    (p.relative_to(path).as_posix(), p.read_bytes()) for p in folder_files(path)
                ]
            elif path.is_file():
                pairs.append((path.name, path.read_bytes()))
            else:
                raise InvalidArgumentError(f"{str(entry)!r}: no such file or folder.")
    seen: set[str] = set()
    for name, _ in pairs:
        if name in seen:
            raise InvalidArgumentError(f"Two files would go to {name!r} in the source.")
        seen.add(name)
    if len(pairs) > MAX_FILES:
        raise InvalidArgumentError(f"{len(pairs)} files; an upload may have at most {MAX_FILES}.")
    return pairs


def read_content(file: FileContent, filename: str | None = None) -> tuple[str, bytes, Path | None]:
    """Template content as ``(filename, bytes, folder)``: a file, a folder (zipped) or bytes."""
    if isinstance(file, (bytes, bytearray, memoryview)):
        content = bytes(file)
        default = "template.zip" if content[:4] == b"PK\x03\x04" else "template"
        name, folder = filename or default, None
    elif isinstance(file, (str, os.PathLike)):
        path = Path(file).expanduser()
        if path.is_dir():
            content, folder = zip_folder(path), path
            name = filename or f"{path.resolve().name or 'template'}.zip"
        elif path.is_file():
            content, folder, name = path.read_bytes(), None, filename or path.name
        else:
            raise InvalidArgumentError(f"file={str(file)!r}: no such file or folder.")
    elif hasattr(file, "read"):
        content = file.read()
        if isinstance(content, str):
            content = content.encode("utf-8")
        name = filename or Path(getattr(file, "name", "") or "template").name
        folder = None
    else:
        raise InvalidArgumentError(
            "file must be a path to a file or folder, bytes, or a binary file object."
        )
    if not content:
        raise InvalidArgumentError("The template content is empty: give a non-empty file.")
    return name, content, folder


def content_type(content: bytes) -> str:
    """The upload's media type, from its first bytes (zip, gzip, else octet-stream)."""
    if content[:4] == b"PK\x03\x04":
        return "application/zip"
    if content[:2] == b"\x1f\x8b":
        return "application/gzip"
    return "application/octet-stream"
