"""The runtime protocol: what the services may ask of whatever runs applications."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

ENTRYPOINT = "start-app.sh"

# (application id, run id, status, build error or None, build log)
Reporter = Callable[[str, str, str, "str | None", str], None]


@dataclass(frozen=True)
class Upstream:
    """Where a running application answers: a TCP host and port today, a Unix socket later."""

    host: str = "127.0.0.1"
    port: int | None = None
    socket_path: str | None = None

    @property
    def url(self) -> str:
        """``http://host:port``; with only a Unix socket, the URL a client sends over it."""
        if self.port is None:
            return "http://localhost"
        return f"http://{self.host}:{self.port}"


@dataclass
class RunSpec:
    """What one run needs: the files, the port, its owner's variables and its parameters.

    ``env`` holds what DataRobot sets for an application (``DATAROBOT_ENDPOINT``,
    ``DATAROBOT_API_TOKEN``, ``MLOPS_RUNTIME_PARAM_*``); ``secrets`` are the strings the run's
    output must never show (every token the sandbox knows).
    """

    app_id: str
    run_id: str
    files: Sequence[tuple[str, bytes]]
    port: int | None
    env: dict[str, str]
    secrets: Sequence[str] = field(default_factory=tuple)
    environment_id: str | None = None  # the version's execution environment (or its version)
    root_path: bool = True  # serviceWebRequestsOnRootPath: the path the page check asks for


@dataclass
class RunLogs:
    """An application's output lines and build log as the runtime has them now."""

    lines: list[str]
    build_log: str | None  # None: this runtime has not run the application
    started: bool  # the build is over and start-app.sh was launched


class Runtime(Protocol):
    """Runs applications: real processes (``local``) or none at all (``simulated``)."""

    simulated: bool

    def ready_at(self) -> float | None:
        """When a new run should count as running without a report (simulated), else None."""
        ...

    def port_for(self, previous: int | None) -> int | None:
        """The port a new run listens on (``previous`` when still free), None if none."""
        ...

    def start(self, spec: RunSpec) -> None:
        """Stop the application's current run, if any, and start this one in the background."""
        ...

    def stop(self, app_id: str, forget_files: bool = False) -> None:
        """End every process of the application's run (and delete its folders if asked)."""
        ...

    def stop_all(self) -> None:
        """End every run, in parallel (the sandbox is stopping)."""
        ...

    def status(self, app_id: str) -> str | None:
        """``building``, ``running``, ``failed``, ``stopped``, or None when unknown here."""
        ...

    def logs(self, app_id: str) -> RunLogs:
        """The run's last output lines and build log."""
        ...

    def upstream(self, app_id: str) -> Upstream | None:
        """Where the running application answers, or None when it does not run here."""
        ...

    def close(self) -> None:
        """Stop everything and release what the runtime holds."""
        ...
