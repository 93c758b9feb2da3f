"""The echo app behind the proxy in its tests: Starlette only, so that it also runs as an
application's ``app.py`` in an environment without dr-notebook.

``SCRIPT_NAME`` in its environment mounts its routes under that prefix, as DataRobot's older
apps do.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator, Iterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.websockets import WebSocket

CHUNK = 64 * 1024


def pattern(n_bytes: int) -> Iterator[bytes]:
    """``n_bytes`` of a fixed pattern, in 64 KiB chunks (downloads and uploads)."""
    block = bytes(range(256)) * (CHUNK // 256)
    sent = 0
    while sent < n_bytes:
        piece = block[: min(CHUNK, n_bytes - sent)]
        sent += len(piece)
        yield piece


_released = asyncio.Event()


async def _echo(request: Request) -> Response:
    body = await request.body()
    return JSONResponse(
        {
            "method": request.method,
            "path": request.scope["path"],
            "root_path": request.scope.get("root_path", ""),
            "query": request.url.query,
            "headers": {k: ", ".join(request.headers.getlist(k)) for k in request.headers},
            "body": body.decode("utf-8", "replace"),
            "script_name": os.environ.get("SCRIPT_NAME", ""),
        }
    )


async def _upload(request: Request) -> Response:
    digest, size = hashlib.sha256(), 0
    async for piece in request.stream():
        digest.update(piece)
        size += len(piece)
    return JSONResponse({"bytes": size, "sha256": digest.hexdigest()})


async def _download(request: Request) -> Response:
    n_bytes = int(float(request.query_params.get("mb", "1")) * 1024 * 1024)

    async def chunks() -> AsyncIterator[bytes]:
        for piece in pattern(n_bytes):
            yield piece

    return StreamingResponse(chunks(), media_type="application/octet-stream")


async def _small(request: Request) -> Response:
    return HTMLResponse("<!doctype html><title>small</title><p>A small page.</p>")


async def _sse(request: Request) -> Response:
    _released.clear()

    async def events() -> AsyncIterator[bytes]:
        yield b"data: one\n\n"
        await _released.wait()  # only a second request releases the rest: no buffering survives
        yield b"data: two\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


async def _release(request: Request) -> Response:
    _released.set()
    return PlainTextResponse("released")


async def _redirect(request: Request) -> Response:
    return RedirectResponse(request.query_params["to"], status_code=302)


async def _cookies(request: Request) -> Response:
    response = PlainTextResponse("cookies")
    response.set_cookie("at_root", "1", path="/")
    response.set_cookie("below", "2", path="/sub")
    response.set_cookie("own", "3", path=f"{os.environ.get('SCRIPT_NAME', '')}/")
    return response


async def _links(request: Request) -> Response:
    # Root-path apps build links from X-Forwarded-Prefix; SCRIPT_NAME apps from their mount.
    base = request.scope.get("root_path") or request.headers.get("x-forwarded-prefix", "")
    return HTMLResponse(f'<a id="echo" href="{base}/echo">echo</a>')


async def _websocket(websocket: WebSocket) -> None:
    offered = websocket.scope.get("subprotocols") or []
    await websocket.accept(subprotocol=offered[0] if offered else None)
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("text") is not None:
            text = message["text"]
            if text.startswith("close:"):
                await websocket.close(code=int(text.split(":")[1]))
                return
            if text == "headers":
                await websocket.send_json(dict(websocket.headers))
                continue
            await websocket.send_text(text)
        else:
            await websocket.send_bytes(message["bytes"])


def _routes() -> list[BaseRoute]:
    every = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    return [
        Route("/", _small),
        Route("/echo", _echo, methods=every),
        Route("/upload", _upload, methods=["POST", "PUT"]),
        Route("/download", _download),
        Route("/sse", _sse),
        Route("/sse/release", _release, methods=["POST"]),
        Route("/redirect", _redirect),
        Route("/cookies", _cookies),
        Route("/links", _links),
        WebSocketRoute("/ws", _websocket),
    ]


def _upstream_app() -> Starlette:
    prefix = os.environ.get("SCRIPT_NAME", "")
    return Starlette(routes=[Mount(prefix, routes=_routes())] if prefix else _routes())


upstream = _upstream_app()
