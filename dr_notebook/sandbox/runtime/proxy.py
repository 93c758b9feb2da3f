"""Forward HTTP and websockets to an application: its URL prefix, headers, redirects, cookies.

``Proxy`` serves one ASGI request (``http`` or ``websocket`` scope) for a ``Target``: which
upstream (a TCP port or a Unix socket), under which external prefix, in which path mode. The
upstream side is httpx (HTTP, streamed both ways, redirects not followed) and ``websockets``;
neither this module nor they parse HTTP by hand here. The header and path rules are small
functions of their own so that each can be tested alone.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import html
import json
from collections.abc import AsyncIterator, Collection, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from starlette.types import Scope
from websockets.asyncio.client import ClientConnection, connect, unix_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from dr_notebook.sandbox.runtime.base import Upstream

PAGE_PREFIX = "/custom_applications"
Headers = list[tuple[str, str]]
AsgiHeaders = list[tuple[bytes, bytes]]

# RFC 9110 7.6.1, plus the non-standard ones proxies still meet.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# Cookies that are credentials for the sandbox or for a Jupyter server in front of it.
SANDBOX_COOKIE_PREFIXES = ("dr-sandbox", "_xsrf", "username-", "jupyterhub-")
# The websocket handshake headers that the upstream client makes itself.
_WS_OWN = frozenset(
    {
        "host",
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-extensions",
        "sec-websocket-protocol",
        "sec-websocket-accept",
    }
)
_SET_BY_PROXY = frozenset({"x-forwarded-prefix", "x-user-email", "x-forwarded-for"})
_PAGE_HEADERS = {
    "content-type": "text/html; charset=utf-8",
    "content-security-policy": "default-src 'none'",
    "x-content-type-options": "nosniff",
    "cache-control": "no-store",
}
_TIMEOUT = httpx.Timeout(connect=10.0, read=None, write=None, pool=None)
_LIMITS = httpx.Limits(max_connections=None, max_keepalive_connections=32)


@dataclass(frozen=True)
class Target:
    """One proxied request's destination and how the app sees it."""

    upstream: Upstream
    app_id: str
    rest: str  # the raw (still percent-encoded) path after the external prefix, from "/"
    root_path: bool = True  # serviceWebRequestsOnRootPath
    user_email: str | None = None
    own_origin: bool = False  # served at the root of an origin of its own (--app-origins)

    @property
    def prefix(self) -> str:
        """The external prefix, ``/custom_applications/<id>`` (empty on the app's own origin)."""
        return "" if self.own_origin else app_prefix(self.app_id)


def app_prefix(app_id: str) -> str:
    """The path prefix an application is served under."""
    return f"{PAGE_PREFIX}/{app_id}"


def script_name(app_id: str, root_path: bool) -> str:
    """``SCRIPT_NAME`` for the app: empty on the root path, else its internal prefix."""
    return "" if root_path else app_prefix(app_id)


def upstream_path(rest: str, app_id: str, root_path: bool) -> str:
    """The path the app receives for ``rest`` (the part after the external prefix)."""
    return script_name(app_id, root_path) + (rest or "/")


def split_app_path(path: str) -> tuple[str, str] | None:
    """``(app id, rest)`` of ``/custom_applications/<id><rest>``, or None; rest may be ``""``."""
    if not path.startswith(PAGE_PREFIX + "/"):
        return None
    app_id, slash, rest = path[len(PAGE_PREFIX) + 1 :].partition("/")
    if not app_id:
        return None
    return app_id, slash + rest


def is_under(path: str, prefix: str) -> bool:
    """Whether ``path`` is ``prefix`` or below it."""
    return path == prefix or path.startswith(prefix.rstrip("/") + "/")


def strip_hop_by_hop(headers: Iterable[tuple[str, str]]) -> Headers:
    """Headers without hop-by-hop ones, including those the ``Connection`` header names."""
    headers = list(headers)
    named = {
        token.strip().lower()
        for name, value in headers
        if name.lower() == "connection"
        for token in value.split(",")
    }
    drop = HOP_BY_HOP | named
    return [(n, v) for n, v in headers if n.lower() not in drop]


def strip_credentials(
    headers: Iterable[tuple[str, str]], cookie_prefixes: tuple[str, ...] = SANDBOX_COOKIE_PREFIXES
) -> Headers:
    """Headers without the sandbox's token (``Bearer``/``Token`` authorization) or its cookies.

    Other authorization schemes (an app's own Basic auth) and the app's cookies pass.
    """
    kept: Headers = []
    for name, value in headers:
        lower = name.lower()
        if lower == "authorization" and value.strip().split(" ")[0].lower() in ("bearer", "token"):
            continue
        if lower == "cookie":
            pairs = [p.strip() for p in value.split(";")]
            pairs = [
                p for p in pairs if p and not p.split("=", 1)[0].strip().startswith(cookie_prefixes)
            ]
            if pairs:
                kept.append((name, "; ".join(pairs)))
            continue
        kept.append((name, value))
    return kept


