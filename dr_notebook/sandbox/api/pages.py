"""``applicationUrl``: ``/custom_applications/<id>/...``, the app itself or the sandbox's page.

One ASGI handler for HTTP and websocket upgrades: the id picks the application, the runtime
says where it answers, and ``runtime.proxy`` forwards the request there. While the app does not
run, the sandbox answers with its own page about it (never the app's output). App URLs need no
sandbox token, as a local ``streamlit run`` needs none; a token that comes along is removed
before the app sees the request, and names the visitor in ``X-User-Email``.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.types import Scope

from dr_notebook.sandbox.api.middleware import parse_authorization
from dr_notebook.sandbox.runtime.proxy import (
    Proxy,
    Target,
    app_prefix,
    error_page,
    gone_page,
    is_under,
    send_page,
    split_app_path,
)
from dr_notebook.sandbox.service.applications import Applications, root_path_mode, status_page
from dr_notebook.sandbox.service.permissions import user_of

OWN_ORIGIN = "drn_own_origin"  # scope state: the request came to the app's own origin
_APP_HOST = re.compile(r"^([0-9a-f]{24})\.localhost(?::[0-9]+)?$")


def visitor_email(scope: Scope, tokens: dict[str, str]) -> str | None:
    """The email of the sandbox user whose token the request carries, if any."""
    for name, value in scope.get("headers", []):
        if name.lower() == b"authorization":
            token = parse_authorization(value.decode("latin-1"))
            role = tokens.get(token) if token else None
            return user_of(role)["createdBy"] if role else None
    return None


class ApplicationPages:
    """The ASGI handler mounted at ``/custom_applications``."""

    def __init__(self, applications: Applications, tokens: dict[str, str], proxy: Proxy) -> None:
        self.applications = applications
        self.tokens = tokens
        self.proxy = proxy

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            return
        raw = scope.get("raw_path") or scope["path"].encode()
        parts = split_app_path(raw.decode("latin-1"))
        record = self.applications.apps.get(parts[0]) if parts else None
        if parts is None or record is None:
            if parts is not None and scope["type"] == "http":
                await _gone(scope, send, parts[0])
                return
            await _refuse(
                scope, receive, send, 404, error_page("No such application", "Check the URL.")
            )
            return
        app_id, rest = parts
        own_origin = bool(scope.get("state", {}).get(OWN_ORIGIN))
        if not rest:
            query = scope.get("query_string", b"").decode("latin-1")
            location = f"{app_prefix(app_id)}/" + (f"?{query}" if query else "")
            await _redirect(scope, receive, send, location)
            return
        upstream = self.applications.upstream(record)
        if upstream is None:
            files = self.applications.sources.paths(record.version_id)
            page = status_page(record, files, self.applications.simulated)
            await _refuse(scope, receive, send, 200, page)
            return
        target = Target(
            upstream=upstream,
            app_id=app_id,
            rest=rest,
            root_path=root_path_mode(record),
            user_email=visitor_email(scope, self.tokens),
            own_origin=own_origin,
        )
        await self.proxy(scope, receive, send, target)


class AppOrigins:
    """ASGI middleware for ``--app-origins``: a request whose Host is ``<id>.localhost[:port]``
    goes to that application at the root of its own origin; the shared origin's
    ``/custom_applications/<id>/...`` pages redirect there (307), so that nothing of an app's
    runs on the origin every app shares."""

    def __init__(self, app: Any, app_url: Any) -> None:
        self.app = app
        self.app_url = app_url
        self.state: Any = None  # the FastAPI app's state, for the server that runs this

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        app_id = app_origin(scope)
        if app_id is not None:
            # Paths an app writes with DataRobot's fixed prefix (Dash's requests_pathname_prefix)
            # already name it: they reach the app as they would under the shared prefix.
            prefix = "" if is_under(scope["path"], app_prefix(app_id)) else app_prefix(app_id)
            raw = scope.get("raw_path") or scope["path"].encode()
            state = {**scope.get("state", {}), OWN_ORIGIN: True}
            scope = {
                **scope,
                "path": prefix + scope["path"],
                "raw_path": prefix.encode() + raw,
                "state": state,
            }
        else:
            raw = scope.get("raw_path") or scope["path"].encode()
            parts = split_app_path(raw.decode("latin-1"))
            if parts is not None and scope["type"] == "http":
                query = scope.get("query_string", b"").decode("latin-1")
                location = self.app_url(parts[0]) + parts[1].lstrip("/")
                await _redirect(scope, receive, send, location + (f"?{query}" if query else ""))
                return
        await self.app(scope, receive, send)


def app_origin(scope: Scope) -> str | None:
    """The application id of a ``<id>.localhost[:port]`` Host, else None."""
    for name, value in scope.get("headers", []):
        if name.lower() == b"host":
            found = _APP_HOST.match(value.decode("latin-1").lower())
            return found.group(1) if found else None
    return None


async def _gone(scope: Scope, send: Any, app_id: str) -> None:
    if scope.get("state", {}).get(OWN_ORIGIN):
        # The origin is this app's alone: Clear-Site-Data clears exactly what it left.
        page, headers = gone_page("/")
        headers["clear-site-data"] = '"cache", "storage"'
    else:
        page, headers = gone_page(app_prefix(app_id))
    await send_page(send, 404, page, headers)


async def _refuse(scope: Scope, receive: Any, send: Any, status: int, page: str) -> None:
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.close", "code": 1008})
    else:
        await send_page(send, status, page)


async def _redirect(scope: Scope, receive: Any, send: Any, location: str) -> None:
    if scope["type"] == "websocket":
        await _refuse(scope, receive, send, 404, "")
        return
    headers = [(b"location", location.encode("latin-1")), (b"content-length", b"0")]
    await send({"type": "http.response.start", "status": 307, "headers": headers})
    await send({"type": "http.response.body", "body": b""})
