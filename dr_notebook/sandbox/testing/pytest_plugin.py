"""pytest fixtures for code that talks to DataRobot: a sandbox per session, more on demand.

Load it with ``pytest_plugins = ["dr_notebook.sandbox.pytest_plugin"]`` in ``conftest.py``.

- ``sandbox`` (session): a demo-catalogue sandbox, synchronous sources, no latency or faults.
  A test that calls ``sandbox.configure(...)`` should use ``sandbox_settings`` instead, which
  restores the defaults afterwards.
- ``sandbox_settings`` (function): ``sandbox_settings(latency_ms=..)`` configures the session
  sandbox for one test and returns it.
- ``sandbox_factory`` (function): ``sandbox_factory(**start_sandbox_kwargs)`` starts extra
  sandboxes, all stopped at teardown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from dr_notebook.sandbox.testing import SandboxServer, start_sandbox

DEFAULTS: dict[str, Any] = {
    "latency_ms": 0,
    "fault_rate": 0.0,
    "fault_kind": "mixed",
    "retry_after_s": 0,
    "async_sources": False,
    "async_delay_ms": 300,
    "async_outcome": "COMPLETED",
    "app_start_delay_ms": 300,
    "app_start_timeout_s": 60,
}


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxServer]:
    """A running demo-catalogue sandbox shared by the whole session."""
    with start_sandbox() as server:
        yield server


@pytest.fixture
def sandbox_settings(sandbox: SandboxServer) -> Iterator[Callable[..., SandboxServer]]:
    """Configure the session sandbox for one test; the defaults come back at teardown."""

    def configure(**changes: Any) -> SandboxServer:
        sandbox.configure(**changes)
        return sandbox

    yield configure
    sandbox.configure(**DEFAULTS)


@pytest.fixture
def sandbox_factory() -> Iterator[Callable[..., SandboxServer]]:
    """Start extra sandboxes with ``start_sandbox`` keyword arguments; stopped at teardown."""
    started: list[SandboxServer] = []

    def factory(**kwargs: Any) -> SandboxServer:
        server = start_sandbox(**kwargs)
        started.append(server)
        return server

    yield factory
    for server in reversed(started):
        server.stop()
