"""One exception hierarchy for everything a user can fix, and the one place mapping HTTP to it.

``str(error)`` is always one line, e.g.
``404 Not Found on GET customTemplates/abc/: Custom template not found``.
"""

from __future__ import annotations

import email.utils
import html
import json
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import requests

    from dr_notebook.models import Application, AsyncStatus

__all__ = [
    "AmbiguousNameError",
    "AppFolderError",
    "ApplicationFailedError",
    "AsyncOperationError",
    "AsyncTimeoutError",
    "AuthenticationError",
    "ConfigurationError",
    "DataRobotError",
    "ExistingFileError",
    "InvalidArgumentError",
    "LocalLaunchError",
    "NameInUseError",
    "NoMatchWarning",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RuntimeParameterError",
    "ServerError",
    "UnknownValueWarning",
    "UnsafePathError",
    "ValidationError",
    "error_from_response",
    "redact",
]

MAX_MESSAGE = 300
REQUEST_ID_HEADERS = ("X-DataRobot-Request-ID", "X-Request-ID")
# "Bearer <credential>"-shaped text, masked even when the exact token is not known.
_CREDENTIAL = re.compile(
    r"(?i)\b(bearer|token|api[_-]?key)(\s*[:=]\s*|\s+)['\"]?"
    r"(?=[A-Za-z0-9._~+/=-]*\d)[A-Za-z0-9._~+/=-]{16,}"
)


class DataRobotError(Exception):
    """Base of every error a user can act on; ``status_code`` is None when it is not HTTP."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        method: str | None = None,
        path: str | None = None,
        server_message: str | None = None,
        request_id: str | None = None,
    ) -> None:
        self.message = _one_line(message)
        self.status_code = status_code
        self.method = method
        self.path = path
        self.server_message = server_message
        self.request_id = request_id
        self.attempts = 1
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"

    def __reduce__(self) -> Any:
        return (_rebuild, (type(self), self.message, dict(self.__dict__)))


def _rebuild(cls: type[DataRobotError], message: str, state: dict[str, Any]) -> DataRobotError:
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(state)
    return err


class AuthenticationError(DataRobotError):
    """401: the token is missing, wrong or expired."""


class PermissionDeniedError(DataRobotError):
    """403: the token is valid but may not do this."""


class NotFoundError(DataRobotError, LookupError):
    """404, or no template matched the id or name given (also a ``LookupError``)."""


class ValidationError(DataRobotError):
    """422: the server rejected the input; ``field_errors`` maps fields to their problems."""

    def __init__(
        self, message: str, *, field_errors: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(message, **kwargs)
        self.field_errors: dict[str, Any] = dict(field_errors or {})


class RateLimitError(DataRobotError):
    """429 after the retries ran out; ``retry_after`` is the server's hint in seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServerError(DataRobotError):
    """5xx: the server failed (after retries, for the requests that may be retried)."""


