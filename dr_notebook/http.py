"""The HTTP layer: one ``requests.Session`` with auth, timeouts, safe retries and redaction.

Retries (urllib3's ``Retry``, with full jitter and a time budget) cover 429/502/503/504, read
errors and connection errors for GET, PATCH and DELETE. POST, and a PATCH whose effect would
repeat (``request(..., once=True)``: deleting files from a version, moving an application to a
version), are retried only when the connection could not be opened at all, never once the
request may have reached the server.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from http.cookiejar import DefaultCookiePolicy
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase
from urllib3.exceptions import (
    ConnectTimeoutError,
    InvalidHeader,
    MaxRetryError,
    NewConnectionError,
    ReadTimeoutError,
    ResponseError,
)
from urllib3.util.retry import Retry

from dr_notebook._version import __version__
from dr_notebook.config import Secret, Settings
from dr_notebook.errors import (
    DataRobotError,
    api_path,
    error_from_response,
    redact,
    retry_after_seconds,
)

__all__ = ["USER_AGENT", "BearerAuth", "RetryPolicy", "Transport", "quote_id"]

log = logging.getLogger("dr_notebook.http")

USER_AGENT = f"dr-notebook/{__version__}"
RETRY_STATUSES = frozenset({429, 502, 503, 504})
RETRY_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PATCH", "DELETE"})


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    netloc = parts.netloc.lower()
    default_port = {"http": ":80", "https": ":443"}.get(parts.scheme, "")
    if default_port and netloc.endswith(default_port):
        netloc = netloc[: -len(default_port)]
    return parts.scheme.lower(), netloc


def quote_id(value: str) -> str:
    """An id made safe to put in a URL path segment."""
    return quote(str(value), safe="")


class BearerAuth(AuthBase):
    """Adds ``Authorization: Bearer <token>``, only to requests for the endpoint's own origin."""

    def __init__(self, token: Secret, endpoint: str) -> None:
        self._token = token
        self._origin = _origin(endpoint)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if _origin(request.url or "") == self._origin:
            request.headers["Authorization"] = "Bearer " + self._token.get_secret_value()
        return request

    def __repr__(self) -> str:
        return "BearerAuth(token=<redacted>)"


# Set while a request that must not be repeated once sent is in flight (this thread only).
_SENT_ONCE = threading.local()


