"""Start a sandbox in a subprocess for tests, benchmarks and notebooks.

>>> from dr_notebook.sandbox.testing import start_sandbox
>>> with start_sandbox() as sb:                       # doctest: +SKIP
...     requests.get(sb.endpoint + "/customTemplates/", headers=sb.auth_headers())
"""

from __future__ import annotations

import collections
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import requests

from dr_notebook.sandbox.server import TOKENS_ENV
from dr_notebook.sandbox.settings import ROLES, apps_dir_for

__all__ = ["SandboxError", "SandboxServer", "processes_in", "start_sandbox"]

_START_TIMEOUT_S = 60.0
_STOP_TIMEOUT_S = 10.0
_BEHAVIOUR_KEYS = (
    "latency_ms",
    "fault_rate",
    "fault_kind",
    "retry_after_s",
    "async_sources",
    "async_delay_ms",
    "async_outcome",
    "app_start_delay_ms",
    "app_start_timeout_s",
)


class SandboxError(RuntimeError):
    """The sandbox process could not start or answer."""


class SandboxServer:
    """A running sandbox subprocess: its endpoint, tokens and controls."""

    def __init__(
        self,
        *,
        db_path: Path | str | None = None,
        demo: bool = True,
        generate: int = 0,
        latency_ms: int = 0,
        async_sources: bool = False,
        async_delay_ms: int = 300,
        fault_rate: float = 0.0,
        fault_kind: str = "mixed",
        seed: int | None = None,
        tokens: dict[str, str] | None = None,
        host: str = "127.0.0.1",
        run_apps: bool = False,
        app_start_delay_ms: int = 300,
        app_start_timeout_s: int = 60,
        offline: bool = False,
        isolation: str | None = None,
        envs_dir: Path | str | None = None,
        cwd: Path | str | None = None,
        environ: Mapping[str, str | None] | None = None,
        args: Sequence[str] = (),
    ) -> None:
        self._tmpdir: Path | None = None
        if db_path is None:
            self._tmpdir = Path(tempfile.mkdtemp(prefix="dr-notebook-sandbox-"))
            db_path = self._tmpdir / "sandbox.db"
        self.db_path = Path(db_path)
        self.tokens: dict[str, str] = dict(tokens) if tokens else _generated_tokens()
        self.host = host
        self.demo = demo
        self.generate = generate
        self.seed = seed
        self.behaviour: dict[str, Any] = {
            "latency_ms": latency_ms,
            "async_sources": async_sources,
            "async_delay_ms": async_delay_ms,
            "fault_rate": fault_rate,
            "fault_kind": fault_kind,
            "app_start_delay_ms": app_start_delay_ms,
            "app_start_timeout_s": app_start_timeout_s,
        }
        self.run_apps = run_apps
        self.offline = offline
        self.isolation = isolation
        self.envs_dir = None if envs_dir is None else Path(envs_dir)
        self.cwd = None if cwd is None else Path(cwd)  # where the process starts (a relative db)
        self.environ = dict(environ or {})  # variables set for it; None removes one
        self.args = list(args)  # more command-line options
        self.port: int | None = None
        self._proc: subprocess.Popen[str] | None = None
        self._output: collections.deque[str] = collections.deque(maxlen=200)
        self._session = requests.Session()

    # -- addresses and credentials -----------------------------------------------------------
    @property
    def base_url(self) -> str:
        """``http://HOST:PORT`` of the running server."""
        if self.port is None:
            raise SandboxError("the sandbox is not running")
        return f"http://{self.host}:{self.port}"

    @property
    def endpoint(self) -> str:
        """The API root, what ``DATAROBOT_ENDPOINT`` gets: ``http://HOST:PORT/api/v2``."""
        return f"{self.base_url}/api/v2"

    @property
    def apps_dir(self) -> Path:
        """Where a ``run_apps`` sandbox writes its applications' working folders."""
        return apps_dir_for(self.db_path if self.cwd is None else self.cwd / self.db_path)

    @property
    def token(self) -> str:
        """The admin token."""
        return self.tokens["admin"]

    def auth_headers(self, role: str = "admin") -> dict[str, str]:
        """``{"Authorization": "Bearer <token of role>"}``."""
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def env(self, role: str = "admin") -> dict[str, str]:
        """``DATAROBOT_ENDPOINT`` and ``DATAROBOT_API_TOKEN`` for this sandbox and role."""
        return {"DATAROBOT_ENDPOINT": self.endpoint, "DATAROBOT_API_TOKEN": self.tokens[role]}

    def api(self, method: str, path: str, role: str | None = "admin", **kwargs: Any) -> Any:
        """A ``requests`` call to ``endpoint/path`` as ``role`` (None: no Authorization header)."""
        headers = dict(kwargs.pop("headers", None) or {})
        if role is not None:
            headers.update(self.auth_headers(role))
        kwargs.setdefault("timeout", 30)
        url = path if path.startswith("http") else f"{self.endpoint}/{path.lstrip('/')}"
        return self._session.request(method, url, headers=headers, **kwargs)

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> SandboxServer:
        """Start the subprocess and wait until it listens."""
        if self._proc is not None:
            return self
        cmd = [sys.executable, "-m", "dr_notebook.sandbox", "--host", self.host, "--port", "0"]
        cmd += ["--db", str(self.db_path)]
        if not self.demo:
            cmd.append("--no-demo")
        if self.generate:
            cmd += ["--generate", str(self.generate)]
        if self.seed is not None:
            cmd += ["--seed", str(self.seed)]
        if self.run_apps:
            cmd.append("--run-apps")
        if self.offline:
            cmd.append("--offline")
        if self.isolation:
            cmd += ["--isolation", self.isolation]
        if self.envs_dir is not None:
            cmd += ["--envs-dir", str(self.envs_dir)]
        cmd += self.args
        env = dict(os.environ)
        env[TOKENS_ENV] = ",".join(f"{role}={tok}" for role, tok in self.tokens.items())
        env["PYTHONUNBUFFERED"] = "1"
        for name, value in self.environ.items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        self._proc = subprocess.Popen(
            cmd,
            cwd=self.cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        self.port = self._wait_for_port()
        threading.Thread(target=self._drain, daemon=True).start()
        self.configure(**self.behaviour)
        return self

    def stop(self) -> None:
        """Stop the server (as Ctrl-C does) and delete a temporary database."""
        self._stop_process()
        self._session.close()
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def restart(self) -> None:
        """Stop and start again on the same database, keeping tokens and settings."""
        self._stop_process()
        generate, self.generate = self.generate, 0
        try:
            self.start()
        finally:
            self.generate = generate

    @property
    def pid(self) -> int | None:
        """The server process's id while it runs (to signal it as a supervisor would)."""
        return None if self._proc is None else self._proc.pid

    @property
    def running(self) -> bool:
        """Whether the subprocess is alive."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def output(self) -> str:
        """The last lines the server printed (tokens are not among them after start)."""
        return "".join(self._output)

    # -- control API ------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """``{"total", "requests": [{method, path, status}...], "counts": {"METHOD path": n}}``."""
        return self._control("GET", "stats/")

    def reset_stats(self) -> None:
        """Forget the request statistics."""
        self._control("POST", "stats/reset/")

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Change runtime behaviour: latency_ms, fault_rate, fault_kind, retry_after_s,
        async_sources, async_delay_ms, async_outcome, app_start_delay_ms, app_start_timeout_s.
        Returns the whole configuration."""
        unknown = set(changes) - set(_BEHAVIOUR_KEYS)
        if unknown:
            raise TypeError(f"unknown sandbox settings: {', '.join(sorted(unknown))}")
        config = self._control("PUT", "config/", json=changes)
        self.behaviour.update(changes)
        return config

    def config(self) -> dict[str, Any]:
        """The current behaviour settings (latency, faults, async sources, app starts)."""
        return self._control("GET", "config/")

    # -- internals --------------------------------------------------------------------------
    def _control(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._session.request(
            method,
            f"{self.base_url}/_sandbox/{path}",
            headers=self.auth_headers(),
            timeout=30,
            **kwargs,
        )
        if response.status_code >= 400:
            raise SandboxError(
                f"{method} /_sandbox/{path} -> {response.status_code}: {response.text}"
            )
        return response.json()

    def _wait_for_port(self) -> int:
        assert self._proc is not None and self._proc.stdout is not None
        deadline = time.monotonic() + _START_TIMEOUT_S
        prefix = "export DATAROBOT_ENDPOINT="
        while time.monotonic() < deadline:
            line = self._proc.stdout.readline()
            if not line:
                break
            if line.startswith(prefix):
                port = line.strip().rsplit(":", 1)[1].split("/", 1)[0]
                return int(port)
            if not line.startswith("export DATAROBOT_API_TOKEN="):
                self._output.append(line)
        self._stop_process()
        raise SandboxError(f"the sandbox did not start:\n{''.join(self._output)}")

    def _drain(self) -> None:
        proc = self._proc
        if proc is None or proc.stdout is None:
            return
        for line in proc.stdout:
            if not line.startswith("export DATAROBOT_API_TOKEN="):
                self._output.append(line)

    def _stop_process(self) -> None:
        proc, self._proc = self._proc, None
        self.port = None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT if os.name == "posix" else signal.SIGTERM)
            try:
                proc.wait(_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.endpoint if self.port else "stopped"
        return f"SandboxServer({where}, db={str(self.db_path)!r})"


def start_sandbox(**kwargs: Any) -> SandboxServer:
    """Start a sandbox subprocess; use as a context manager (or call ``.stop()``).

    Keyword arguments: db_path, demo, generate, latency_ms, async_sources, async_delay_ms,
    fault_rate, fault_kind, seed, tokens, run_apps, app_start_delay_ms, app_start_timeout_s,
    offline, isolation (``"port"`` forces the fallback), envs_dir, cwd (the folder it starts
    in: a relative ``db_path`` is read from there), environ (variables to set; None removes
    one), args (more command-line options) (see :class:`SandboxServer`).
    """
    return SandboxServer(**kwargs).start()


def _generated_tokens() -> dict[str, str]:
    return {role: f"sbx-{role}-{secrets.token_urlsafe(18)}" for role in ROLES}


def processes_in(folder: Path) -> list[Any]:
    """Processes (``psutil.Process``) whose working directory is inside ``folder``: with
    ``SandboxServer.apps_dir``, the processes of a ``run_apps`` sandbox's applications."""
    import psutil

    found = []
    for proc in psutil.process_iter(["cwd"]):
        cwd = proc.info.get("cwd")
        if cwd and cwd.startswith(str(folder)):
            found.append(proc)
    return found