class AsyncOperationError(DataRobotError):
    """An asynchronous job ended ERROR, ABORTED or EXPIRED; ``status`` is its last state."""

    def __init__(self, message: str, *, status: AsyncStatus | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.status = status


class AsyncTimeoutError(DataRobotError, TimeoutError):
    """An asynchronous job did not finish in time (also a ``TimeoutError``); ``status`` is the
    last job state seen, ``application`` the application as last seen when the wait was for
    one to run (the job may still finish: the error says where to look)."""

    def __init__(
        self,
        message: str,
        *,
        status: AsyncStatus | None = None,
        application: Application | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.status = status
        self.application = application


class ConfigurationError(DataRobotError):
    """No endpoint or token could be found, or a setting is malformed."""


class InvalidArgumentError(DataRobotError, ValueError):
    """An argument was rejected before anything was sent (also a ``ValueError``)."""


class AppFolderError(InvalidArgumentError):
    """A folder was not uploaded: ``check_app_folder`` found errors in it (nothing was
    created). ``findings`` lists them (``Finding`` objects, warnings included); the message
    names each error. Both a ``DataRobotError`` and a ``ValueError``."""

    def __init__(self, message: str, *, findings: Sequence[Any] = (), **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.findings: list[Any] = list(findings)


class NameInUseError(InvalidArgumentError):
    """An application already has the name a launch was asked to use (nothing was created);
    ``name`` is that name."""

    def __init__(self, message: str, *, name: str = "", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.name = name


class LocalLaunchError(InvalidArgumentError):
    """The template says its application cannot run on this server (``localLaunch`` in its
    metadata; the sandbox's templates carry it); nothing was created. ``reason`` is why."""

    force_hint = "Pass force=True to launch it anyway."

    def __init__(self, message: str, *, reason: str = "", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.reason = reason


class UnsafePathError(DataRobotError):
    """The server named a file path that would land outside the download folder, or that
    clashes with another (same name but for case, a file where a folder must be)."""


class ExistingFileError(DataRobotError, FileExistsError):
    """A download would replace files that exist (also a ``FileExistsError``)."""


class RuntimeParameterError(InvalidArgumentError):
    """Runtime parameter values were refused before anything was created.

    ``problems`` holds one line per wrong value (unknown name, wrong type, out of range);
    ``missing`` the required parameters (``RuntimeParameter``) that got no value. The message
    names every one.
    """

    def __init__(
        self,
        message: str,
        *,
        problems: Sequence[str] = (),
        missing: Sequence[Any] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.problems: list[str] = list(problems)
        self.missing: list[Any] = list(missing)


class AmbiguousNameError(DataRobotError):
    """Several templates (or applications) have the name given; ``candidates`` lists them."""

    def __init__(self, message: str, *, candidates: Sequence[Any] = (), **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.candidates: list[Any] = list(candidates)


class ApplicationFailedError(DataRobotError):
    """An application ended ``failed`` while a call waited for it to run.

    ``application`` is the application as last seen, ``build_error`` the server's reason (None
    when it gave none), ``log_tail`` the last lines of its logs and ``first_error`` the
    first error they show (``ApplicationLogs.first_error``; None when none reads as one).

    The message says each thing once: a first line, ``summary``, that leads with the first
    error, then the reason (``ApplicationLogs.reason``: the build error without what the
    lines repeat); then ``details``, the last lines of its output with their line breaks kept
    (a traceback's caret lines stay under their code); then one ``hint`` (where the logs are).
    """

    def __init__(
        self,
        message: str,
        *,
        application: Application | None = None,
        build_error: str | None = None,
        log_tail: Sequence[str] = (),
        first_error: str | None = None,
        details: Sequence[str] = (),
        hint: str = "",
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.application = application
        self.build_error = build_error
        self.log_tail: list[str] = list(log_tail)
        self.first_error = first_error
        self.summary = self.message
        self.details: list[str] = [line.rstrip() for line in details]
        self.hint = hint
        self.message = "\n".join([self.summary, *self.details, *([hint] if hint else [])])
        self.args = (self.message,)


class UnknownValueWarning(UserWarning):
    """A value outside the API's known vocabulary, sent as given (the server may know more)."""


class NoMatchWarning(UserWarning):
    """A listing came back empty because no template has a filter's value; the message names
    the values that exist."""


_BY_STATUS: dict[int, type[DataRobotError]] = {
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    422: ValidationError,
    429: RateLimitError,
}


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with each secret, and anything shaped like ``Bearer <credential>``, masked."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return _CREDENTIAL.sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)


def _shorten(text: str, limit: int = MAX_MESSAGE) -> str:
    text = _one_line(text)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _strip_tags(text: str) -> str:
    text = re.sub(r"(?is)<(script|style|head)\b.*?</\1\s*>", " ", text)
    title = re.search(r"(?is)<title[^>]*>(.*?)</title>", text)
    text = re.sub(r"(?s)<!--.*?-->", " ", text)
    text = re.sub(r"(?s)<[^>]*>", " ", text)
    body = html.unescape(_one_line(text))
    if title and not body:
        return html.unescape(_one_line(title.group(1)))
    return body


def _format_field_errors(errors: Any) -> str:
    if isinstance(errors, Mapping):
        parts = []
        for key, value in errors.items():
            if isinstance(value, (list, tuple)):
                value = "; ".join(str(v) for v in value)
            elif isinstance(value, Mapping):
                value = _format_field_errors(value)
            parts.append(f"{key}: {value}")
        return ", ".join(parts)
    if isinstance(errors, (list, tuple)):
        return "; ".join(str(v) for v in errors)
    return str(errors) if errors else ""


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def api_path(url: str) -> str:
    """The request's path relative to ``/api/v2/`` (the whole path if it has none)."""
    path = urlsplit(url).path
    marker = "/api/v2/"
    index = path.find(marker)
    return path[index + len(marker) :] if index >= 0 else path.lstrip("/")


def _body_message(response: requests.Response) -> tuple[str, dict[str, Any]]:
    """The server's message and field errors, from a JSON body or the start of any other body."""
    content_type = response.headers.get("Content-Type", "")
    text = ""
    try:
        text = response.text or ""
    except Exception:  # undecodable body: fall back to no message
        text = ""
    data: Any = None
    if _is_json(content_type) or text.lstrip().startswith(("{", "[")):
        try:
            data = json.loads(text) if text else None
        except ValueError:
            data = None
    if isinstance(data, Mapping):
        message = data.get("message") or data.get("detail") or data.get("error") or ""
        errors = data.get("errors")
        if isinstance(message, (list, Mapping)):
            errors, message = errors or message, ""
        field_errors = dict(errors) if isinstance(errors, Mapping) else {}
        message = str(message)
        if field_errors:
            # Field errors the message already says are not repeated.
            errors = {
                k: v for k, v in field_errors.items() if _format_field_errors([v]) not in message
            }
        detail = _format_field_errors(errors)
        if detail and detail not in message:
            message = f"{message} ({detail})" if message else detail
        return message, field_errors
    if data is not None:
        return _format_field_errors(data), {}
    if "html" in content_type.lower() or re.match(r"(?is)\s*<(!doctype|html|\w+[ >])", text):
        text = _strip_tags(text)
    return text, {}


def retry_after_seconds(value: str | None) -> float | None:
    """A ``Retry-After`` header (seconds or an HTTP date) in seconds; None when absent or bad."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        when = email.utils.parsedate_tz(value)
        return None if when is None else max(0.0, email.utils.mktime_tz(when) - time.time())


def error_from_response(
    response: requests.Response, *, secrets: Iterable[str] = (), attempts: int = 1
) -> DataRobotError:
    """The error a non-success response stands for, with a one-line message.

    ``secrets`` are masked wherever they appear in the server's text; ``attempts`` > 1 (the
    request was retried) is mentioned in the message.
    """
    status = int(response.status_code)
    request = response.request
    method = (getattr(request, "method", None) or "GET").upper()
    path = api_path(getattr(request, "url", None) or response.url or "")
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = response.reason or "HTTP error"
    secrets = list(secrets)
    server_message, field_errors = _body_message(response)
    server_message = _shorten(redact(server_message, secrets))
    request_id = next(
        (response.headers[h] for h in REQUEST_ID_HEADERS if response.headers.get(h)), None
    )
    message = f"{status} {reason} on {method} {redact(path, secrets)}"
    if server_message:
        message += f": {server_message}"
    notes = []
    if attempts > 1:
        notes.append(f"after {attempts} attempts")
    if status >= 500 and request_id:
        notes.append(f"request id {request_id}")
    if notes:
        message += f" ({', '.join(notes)})"
    kwargs: dict[str, Any] = dict(
        status_code=status,
        method=method,
        path=path,
        server_message=server_message or None,
        request_id=request_id,
    )
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else DataRobotError)
    if cls is ValidationError:
        error: DataRobotError = ValidationError(message, field_errors=field_errors, **kwargs)
    elif cls is RateLimitError:
        retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        error = RateLimitError(message, retry_after=retry_after, **kwargs)
    else:
        error = cls(message, **kwargs)
    error.attempts = attempts
    return error
