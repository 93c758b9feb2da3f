"""Cross-cutting request handling: path normalization, request ids, stats, latency, faults, auth."""

from __future__ import annotations

import asyncio
import json
import random
import re
import threading
import uuid
from collections import Counter, deque
from typing import Any

from dr_notebook.sandbox.settings import BehaviourSettings

API_PREFIX = "/api/v2"
CONTROL_PREFIX = "/_sandbox"
APP_PREFIX = "/custom_applications/"
REQUEST_ID_HEADER = b"x-datarobot-request-id"
_SLASHES = re.compile(r"/{2,}")


class Stats:
    """Requests seen under /api/v2: method, path relative to /api/v2, status and User-Agent."""

    def __init__(self, keep: int = 100_000) -> None:
        self._lock = threading.Lock()
        self._requests: deque[dict[str, Any]] = deque(maxlen=keep)
        self._counts: Counter[str] = Counter()

    def record(self, method: str, path: str, status: int, user_agent: str | None = None) -> None:
        """Count one request."""
        with self._lock:
            self._requests.append(
                {"method": method, "path": path, "status": status, "user_agent": user_agent}
            )
            self._counts[f"{method} {path}"] += 1

    def snapshot(self) -> dict[str, Any]:
        """``{"total", "requests": [...], "counts": {"METHOD path": n}}``."""
        with self._lock:
            return {
                "total": sum(self._counts.values()),
                "requests": list(self._requests),
                "counts": dict(self._counts),
            }

    def reset(self) -> None:
        """Forget every request seen so far."""
        with self._lock:
            self._requests.clear()
            self._counts.clear()


def parse_authorization(header: str | None) -> str | None:
    """The token of ``Bearer <token>`` or ``Token <token>``, else None."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() not in ("bearer", "token") or not token.strip():
        return None
    return token.strip()


class SandboxMiddleware:
    """Wraps the FastAPI app: everything that happens before a route runs, in order."""

    def __init__(
        self,
        app: Any,
        *,
        tokens: dict[str, str],
        behaviour: BehaviourSettings,
        stats: Stats,
        rng: random.Random,
    ) -> None:
        self.app = app
        self.tokens = tokens
        self.behaviour = behaviour
        self.stats = stats
        self.rng = rng
        self.state: Any = None  # the FastAPI app's state, for the server that runs this

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if not path.startswith(APP_PREFIX):  # an app's paths reach it exactly as sent
            path = _normalize(path)
            scope["path"] = path
            scope["raw_path"] = path.encode()
        request_id = uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        is_api = path == API_PREFIX + "/" or path.startswith(API_PREFIX + "/")
        is_control = path.startswith(CONTROL_PREFIX + "/")
        method = scope["method"]

        async def send_with_id(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0] != REQUEST_ID_HEADER]
                headers.append((REQUEST_ID_HEADER, request_id.encode()))
                message = {**message, "headers": headers}
                if is_api:
                    self.stats.record(
                        method,
                        path[len(API_PREFIX) + 1 :],
                        message["status"],
                        _header(scope, b"user-agent"),
                    )
            await send(message)

        if is_api and self.behaviour.latency_ms > 0:
            await asyncio.sleep(self.behaviour.latency_ms / 1000)
        if (
            is_api
            and self.behaviour.fault_rate > 0
            and self.rng.random() < self.behaviour.fault_rate
        ):
            await self._fault(send_with_id)
            return
        if is_api or is_control:
            role = self._role(scope)
            if role is None:
                await _json(send_with_id, 401, _auth_problem(scope))
                return
            if is_control and role != "admin":
                await _json(send_with_id, 403, "The sandbox control API needs an admin token.")
                return
            scope["state"]["role"] = role
        await self.app(scope, receive, send_with_id)

    def _role(self, scope: dict[str, Any]) -> str | None:
        token = parse_authorization(_header(scope, b"authorization"))
        return None if token is None else self.tokens.get(token)

    async def _fault(self, send: Any) -> None:
        kind = self.behaviour.fault_kind
        if kind == "mixed":
            kind = self.rng.choice(("503", "429"))
        if kind == "429":
            retry = str(self.behaviour.retry_after_s).encode()
            await _json(
                send, 429, "Too many requests (sandbox fault injection).", [(b"retry-after", retry)]
            )
        else:
            await _json(send, 503, "Service temporarily unavailable (sandbox fault injection).")


def _normalize(path: str) -> str:
    """Collapse doubled slashes; give API paths their trailing slash (no redirects needed)."""
    path = _SLASHES.sub("/", path)
    if (path.startswith(API_PREFIX) or path.startswith(CONTROL_PREFIX)) and not path.endswith("/"):
        path += "/"
    return path


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _auth_problem(scope: dict[str, Any]) -> str:
    header = _header(scope, b"authorization")
    if not header:
        return "Missing credentials: send the header 'Authorization: Bearer <API token>'."
    if parse_authorization(header) is None:
        return "Malformed Authorization header: use 'Bearer <API token>' or 'Token <API token>'."
    return "Invalid API token: check DATAROBOT_API_TOKEN."


async def _json(
    send: Any, status: int, message: str, extra_headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps({"message": message, "errors": {}}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *(extra_headers or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
