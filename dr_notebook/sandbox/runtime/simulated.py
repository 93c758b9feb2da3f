"""Simulated applications (no ``--run-apps``): no processes; running after a delay."""

from __future__ import annotations

import time
from collections.abc import Callable

from dr_notebook.sandbox.runtime.base import RunLogs, RunSpec, Upstream

SIMULATED_BUILD_LOG = (
    "Simulated build: the sandbox was started without --run-apps, so start-app.sh "
    "was not run. The application shows a page that says so."
)


class SimulatedRuntime:
    """Runs nothing: an application counts as running ``delay_ms`` after it was started."""

    simulated = True

    def __init__(self, delay_ms: Callable[[], float]) -> None:
        self._delay_ms = delay_ms

    def ready_at(self) -> float:
        """The time at which a run started now counts as running."""
        return time.time() + self._delay_ms() / 1000

    def port_for(self, previous: int | None) -> None:
        """Simulated applications listen nowhere."""
        return None

    def start(self, spec: RunSpec) -> None:
        """Nothing to start: the stored ``ready_at`` time says when it runs."""

    def stop(self, app_id: str, forget_files: bool = False) -> None:
        """Nothing to stop."""

    def stop_all(self) -> None:
        """Nothing to stop."""

    def close(self) -> None:
        """Nothing to release."""

    def status(self, app_id: str) -> str | None:
        """Unknown here: the store's ``ready_at`` decides."""
        return None

    def logs(self, app_id: str) -> RunLogs:
        """No output; a build log that says why."""
        return RunLogs([], SIMULATED_BUILD_LOG, False)

    def upstream(self, app_id: str) -> Upstream | None:
        """A simulated application answers nowhere: the sandbox's page stands for it."""
        return None
