"""Execution environments as the API offers them: one per Python this machine has.

The probing of interpreters is the runtime's (``runtime/interpreters.py``: the builder needs
it too); the API reads environments through this module only."""

from __future__ import annotations

from dr_notebook.sandbox.runtime.interpreters import (
    ExecutionEnvironment,
    default,
    environments,
    find,
)

__all__ = ["ExecutionEnvironment", "default", "environments", "find"]
