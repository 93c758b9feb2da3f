"""dr-notebook: DataRobot custom templates in Jupyter.

``import dr_notebook as drn`` gives the public names below; heavy modules (pandas, ipywidgets,
the HTTP client) load on first use so that ``%load_ext`` and the sandbox start quickly.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from dr_notebook._version import __version__

if TYPE_CHECKING:
    from dr_notebook import client, enums, errors, models
    from dr_notebook.client import Client
    from dr_notebook.config import Secret
    from dr_notebook.gallery import TemplateGallery
    from dr_notebook.models import (
        Application,
        ApplicationLogs,
        ApplicationSource,
        ApplicationSourceVersion,
        AsyncStatus,
        DefaultEnvironment,
        LaunchStep,
        RuntimeParameter,
        Template,
        TemplateFile,
        TemplateMetadata,
        WorkspaceItem,
    )
    from dr_notebook.render import render_markdown
    from dr_notebook.resources.app_folder import Finding, check_app_folder
    from dr_notebook.resources.pagination import Page
    from dr_notebook.resources.sync import SyncResult

__all__ = [
    "Application",
    "ApplicationLogs",
    "ApplicationSource",
    "ApplicationSourceVersion",
    "AsyncStatus",
    "Client",
    "DefaultEnvironment",
    "Finding",
    "LaunchStep",
    "Page",
    "RuntimeParameter",
    "Secret",
    "SyncResult",
    "Template",
    "TemplateFile",
    "TemplateGallery",
    "TemplateMetadata",
    "WorkspaceItem",
    "__version__",
    "check_app_folder",
    "client",
    "enums",
    "errors",
    "load_ipython_extension",
    "models",
    "render_markdown",
    "unload_ipython_extension",
]

_LAZY = {
    "Client": "dr_notebook.client",
    "Secret": "dr_notebook.config",
    "TemplateGallery": "dr_notebook.gallery",
    "render_markdown": "dr_notebook.render",
    "Template": "dr_notebook.models",
    "Application": "dr_notebook.models",
    "ApplicationSource": "dr_notebook.models",
    "LaunchStep": "dr_notebook.models",
    "AsyncStatus": "dr_notebook.models",
    "ApplicationSourceVersion": "dr_notebook.models",
    "ApplicationLogs": "dr_notebook.models",
    "RuntimeParameter": "dr_notebook.models",
    "TemplateFile": "dr_notebook.models",
    "TemplateMetadata": "dr_notebook.models",
    "DefaultEnvironment": "dr_notebook.models",
    "WorkspaceItem": "dr_notebook.models",
    "SyncResult": "dr_notebook.resources.sync",
    "Page": "dr_notebook.resources.pagination",
    "Finding": "dr_notebook.resources.app_folder",
    "check_app_folder": "dr_notebook.resources.app_folder",
}
#: Submodules reachable as attributes in any import order (``drn.models`` in a fresh kernel).
_SUBMODULES = ("client", "enums", "errors", "models")


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        found = importlib.import_module(f"dr_notebook.{name}")
    else:
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(f"module 'dr_notebook' has no attribute {name!r}")
        found = getattr(importlib.import_module(module), name)
    if name == "models" or _LAZY.get(name) == "dr_notebook.models":
        # Entities reached through the package show as cards, as the client's do.
        importlib.import_module("dr_notebook.cards")
    return found


def __dir__() -> list[str]:
    return sorted(__all__)


def load_ipython_extension(ipython: Any) -> None:
    """Register the ``%dr_*`` magics (``%load_ext dr_notebook``)."""
    from dr_notebook.magics import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """Remove what ``load_ipython_extension`` registered."""
    from dr_notebook.magics import unload_ipython_extension as unload

    unload(ipython)
