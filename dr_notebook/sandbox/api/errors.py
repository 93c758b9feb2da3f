"""The sandbox's error responses: always JSON ``{"message": ..., "errors": {...}}``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException


class ApiError(Exception):
    """An error answer: HTTP status, a message, field errors and extra headers."""

    def __init__(
        self,
        status: int,
        message: str,
        errors: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors or {}
        self.headers = headers or {}


def field_errors(errors: dict[str, str], what: str = "Invalid request") -> ApiError:
    """A 422 naming every bad field."""
    return ApiError(422, f"{what}: {', '.join(errors)}", errors)


def error_response(
    status: int, message: str, errors: dict[str, Any] | None = None, headers: Any = None
) -> JSONResponse:
    """The JSON body every error has."""
    return JSONResponse(
        {"message": message, "errors": errors or {}}, status_code=status, headers=headers
    )


def install_handlers(app: FastAPI) -> None:
    """Render every error (ours, FastAPI's validation, routing, unexpected) as JSON."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.message, exc.errors, exc.headers or None)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors: dict[str, str] = {}
        for item in exc.errors():
            loc = [str(p) for p in item.get("loc", ()) if p not in ("query", "path", "body")]
            key = "body" if item.get("type") == "json_invalid" else ".".join(loc) or "body"
            errors.setdefault(key, str(item.get("msg", "invalid value")))
        return error_response(422, f"Invalid request: {', '.join(errors)}", errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "Request failed"
        if exc.status_code == 400 and "parsing the body" in message:
            # FastAPI's answer to a body it cannot decode (e.g. JSON nested too deeply)
            return error_response(422, "Malformed request body.", {"body": message})
        if exc.status_code == 404 and message == "Not Found":
            message = "Not found: no such API path."
        return error_response(exc.status_code, message, None, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        return error_response(500, f"Internal sandbox error ({type(exc).__name__}).")
