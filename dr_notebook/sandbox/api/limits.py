"""Request framing and size, checked before anything reads a body.

A body's size is counted as it is received, so a chunked body (no ``Content-Length``) is
bounded as one that announces its length: past the limit the request is answered 413 and the
connection closed, and nothing has held more than the limit. ``Content-Length`` together with
``Transfer-Encoding`` (a request smuggling shape, RFC 9112 6.1), or several different lengths,
are answered 400. The server's own parser (h11) has read the headers; this only decides.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from dr_notebook.sandbox.api.middleware import APP_PREFIX


class BodyTooLarge(Exception):
    """The request body went past its limit while it was being read."""


class RequestLimits:
    """ASGI middleware: 400 for ambiguous framing, 413 for a body over its limit.

    ``api_limit`` bounds the API's bodies, ``app_limit`` those forwarded to applications
    (under ``/custom_applications/``, where an application's own origin is routed too).
    """

    def __init__(self, app: Any, *, api_limit: int, app_limit: int) -> None:
        self.app = app
        self.api_limit = api_limit
        self.app_limit = app_limit

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.app_limit if scope["path"].startswith(APP_PREFIX) else self.api_limit
        problem = framing_problem(scope.get("headers", []), limit)
        if problem is not None:
            await _refuse(send, *problem)
            return
        state = {"received": 0, "over": False, "started": False}

        async def limited_receive() -> dict[str, Any]:
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > limit:
                    state["over"] = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: dict[str, Any]) -> None:
            if state["over"]:
                return  # whatever the app makes of the error: the answer is the 413 below
            state["started"] = True
            await send(message)

        with contextlib.suppress(BodyTooLarge):
            await self.app(scope, limited_receive, guarded_send)
        if state["over"] and not state["started"]:
            await _refuse(send, 413, too_large(limit))


def framing_problem(headers: list[tuple[bytes, bytes]], limit: int) -> tuple[int, str] | None:
    """(status, message) when the headers alone refuse the request, else None."""
    lengths = {value.strip() for name, value in headers if name.lower() == b"content-length"}
    chunked = any(name.lower() == b"transfer-encoding" for name, _ in headers)
    if lengths and chunked:
        return 400, "Send either Content-Length or Transfer-Encoding, not both."
    if len(lengths) > 1 or any(not value.isdigit() for value in lengths):
        return 400, "Send one valid Content-Length."
    if lengths and int(next(iter(lengths))) > limit:
        return 413, too_large(limit)
    return None


def too_large(limit: int) -> str:
    """The 413 message."""
    return f"The request body is larger than {limit} bytes."


async def _refuse(send: Any, status: int, message: str) -> None:
    # The connection closes after the answer: the rest of the body is never read.
    body = json.dumps({"message": message, "errors": {}}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