def forwarded_headers(
    headers: Iterable[tuple[str, str]],
    *,
    client_host: str | None,
    scheme: str,
    host: str,
    prefix: str,
    user_email: str | None,
) -> Headers:
    """Headers plus ``X-Forwarded-*``, ``X-Forwarded-Prefix`` and ``X-User-Email``.

    ``X-Forwarded-For`` gets the client appended; ``-Proto`` and ``-Host`` from a proxy in front
    are kept; a prefix from a proxy in front (jupyter-server-proxy sends ``<base>/proxy/<port>``)
    goes before the sandbox's, so that the app's links lead back through both; the user is
    always the sandbox's (a visitor cannot claim one).
    """
    headers = list(headers)
    previous_for = ", ".join(v for n, v in headers if n.lower() == "x-forwarded-for")
    outer = next((v for n, v in headers if n.lower() == "x-forwarded-prefix"), "")
    out = [(n, v) for n, v in headers if n.lower() not in _SET_BY_PROXY]
    names = {n.lower() for n, _ in out}
    chain = [p for p in (previous_for, client_host) if p]
    if chain:
        out.append(("x-forwarded-for", ", ".join(chain)))
    if "x-forwarded-proto" not in names:
        out.append(("x-forwarded-proto", "https" if scheme in ("https", "wss") else "http"))
    if "x-forwarded-host" not in names and host:
        out.append(("x-forwarded-host", host))
    out.append(("x-forwarded-prefix", outer.strip().rstrip("/") + prefix))
    if user_email:
        out.append(("x-user-email", user_email))
    return out


def rewrite_location(
    location: str, prefix: str, external_host: str, upstream_hosts: Collection[str]
) -> str:
    """A redirect target kept under the external prefix.

    Root-relative paths outside the prefix get it; absolute URLs to the app's own address become
    paths under the prefix; absolute URLs to the external host get the prefix; other sites and
    relative paths are left alone.
    """
    parts = urlsplit(location)
    netloc = parts.netloc.lower()
    if parts.scheme or netloc:
        if netloc in upstream_hosts:
            parts = parts._replace(scheme="", netloc="")
        elif netloc != external_host.lower():
            return location
    elif not parts.path.startswith("/"):
        return location
    path = parts.path or "/"
    if not is_under(path, prefix):
        path = prefix + path
    return urlunsplit(parts._replace(path=path))


def rewrite_cookie_path(set_cookie: str, prefix: str) -> str:
    """A ``Set-Cookie`` value whose ``Path`` stays under the external prefix."""
    parts = set_cookie.split(";")
    for index, attribute in enumerate(parts[1:], start=1):
        name, _, value = attribute.partition("=")
        if name.strip().lower() != "path":
            continue
        path = value.strip() or "/"
        if not is_under(path, prefix):
            parts[index] = f" Path={prefix}{path}"
    return ";".join(parts)


def clamp_service_worker_scope(value: str, prefix: str) -> str:
    """A ``Service-Worker-Allowed`` value kept under the app's prefix: a path below it passes,
    anything else (``/``, another app's prefix, a relative or dotted path) becomes the prefix,
    so that an app's service worker never controls another app's or the sandbox's pages."""
    path = value.strip()
    plain = path.startswith("/") and not any(part in path for part in ("/.", "%", "\\", "?", "#"))
    return path if plain and is_under(path, prefix) else prefix + "/"


def response_headers(
    headers: Iterable[tuple[str, str]],
    prefix: str,
    external_host: str,
    upstream_hosts: Collection[str],
) -> Headers:
    """The app's response headers as the browser gets them (hop-by-hop gone, rewrites made)."""
    out: Headers = []
    for name, value in strip_hop_by_hop(headers):
        lower = name.lower()
        if lower in ("location", "content-location"):
            value = rewrite_location(value, prefix, external_host, upstream_hosts)
        elif lower == "set-cookie":
            value = rewrite_cookie_path(value, prefix)
        elif lower == "service-worker-allowed":
            value = clamp_service_worker_scope(value, prefix)
        out.append((name, value))
    return out


def error_page(title: str, message: str, *, reload_seconds: int | None = None) -> str:
    """The sandbox's own small page (never the app's output), all text escaped."""
    refresh = (
        f'<meta http-equiv="refresh" content="{int(reload_seconds)}">' if reload_seconds else ""
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'>{refresh}"
        f"<title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1><p>{html.escape(message)}</p></body></html>"
    )


