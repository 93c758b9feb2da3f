"""Mapping HTTP responses to errors: classes, one-line messages, redaction."""

from __future__ import annotations

import email.utils
import pickle
import time

import pytest
import requests

from dr_notebook import errors
from dr_notebook.errors import error_from_response, redact

TOKEN = "s3cr3t-T0KEN-0123456789abcdef"


def make_response(
    status: int,
    body: str | bytes = b"",
    *,
    content_type: str = "application/json",
    method: str = "GET",
    url: str = "https://app.example.com/api/v2/customTemplates/abc/",
    headers: dict[str, str] | None = None,
) -> requests.Response:
    """A requests.Response as the adapter builds it (no network needed to test the mapping)."""
    response = requests.Response()
    response.status_code = status
    response._content = body.encode() if isinstance(body, str) else body
    response.headers["Content-Type"] = content_type
    response.headers.update(headers or {})
    response.url = url
    response.request = requests.Request(method, url).prepare()
    return response


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (401, errors.AuthenticationError),
        (403, errors.PermissionDeniedError),
        (404, errors.NotFoundError),
        (422, errors.ValidationError),
        (429, errors.RateLimitError),
        (500, errors.ServerError),
        (502, errors.ServerError),
        (503, errors.ServerError),
        (400, errors.DataRobotError),
        (409, errors.DataRobotError),
    ],
)
def test_status_maps_to_class(status: int, cls: type[errors.DataRobotError]) -> None:
    err = error_from_response(make_response(status, '{"message": "nope"}'))
    assert type(err) is cls
    assert err.status_code == status
    assert isinstance(err, errors.DataRobotError)


def test_message_reads_like_the_contract() -> None:
    response = make_response(
        404,
        '{"message": "Custom template not found"}',
        content_type="application/json; charset=utf-8",
        headers={"X-DataRobot-Request-ID": "req-1"},
    )
    err = error_from_response(response)
    assert str(err) == "404 Not Found on GET customTemplates/abc/: Custom template not found"
    assert (err.method, err.path, err.server_message) == (
        "GET",
        "customTemplates/abc/",
        err.server_message,
    )
    assert err.server_message == "Custom template not found"
    assert err.request_id == "req-1"


def test_validation_error_keeps_field_errors() -> None:
    body = '{"message": "Invalid input", "errors": {"name": "must be at most 255 characters long"}}'
    err = error_from_response(
        make_response(422, body, method="POST", url="https://h/api/v2/customTemplates/")
    )
    assert isinstance(err, errors.ValidationError)
    assert err.field_errors == {"name": "must be at most 255 characters long"}
    assert str(err) == (
        "422 Unprocessable Entity on POST customTemplates/: Invalid input "
        "(name: must be at most 255 characters long)"
    )


def test_rate_limit_error_keeps_retry_after() -> None:
    err = error_from_response(make_response(429, "{}", headers={"Retry-After": "7"}))
    assert isinstance(err, errors.RateLimitError)
    assert err.retry_after == 7.0
    assert str(err) == "429 Too Many Requests on GET customTemplates/abc/"


def test_rate_limit_error_reads_an_http_date_retry_after() -> None:
    when = email.utils.formatdate(time.time() + 120, usegmt=True)
    err = error_from_response(make_response(429, "{}", headers={"Retry-After": when}))
    assert isinstance(err, errors.RateLimitError)
    assert err.retry_after is not None and 100 < err.retry_after <= 120


def test_server_error_names_request_id_and_attempts() -> None:
    response = make_response(503, '{"message": "busy"}', headers={"x-request-id": "r-9"})
    err = error_from_response(response, attempts=4)
    assert str(err) == (
        "503 Service Unavailable on GET customTemplates/abc/: busy "
        "(after 4 attempts, request id r-9)"
    )
    assert err.attempts == 4


def test_html_body_from_a_proxy_becomes_short_text() -> None:
    page = (
        "<html><head><title>502 Bad Gateway</title><style>body{color:red}</style></head>"
        "<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center>"
        + "<p>"
        + "x" * 2000
        + "</p></body></html>"
    )
    err = error_from_response(make_response(502, page, content_type="text/html"))
    text = str(err)
    assert text.startswith("502 Bad Gateway on GET customTemplates/abc/: 502 Bad Gateway nginx")
    assert "<" not in text and "color:red" not in text
    assert len(text) < 400
    assert "\n" not in text


def test_json_without_content_type_and_plain_text() -> None:
    err = error_from_response(make_response(500, '{"message": "boom"}', content_type=""))
    assert err.server_message == "boom"
    err = error_from_response(make_response(500, "plain\nfailure", content_type="text/plain"))
    assert str(err).endswith(": plain failure")


def test_empty_body_gives_status_line_only() -> None:
    err = error_from_response(make_response(403, b"", content_type="text/plain", method="DELETE"))
    assert str(err) == "403 Forbidden on DELETE customTemplates/abc/"


def test_token_in_a_server_message_is_masked() -> None:
    body = f'{{"message": "Invalid token {TOKEN} for user"}}'
    err = error_from_response(make_response(401, body), secrets=[TOKEN])
    assert TOKEN not in str(err) and TOKEN not in repr(err)
    assert TOKEN not in (err.server_message or "")
    # Even without knowing the exact secret, credential-shaped text is masked.
    err = error_from_response(make_response(401, f'{{"message": "bad Bearer {TOKEN}"}}'))
    assert TOKEN not in str(err)


def test_redact_leaves_ordinary_words() -> None:
    assert redact("token authentication failed") == "token authentication failed"
    assert redact("Authorization: Bearer abcdef0123456789XYZ") == "Authorization: Bearer ***"


def test_client_side_errors() -> None:
    err = errors.InvalidArgumentError("limit must be >= 0")
    assert isinstance(err, ValueError) and isinstance(err, errors.DataRobotError)
    assert err.status_code is None
    ambiguous = errors.AmbiguousNameError("two", candidates=["a", "b"])  # type: ignore[list-item]
    assert ambiguous.candidates == ["a", "b"]


def test_errors_survive_pickling() -> None:
    err = error_from_response(make_response(422, '{"message": "bad", "errors": {"a": "b"}}'))
    clone = pickle.loads(pickle.dumps(err))
    assert type(clone) is errors.ValidationError
    assert str(clone) == str(err)
    assert clone.field_errors == {"a": "b"}


def test_errors_are_also_the_builtin_kinds_callers_expect() -> None:
    assert issubclass(errors.AsyncTimeoutError, TimeoutError)
    assert issubclass(errors.NotFoundError, LookupError)
    assert issubclass(errors.InvalidArgumentError, ValueError)
    for cls in (errors.AsyncTimeoutError, errors.NotFoundError, errors.InvalidArgumentError):
        assert issubclass(cls, errors.DataRobotError)
        assert str(cls("one line")) == "one line"