class RetryPolicy(Retry):
    """urllib3's ``Retry`` with full-jitter back-off and a bound on the total time spent retrying.

    ``max_time`` counts from the first failure; a ``Retry-After`` that would overrun it ends the
    retries at once, so the caller sees the server's answer instead of waiting.
    """

    def __init__(
        self, *args: Any, max_time: float = 60.0, deadline: float | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.max_time = max_time
        self.deadline = deadline

    def new(self, **kwargs: Any) -> RetryPolicy:
        kwargs.setdefault("max_time", self.max_time)
        kwargs.setdefault("deadline", self.deadline)
        return super().new(**kwargs)

    def get_backoff_time(self) -> float:
        failures = 0
        for item in reversed(self.history):
            if item.redirect_location is not None:
                break
            failures += 1
        if failures == 0 or self.backoff_factor <= 0:
            return 0.0
        ceiling = min(self.backoff_max, self.backoff_factor * 2 ** (failures - 1))
        return random.uniform(0, ceiling)

    def _is_method_retryable(self, method: str) -> bool:
        return not getattr(_SENT_ONCE, "active", False) and super()._is_method_retryable(method)

    def get_retry_after(self, response: Any) -> float | None:
        try:
            return super().get_retry_after(response)
        except InvalidHeader:
            return None

    def increment(  # type: ignore[override]
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> RetryPolicy:
        retry = super().increment(method, url, response, error, _pool, _stacktrace)
        now = time.monotonic()
        if retry.deadline is None:
            retry.deadline = now + self.max_time
        wait = _raw_retry_after(response)
        if now + (wait or 0.0) >= retry.deadline:
            reason = error or ResponseError(f"retry time budget of {self.max_time:g} s spent")
            raise MaxRetryError(_pool, url or "", reason) from reason  # type: ignore[arg-type]
        cause = f"HTTP {response.status}" if response is not None else type(error).__name__
        log.info("Retrying %s %s after %s (retry %d)", method, url, cause, len(retry.history))
        return retry

    def sleep(self, response: Any = None) -> None:
        wait = self.get_retry_after(response) if response is not None else None
        if not wait:
            wait = self.get_backoff_time()
        if self.deadline is not None:
            wait = min(wait, max(0.0, self.deadline - time.monotonic()))
        if wait > 0:
            time.sleep(wait)


def _raw_retry_after(response: Any) -> float | None:
    """The server's ``Retry-After`` in seconds, uncapped (None when absent or unreadable)."""
    return None if response is None else retry_after_seconds(response.headers.get("Retry-After"))


def _plain_http_answer(exc: BaseException) -> bool:
    """Whether a TLS handshake failed because the server answered in plain HTTP (OpenSSL's
    words for it are in the exception chain's text)."""
    lowered = str(exc).lower()
    return any(
        sign in lowered
        for sign in (
            "wrong version number",
            "wrong_version_number",
            "http request",
            "packet length",
        )
    )


def _cause(exc: BaseException) -> Any:
    """The urllib3 error behind a requests exception (unwrapping MaxRetryError)."""
    reason: Any = exc.args[0] if exc.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    return reason


def _never_sent(exc: BaseException) -> bool:
    """Whether a requests exception happened before the request could reach the server."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    return isinstance(_cause(exc), (NewConnectionError, ConnectTimeoutError))


def _reason(exc: BaseException) -> str:
    text = str(exc)
    errno = re.search(r"\[Errno -?\d+\] ([^'\")]+)", text)
    if errno:
        return errno.group(1).strip()
    for pattern in (
        r"Connection aborted\.?",
        r"Read timed out",
        r"RemoteDisconnected\(['\"]([^'\"]+)",
        r"Connection reset by peer",
        r"certificate verify failed[^'\")]*",
    ):
        found = re.search(pattern, text)
        if found:
            return (found.group(1) if found.groups() else found.group(0)).strip()
    return type(exc).__name__


class Transport:
    """Sends requests to one endpoint; raises :mod:`dr_notebook.errors` for failures.

    Shared between threads: :meth:`request`, :meth:`get_json`, :meth:`json` and :meth:`url` may
    run concurrently in any number of threads. After ``__init__`` nothing here changes but the
    connection pool (urllib3's, locked): the session keeps no cookies (the token authenticates
    every request) and the retry policy is immutable (each retry makes a new one). At most
    ``pool_size`` connections are kept open; a thread beyond that opens a connection of its own
    and closes it afterwards. :meth:`close` may run while other threads send: they reconnect.
    """

    def __init__(self, settings: Settings, *, pool_size: int = 12) -> None:
        self.endpoint = settings.endpoint
        self.settings = settings
        self.pool_size = pool_size
        self._secret = settings.token
        self._origin = _origin(settings.endpoint)
        session = requests.Session()
        session.auth = BearerAuth(settings.token, settings.endpoint)
        session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
        session.verify = settings.ssl_verify
        # No domain may set cookies: the session then never changes while threads share it.
        session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        self.retry_policy = RetryPolicy(
            total=settings.max_retries,
            # A refused connection is rarely transient: a few quick tries, not the full count.
            connect=min(settings.max_retries, 3),
            read=settings.max_retries,
            status=settings.max_retries,
            other=0,
            redirect=False,
            allowed_methods=RETRY_METHODS,
            status_forcelist=RETRY_STATUSES,
            backoff_factor=0.5,
            backoff_max=10.0,
            retry_after_max=30,
            raise_on_status=False,
            respect_retry_after_header=True,
            max_time=60.0,
        )
        adapter = HTTPAdapter(
            pool_connections=2, pool_maxsize=max(1, pool_size), max_retries=self.retry_policy
        )
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        self._session = session

    def __repr__(self) -> str:
        return f"Transport(endpoint={self.endpoint!r}, token=<redacted>)"

    def close(self) -> None:
        """Close the pooled connections."""
        self._session.close()

    def redact(self, text: str) -> str:
        """``text`` with this transport's token (and anything shaped like a credential) masked:
        for server text that may echo it, such as an application's own log lines."""
        return redact(text, [self._secret.get_secret_value()])

    def url(self, path_or_url: str) -> str:
        """The absolute URL for an API path (``customTemplates/``) or a URL the server sent.

        A URL for another origin is re-based onto the endpoint when it names an ``/api/v2/``
        path: the token is only ever sent to the configured endpoint.
        """
        if "://" not in path_or_url:
            return f"{self.endpoint}/{path_or_url.lstrip('/')}"
        if _origin(path_or_url) == self._origin:
            return path_or_url
        parts = urlsplit(path_or_url)
        marker = "/api/v2/"
        index = parts.path.find(marker)
        if index < 0:
            raise DataRobotError(
                f"The server pointed to {urlunsplit(parts._replace(query=''))}, outside the "
                f"endpoint {self.endpoint}; check DATAROBOT_ENDPOINT."
            )
        rebased = f"{self.endpoint}/{parts.path[index + len(marker) :]}"
        return rebased + (f"?{parts.query}" if parts.query else "")

    def _transport_error(
        self, method: str, url: str, exc: BaseException, *, once: bool = False
    ) -> DataRobotError:
        path = api_path(url)
        reason = redact(_reason(exc), [self._secret.get_secret_value()])
        where = f"{method} {path}"
        timed_out = isinstance(exc, requests.exceptions.ReadTimeout) or isinstance(
            _cause(exc), ReadTimeoutError
        )
        plain = self.endpoint.replace("https://", "http://", 1)
        if isinstance(exc, requests.exceptions.SSLError) and self.settings.scheme_assumed:
            message = (
                f"The endpoint was given without http:// or https://, so https:// was assumed, "
                f"and {where} failed its TLS handshake ({reason}); for a plain-HTTP server "
                f"(such as the sandbox) write the endpoint as {plain}"
            )
        elif isinstance(exc, requests.exceptions.SSLError) and _plain_http_answer(exc):
            message = (
                f"{where} went to {self.endpoint} with https://, but the server there speaks "
                f"plain HTTP; write the endpoint as {plain}"
            )
        elif isinstance(exc, requests.exceptions.SSLError):
            message = (
                f"TLS/SSL error on {where} ({reason}); set ssl_verify (or DATAROBOT_SSL_VERIFY) "
                "to the path of your CA bundle"
            )
        elif _never_sent(exc):
            message = (
                f"Cannot connect to {self.endpoint} ({reason}) on {where}; check the endpoint "
                "and that the server is reachable"
            )
        elif timed_out and (method == "POST" or once):
            message = (
                f"No answer to {where} in time; it may have reached the server, so it was not "
                "retried: check whether it took effect before trying again"
            )
        elif timed_out:
            message = f"{where} timed out ({reason}); pass a longer request_timeout= to Client()"
        elif method == "POST" or once:
            message = (
                f"The connection broke during {where} ({reason}); it may have reached the "
                "server, so it was not retried: check whether it took effect before trying again"
            )
        else:
            message = f"The connection broke during {where} ({reason})"
        return DataRobotError(message, method=method, path=path, server_message=reason)

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | Sequence[tuple[str, Any]] | None = None,
        files: Mapping[str, Any] | Sequence[tuple[str, Any]] | None = None,
        ok: Iterable[int] = (),
        upload: bool = False,
        once: bool = False,
    ) -> requests.Response:
        """Send one request (with the retries allowed for its method) and return the response.

        ``once``: the request's effect would repeat (deleting files, moving an application):
        like a POST, it is retried only if it was never sent.

        Statuses >= 300 raise the matching :class:`~dr_notebook.errors.DataRobotError`, except
        those listed in ``ok`` (a poller reads ``303`` itself; redirects are never followed).
        """
        method = method.upper()
        url = self.url(path_or_url)
        read = self.settings.upload_timeout if upload else self.settings.read_timeout
        error: DataRobotError | None = None
        response: requests.Response | None = None
        started = time.perf_counter()
        _SENT_ONCE.active = once
        try:
            response = self._session.request(
                method,
                url,
                params=params,
                json=json,
                data=data,
                files=files,
                timeout=(self.settings.connect_timeout, read),
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            error = self._transport_error(method, url, exc, once=once)
        finally:
            _SENT_ONCE.active = False
        if error is not None or response is None:
            # Raised outside the except block: no chained traceback with the request's headers.
            raise error or DataRobotError(f"No response to {method} {api_path(url)}")
        # The prepared request stays reachable from the response: keep no credential in it.
        if "Authorization" in response.request.headers:
            response.request.headers["Authorization"] = "Bearer <redacted>"
        attempts = 1 + len(getattr(getattr(response.raw, "retries", None), "history", ()) or ())
        log.debug(
            "%s %s -> %s (%.3f s%s)",
            method,
            api_path(response.request.url or url),
            response.status_code,
            time.perf_counter() - started,
            f", {attempts} attempts" if attempts > 1 else "",
        )
        response.attempts = attempts  # type: ignore[attr-defined]
        if response.status_code >= 300 and response.status_code not in set(ok):
            if 300 <= response.status_code < 400:
                target = response.headers.get("Location", "?")
                raise DataRobotError(
                    f"{response.status_code} redirect on {method} {api_path(url)} to "
                    f"{target}; check the endpoint (https?)",
                    status_code=response.status_code,
                    method=method,
                    path=api_path(url),
                )
            raise error_from_response(
                response, secrets=[self._secret.get_secret_value()], attempts=attempts
            )
        return response

    def get_json(
        self,
        path_or_url: str,
        params: Mapping[str, Any] | None = None,
        *,
        verbatim: bool = False,
    ) -> Any:
        """GET and decode the JSON body (see :meth:`json` for ``verbatim``)."""
        return self.json(self.request("GET", path_or_url, params=params), verbatim=verbatim)

    def carries_token(self, response: requests.Response) -> bool:
        """Whether the body holds this transport's token (a quick byte search)."""
        secret = self._secret.get_secret_value()
        return bool(secret) and secret.encode() in response.content

    def json(self, response: requests.Response, *, verbatim: bool = False) -> Any:
        """The JSON body of a response; a clear error when the server sent something else.

        Server text may echo the token (an application's output, a build error): when the body
        holds it, every string in it passes through :meth:`redact`, so no model, card, frame or
        error built from it shows the token. ``verbatim`` keeps a file's content byte for byte
        (the user's own files, written where they ask).
        """
        try:
            body = response.json()
            if not verbatim and self.carries_token(response):
                body = _redacted(body, self.redact)
            return body
        except ValueError:
            start = " ".join(response.text[:120].split())
            raise DataRobotError(
                f"Expected JSON from {response.request.method} "
                f"{api_path(response.request.url or '')}, got "
                f"{response.headers.get('Content-Type', 'no content type')}: {start!r}",
                status_code=response.status_code,
            ) from None


def _redacted(value: Any, hide: Any) -> Any:
    """``value`` (decoded JSON) with ``hide`` applied to every string, keys included."""
    if isinstance(value, str):
        return hide(value)
    if isinstance(value, list):
        return [_redacted(item, hide) for item in value]
    if isinstance(value, dict):
        return {hide(key): _redacted(item, hide) for key, item in value.items()}
    return value