# On a deleted (or unknown) application's URL: its service workers unregistered, its cookies
# expired, as far as a page under its prefix can reach (storage is the whole origin's).
_FORGET_SCRIPT = """(async () => {
  const prefix = %s;
  if (navigator.serviceWorker) {
    for (const r of await navigator.serviceWorker.getRegistrations()) {
      if (new URL(r.scope).pathname.startsWith(prefix)) await r.unregister();
    }
  }
  for (const pair of document.cookie.split(";")) {
    const name = pair.split("=")[0].trim();
    if (name) document.cookie = name + "=; Max-Age=0; Path=" + prefix;
  }
  document.documentElement.dataset.forgotten = "1";
})();"""


def gone_page(prefix: str) -> tuple[str, dict[str, str]]:
    """The page at an application's URL once it is gone, and its headers: a script (allowed by
    its hash alone) unregisters the service workers under ``prefix`` and expires cookies set for
    it. Clear-Site-Data is not used on a shared origin: every directive of it clears the whole
    origin, which is every application's (and, behind a Jupyter proxy, JupyterLab's)."""
    script = _FORGET_SCRIPT % json.dumps(prefix.rstrip("/") + "/")
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    page = error_page("No such application", "Check the URL.").replace(
        "</body>", f"<script>{script}</script></body>"
    )
    return page, {"content-security-policy": f"default-src 'none'; script-src 'sha256-{digest}'"}


async def send_page(
    send: Any, status: int, body: str, headers_: dict[str, str] | None = None
) -> None:
    """Answer an HTTP scope with one of the sandbox's pages (``headers_`` replace defaults)."""
    data = body.encode()
    headers = [(k.encode(), v.encode()) for k, v in {**_PAGE_HEADERS, **(headers_ or {})}.items()]
    headers.append((b"content-length", str(len(data)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


def _decode(headers: Iterable[tuple[bytes, bytes]]) -> Headers:
    return [(n.decode("latin-1"), v.decode("latin-1")) for n, v in headers]


def _encode(headers: Iterable[tuple[str, str]]) -> AsgiHeaders:
    return [(n.lower().encode("latin-1"), v.encode("latin-1")) for n, v in headers]


def _upstream_hosts(upstream: Upstream) -> frozenset[str]:
    # Apps write their own address as they were told to bind it: 8080 in their network.
    hosts = {_tcp_authority(upstream), "127.0.0.1:8080", "localhost:8080", "0.0.0.0:8080"}
    return frozenset(h.lower() for h in hosts)


class _ClientGone(Exception):
    """The browser went away while its request body was being forwarded."""


class Proxy:
    """Forwards requests to upstreams, one pooled httpx client per upstream."""

    def __init__(self, cookie_prefixes: tuple[str, ...] = SANDBOX_COOKIE_PREFIXES) -> None:
        self.cookie_prefixes = cookie_prefixes
        self._clients: dict[Upstream, httpx.AsyncClient] = {}

    async def __call__(self, scope: Scope, receive: Any, send: Any, target: Target) -> None:
        """Serve one ``http`` or ``websocket`` scope by forwarding it to ``target``."""
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send, target)
        else:
            await self._http(scope, receive, send, target)

    async def forget(self, upstream: Upstream) -> None:
        """Close the pooled connections to one upstream (its app stopped)."""
        client = self._clients.pop(upstream, None)
        if client is not None:
            await client.aclose()

    async def aclose(self) -> None:
        """Close every pooled connection."""
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()

    def _client(self, upstream: Upstream) -> httpx.AsyncClient:
        client = self._clients.get(upstream)
        if client is None:
            transport = httpx.AsyncHTTPTransport(uds=upstream.socket_path, limits=_LIMITS)
            client = httpx.AsyncClient(transport=transport, timeout=_TIMEOUT, trust_env=False)
            self._clients[upstream] = client
        return client

    def _request_headers(self, scope: Scope, target: Target, drop: Collection[str]) -> Headers:
        headers = strip_credentials(
            strip_hop_by_hop(_decode(scope["headers"])), self.cookie_prefixes
        )
        headers = [(n, v) for n, v in headers if n.lower() not in drop]
        client = scope.get("client")
        return forwarded_headers(
            headers,
            client_host=client[0] if client else None,
            scheme=scope.get("scheme", "http"),
            host=_host(scope),
            prefix=target.prefix,
            user_email=target.user_email,
        )

    def _url(self, scope: Scope, target: Target, scheme: str, authority: str) -> str:
        path = upstream_path(target.rest, target.app_id, target.root_path)
        query = scope.get("query_string", b"").decode("latin-1")
        return f"{scheme}://{authority}{path}" + (f"?{query}" if query else "")

    async def _http(self, scope: Scope, receive: Any, send: Any, target: Target) -> None:
        # httpx does not wait for "100 Continue": the body goes at once, so the app must not wait.
        headers = self._request_headers(scope, target, drop=("expect",))
        has_body = any(
            n.lower() in ("content-length", "transfer-encoding")
            for n, _ in _decode(scope["headers"])
        )
        request = httpx.Request(
            scope["method"],
            self._url(scope, target, "http", _authority(target.upstream)),
            headers=headers,
            content=_request_body(receive) if has_body else None,
        )
        try:
            response = await self._client(target.upstream).send(request, stream=True)
        except _ClientGone:
            return
        except httpx.HTTPError as error:
            await send_page(
                send,
                502,
                error_page(
                    "Application not answering",
                    f"The application did not answer: {type(error).__name__}.",
                ),
            )
            return
        try:
            out = response_headers(
                _decode(response.headers.raw),
                target.prefix,
                _host(scope),
                _upstream_hosts(target.upstream),
            )
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status_code,
                    "headers": _encode(out),
                }
            )
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except (httpx.HTTPError, OSError):
            return  # the app or the browser went away mid-answer: the server ends the connection
        finally:
            await response.aclose()

    async def _websocket(self, scope: Scope, receive: Any, send: Any, target: Target) -> None:
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        headers = self._request_headers(scope, target, drop=_WS_OWN)
        # The Host the browser sent, so that the app's origin checks see what the browser sees.
        uri = self._url(scope, target, "ws", _host(scope) or "localhost")
        options: dict[str, Any] = {
            "additional_headers": headers,
            "subprotocols": scope.get("subprotocols") or None,
            "user_agent_header": None,
            "compression": None,
            "max_size": None,
            "ping_interval": None,
            "open_timeout": 10,
        }
        try:
            if target.upstream.socket_path:
                upstream = await unix_connect(target.upstream.socket_path, uri, **options)
            else:
                upstream = await connect(
                    uri, host=target.upstream.host, port=target.upstream.port, **options
                )
        except (OSError, InvalidHandshake, TimeoutError):
            await send({"type": "websocket.close", "code": 1011})
            return
        try:
            assert upstream.response is not None
            cookies = [
                ("set-cookie", rewrite_cookie_path(v, target.prefix))
                for n, v in upstream.response.headers.raw_items()
                if n.lower() == "set-cookie"
            ]
            await send(
                {
                    "type": "websocket.accept",
                    "subprotocol": upstream.subprotocol,
                    "headers": _encode(cookies),
                }
            )
            await _pump(upstream, receive, send)
        finally:
            await upstream.close()


