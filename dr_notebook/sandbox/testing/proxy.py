"""Real servers for the proxy's tests and benchmark: an app that echoes, and a proxy in front.

``serve("upstream", ...)`` runs :data:`upstream` (the Starlette app of ``testing.echo_app``)
under uvicorn in a subprocess, on a Unix socket or a TCP port; ``SCRIPT_NAME`` in its
environment mounts its routes under that prefix, as DataRobot's older apps do.
``serve("front", ...)`` runs
:data:`front`, the sandbox's ``Proxy`` alone at ``/custom_applications/<id>/`` before an
upstream named by ``DR_PROXY_UPSTREAM`` (``unix:/path`` or ``host:port``). Both end when the
``with`` block does.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from starlette.types import Scope

from dr_notebook.sandbox.runtime.base import Upstream
from dr_notebook.sandbox.runtime.proxy import Proxy, Target, send_page, split_app_path
from dr_notebook.sandbox.testing.echo_app import pattern
from dr_notebook.sandbox.testing.echo_app import upstream as upstream

UPSTREAM_ENV = "DR_PROXY_UPSTREAM"
ROOT_PATH_ENV = "DR_PROXY_ROOT_PATH"
USER_EMAIL_ENV = "DR_PROXY_USER_EMAIL"


def pattern_sha256(n_bytes: int) -> str:
    """The SHA-256 of :func:`pattern` of that size."""
    digest = hashlib.sha256()
    for piece in pattern(n_bytes):
        digest.update(piece)
    return digest.hexdigest()


# ---------------------------------------------------------------- the proxy in front


def parse_upstream(text: str) -> Upstream:
    """``unix:/path`` or ``host:port``."""
    if text.startswith("unix:"):
        return Upstream(socket_path=text[len("unix:") :])
    host, _, port = text.rpartition(":")
    return Upstream(host=host, port=int(port))


class Front:
    """The proxy alone: ``/custom_applications/<id>/...`` to one upstream."""

    def __init__(self) -> None:
        self.proxy = Proxy()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await self.proxy.aclose()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        raw = scope.get("raw_path") or scope["path"].encode()
        parts = split_app_path(raw.decode("latin-1"))
        if parts is None:
            if scope["type"] == "http":
                await send_page(send, 404, "<!doctype html><p>Not an application.</p>")
            return
        app_id, rest = parts
        if not rest:
            await send(
                {
                    "type": "http.response.start",
                    "status": 307,
                    "headers": [(b"location", f"/custom_applications/{app_id}/".encode())],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return
        target = Target(
            upstream=parse_upstream(os.environ[UPSTREAM_ENV]),
            app_id=app_id,
            rest=rest,
            root_path=os.environ.get(ROOT_PATH_ENV, "1") == "1",
            user_email=os.environ.get(USER_EMAIL_ENV) or None,
        )
        await self.proxy(scope, receive, send, target)


front = Front()

# ---------------------------------------------------------------- running them


@dataclass
class Served:
    """A server started by :func:`serve`: its process and how to reach it."""

    process: subprocess.Popen[bytes]
    url: str  # http://127.0.0.1:<port> or http://localhost for a Unix socket
    socket_path: str | None = None
    port: int | None = None

    @property
    def upstream_spec(self) -> str:
        """How :data:`front` names this server in ``DR_PROXY_UPSTREAM``."""
        return f"unix:{self.socket_path}" if self.socket_path else f"127.0.0.1:{self.port}"

    def client(self, **kwargs: Any) -> httpx.Client:
        """An httpx client to this server."""
        transport = httpx.HTTPTransport(uds=self.socket_path) if self.socket_path else None
        return httpx.Client(base_url=self.url, transport=transport, trust_env=False, **kwargs)


@contextlib.contextmanager
def serve(
    which: str, *, socket_path: Path | None = None, env: dict[str, str] | None = None
) -> Iterator[Served]:
    """Run ``upstream`` or ``front`` under uvicorn (Unix socket if given, else a TCP port)."""
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        f"dr_notebook.sandbox.testing.proxy:{which}",
        "--log-level",
        "warning",
        "--no-access-log",
        "--ws",
        "websockets-sansio",
    ]
    if socket_path is not None:
        argv += ["--uds", str(socket_path)]
        served_url, port = "http://localhost", None
    else:
        # A port, not an inherited socket (--fd): uvicorn takes an inherited one for a Unix
        # socket, and asyncio then leaves Nagle's algorithm on for its TCP connections.
        port = free_port()
        argv += ["--host", "127.0.0.1", "--port", str(port)]
        served_url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(argv, env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL)
    served = Served(process, served_url, str(socket_path) if socket_path else None, port)
    try:
        _wait_ready(served)
        yield served
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Jupyter:
    """A Jupyter server with jupyter-server-proxy, started by :func:`jupyter_server`."""

    process: subprocess.Popen[bytes]
    origin: str  # http://127.0.0.1:<port>
    base_url: str  # "/user/me/"
    token: str

    @property
    def url(self) -> str:
        """The server's own URL, ending in "/"."""
        return self.origin + self.base_url

    def proxied(self, port: int) -> str:
        """The path of ``http://127.0.0.1:<port>/`` through the server's proxy, without "/"."""
        return f"{self.base_url}proxy/{port}"


@contextlib.contextmanager
def jupyter_server(root: Path, base_url: str = "/user/me/") -> Iterator[Jupyter]:
    """A Jupyter server (a JupyterHub user's shape: ``base_url``) proxying local ports."""
    port, token = free_port(), secrets.token_hex(16)
    argv = [
        sys.executable,
        "-m",
        "jupyter",
        "server",
        "--no-browser",
        "--allow-root",  # containers often run as root
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        f"--ServerApp.base_url={base_url}",
        f"--ServerApp.root_dir={root}",
        f"--IdentityProvider.token={token}",
        # window.jupyterapp, for tests that drive JupyterLab or Notebook 7 (when installed)
        "--LabApp.expose_app_in_browser=True",
        "--JupyterNotebookApp.expose_app_in_browser=True",
    ]
    process = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    server = Jupyter(process, f"http://127.0.0.1:{port}", base_url, token)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the Jupyter server exited with {process.returncode}")
            try:
                httpx.get(f"{server.url}api/status", timeout=2, trust_env=False)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_ready(served: Served, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if served.process.poll() is not None:
            raise RuntimeError(f"the server exited with {served.process.returncode}")
        try:
            with served.client(timeout=2) as client:
                client.get("/")
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
