"""Reading template fields from multipart, form-urlencoded or JSON request bodies."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from starlette.datastructures import UploadFile

from dr_notebook.sandbox.errors import ApiError
from dr_notebook.sandbox.uploads import MAX_UPLOAD_BYTES
from dr_notebook.sandbox.validation import reject_constant

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
