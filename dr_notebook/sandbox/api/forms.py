"""Reading request bodies: template fields and content, version files (multipart or JSON)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from dr_notebook.sandbox.api.errors import ApiError
from dr_notebook.sandbox.service.uploads import (
    MAX_FILE_BYTES,
    MAX_FILES,
    MAX_UPLOAD_BYTES,
    UploadError,
    safe_path,
    unpack,
)
from dr_notebook.sandbox.service.validation import reject_constant

MAX_BODY_BYTES = MAX_UPLOAD_BYTES + 8 * 1024 * 1024
MAX_FIELD_BYTES = 4 * 1024 * 1024
FILE_FIELDS = ("file", "template-content")


@dataclass
class Upload:
    """The content part of a request."""

    filename: str | None
    content: bytes


async def read_template_body(request: Request) -> tuple[dict[str, Any], Upload | None]:
    """The request's fields by name, and its uploaded content if any."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_BODY_BYTES:
        raise ApiError(413, f"The request body is larger than {MAX_BODY_BYTES} bytes.")
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        return await _read_form(request)
    if ctype == "application/json" or ctype.endswith("+json"):
        return _read_json(await request.body())
    if not await request.body():
        return {}, None
    raise ApiError(
        415,
        "Unsupported content type: send multipart/form-data (or form-urlencoded / JSON fields).",
    )


async def _read_form(request: Request) -> tuple[dict[str, Any], Upload | None]:
    try:
        form = await request.form(max_files=4, max_fields=100, max_part_size=MAX_FIELD_BYTES)
    except Exception as exc:  # multipart parser errors surface as several exception types
        detail = getattr(exc, "detail", None) or str(exc) or type(exc).__name__
        raise ApiError(422, f"Malformed form body: {detail}", {"body": str(detail)}) from None
    fields: dict[str, Any] = {}
    upload: Upload | None = None
    try:
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                if key in FILE_FIELDS:
                    upload = Upload(value.filename, await value.read(MAX_UPLOAD_BYTES + 1))
            elif key in FILE_FIELDS:
                upload = Upload(None, value.encode("utf-8"))
            else:
                fields[key] = value
    finally:
        await form.close()
    return fields, upload


def _read_json(body: bytes) -> tuple[dict[str, Any], Upload | None]:
    if not body.strip():
        return {}, None
    try:
        data = json.loads(body, parse_constant=reject_constant)
    except (ValueError, RecursionError):
        raise ApiError(422, "Malformed JSON body.", {"body": "must be valid JSON"}) from None
    if not isinstance(data, dict):
        raise ApiError(422, "The JSON body must be an object.", {"body": "must be an object"})
    upload = None
    for key in FILE_FIELDS:
        value = data.pop(key, None)
        if isinstance(value, str):
            try:
                upload = Upload(None, value.encode("utf-8"))
            except UnicodeEncodeError:
                problem = "must be valid Unicode text (it holds a lone surrogate)"
                raise ApiError(422, "Invalid template: file", {"file": problem}) from None
    return data, upload


@dataclass
class VersionBody:
    """A version PATCH: its fields, its files as (path, bytes), and problems found reading it."""

    fields: dict[str, Any]
    files: list[tuple[str, bytes]]
    errors: dict[str, str]


async def read_version_body(request: Request) -> VersionBody:
    """Fields and files of a version PATCH: multipart ``file``/``filePath`` pairs, or JSON.

    A multipart ``archive`` part (zip or tar) adds every file it holds, checked as template
    uploads are. Paths are checked (relative, inside the version, no NUL byte).
    """
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_BODY_BYTES:
        raise ApiError(413, f"The request body is larger than {MAX_BODY_BYTES} bytes.")
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "multipart/form-data":
        fields, upload = await read_template_body(request)
        if upload is not None:
            fields["file"] = "(content)"  # JSON cannot carry files here: reported below
        return VersionBody(fields, [], {})
    try:
        form = await request.form(
            max_files=MAX_FILES + 1, max_fields=2 * MAX_FILES + 50, max_part_size=MAX_FIELD_BYTES
        )
    except Exception as exc:  # multipart parser errors surface as several exception types
        detail = getattr(exc, "detail", None) or str(exc) or type(exc).__name__
        raise ApiError(422, f"Malformed form body: {detail}", {"body": str(detail)}) from None
    fields: dict[str, Any] = {}
    uploads: list[tuple[str | None, bytes]] = []
    paths: list[str] = []
    archive: bytes | None = None
    try:
        for key, value in form.multi_items():
            if key == "filePath" and isinstance(value, str):
                paths.append(value)
            elif key in ("file", "archive"):
                data = (
                    await value.read(MAX_UPLOAD_BYTES + 1)
                    if isinstance(value, UploadFile)
                    else value.encode("utf-8", errors="replace")
                )
                if key == "archive":
                    archive = data
                else:
                    uploads.append(
                        (value.filename if isinstance(value, UploadFile) else None, data)
                    )
            elif isinstance(value, str):
                fields[key] = value
    finally:
        await form.close()
    body = VersionBody(fields, [], {})
    _pair_files(body, uploads, paths)
    if archive is not None:
        try:
            body.files.extend(await run_in_threadpool(unpack, archive, "archive"))
        except UploadError as exc:
            body.errors["archive"] = str(exc)
    return body


def _pair_files(
    body: VersionBody, uploads: list[tuple[str | None, bytes]], paths: list[str]
) -> None:
    if paths and len(paths) != len(uploads):
        body.errors["filePath"] = (
            f"send one filePath per file part, in the same order ({len(uploads)} files, "
            f"{len(paths)} paths)"
        )
        return
    names = paths or [name or "" for name, _ in uploads]
    for raw, (_, data) in zip(names, uploads, strict=True):
        try:
            path = safe_path(raw)
        except UploadError as exc:
            body.errors["filePath"] = str(exc)
            return
        if len(data) > MAX_FILE_BYTES:
            body.errors["file"] = f"{path!r} is larger than {MAX_FILE_BYTES} bytes"
            return
        body.files.append((path, data))