async def _pump(upstream: ClientConnection, receive: Any, send: Any) -> None:
    """Relay messages both ways until one side closes; then close the other."""

    async def browser_to_app() -> None:
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                await upstream.close(code=_sendable(message.get("code", 1000)))
                return
            text = message.get("text")
            await upstream.send(text if text is not None else message.get("bytes") or b"")

    async def app_to_browser() -> None:
        with contextlib.suppress(ConnectionClosed):
            async for data in upstream:
                key = "text" if isinstance(data, str) else "bytes"
                await send({"type": "websocket.send", key: data})
        code = _sendable(upstream.close_code or 1000)
        with contextlib.suppress(Exception):  # the browser may already be gone
            await send(
                {"type": "websocket.close", "code": code, "reason": upstream.close_reason or ""}
            )

    tasks = [asyncio.ensure_future(browser_to_app()), asyncio.ensure_future(app_to_browser())]
    try:
        _, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed, OSError):
                await task
    finally:
        for task in tasks:
            task.cancel()


def _sendable(code: int) -> int:
    # 1005, 1006 and 1015 describe a close; they may not be sent in one.
    return 1000 if code in (1005, 1006, 1015) or not 1000 <= code < 5000 else code


async def _request_body(receive: Any) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGone
        body = message.get("body", b"")
        if body:
            yield body
        if not message.get("more_body", False):
            return


def _tcp_authority(upstream: Upstream) -> str:
    return f"{upstream.host}:{upstream.port}" if upstream.port else upstream.host


def _authority(upstream: Upstream) -> str:
    return "localhost" if upstream.socket_path else _tcp_authority(upstream)


def _host(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name.lower() == b"host":
            return value.decode("latin-1")
    server = scope.get("server")
    return f"{server[0]}:{server[1]}" if server else ""
