"""The documented plugin path: ``pytest_plugins = ["dr_notebook.sandbox.pytest_plugin"]``.

The fixtures live in :mod:`dr_notebook.sandbox.testing.pytest_plugin`."""

from dr_notebook.sandbox.testing.pytest_plugin import (
    DEFAULTS,
    sandbox,
    sandbox_factory,
    sandbox_settings,
)

__all__ = ["DEFAULTS", "sandbox", "sandbox_factory", "sandbox_settings"]
