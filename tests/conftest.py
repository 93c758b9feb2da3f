"""Shared fixtures: the sandbox fixtures come from the plugin users can load too; under CI a
skip is a failure (strict_skips.py). Every ``--run-apps`` sandbox of the session builds its
environments in one folder (``DR_NOTEBOOK_ENVS_DIR``), so the base is built once; tests of
cold builds pass an ``envs_dir`` of their own."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from typing import Any

import pytest
import traitlets

from dr_notebook.sandbox.settings import ENVS_DIR_VARIABLE

pytest_plugins = ["dr_notebook.sandbox.pytest_plugin", "drapps_cli", "strict_skips"]

_SHARED_ENVS: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    """One environments folder for the session's sandboxes (unless the caller chose one)."""
    if not os.environ.get(ENVS_DIR_VARIABLE):
        folder = tempfile.mkdtemp(prefix="dr-notebook-test-envs-")
        _SHARED_ENVS.append(folder)
        os.environ[ENVS_DIR_VARIABLE] = folder


# Groups measured to take longest: they start first, each on a worker of its own, so that none
# of them starts late and becomes the run's tail. The other browser groups follow.
LONGEST_FIRST = (
    "test_browser_app_show",
    "test_browser_application",
    "test_sandbox_catalogue_apps",
    "test_browser_app_show-launches",
)


def xdist_group_of(item: pytest.Item) -> str:
    """Every module is a group of its own, keeping its module fixtures (sandboxes), except the
    quick browser tests: one group ("browser"), so they share one JupyterLab."""
    browser = item.get_closest_marker("browser") is not None
    if browser and item.get_closest_marker("slow") is None:
        return "browser"
    return item.path.stem


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """For ``pytest -n N --dist loadgroup --no-loadscope-reorder`` (make test): the longest
    groups first, then the browser groups (each starts a JupyterLab or Chromium), then the other
    slow ones, then the rest, each kind with the groups of more tests first."""
    counts: dict[str, int] = {}
    first_seen: dict[str, int] = {}
    for item in items:
        if not any(item.iter_markers("xdist_group")):
            item.add_marker(pytest.mark.xdist_group(xdist_group_of(item)))
        group = _group(item)
        counts[group] = counts.get(group, 0) + 1
        first_seen.setdefault(group, len(first_seen))

    def rank(item: pytest.Item) -> tuple[int, int, int]:
        group = _group(item)
        if group in LONGEST_FIRST:
            return (0, LONGEST_FIRST.index(group), 0)
        if item.get_closest_marker("browser") is not None:
            kind = 1
        else:
            kind = 2 if item.get_closest_marker("slow") is not None else 3
        return (kind, -counts[group], first_seen[group])

    items.sort(key=rank)


def _group(item: pytest.Item) -> str:
    marker = item.get_closest_marker("xdist_group")
    assert marker is not None
    return str(marker.kwargs.get("name") or marker.args[0])


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the session's environments folder."""
    for folder in _SHARED_ENVS:
        os.environ.pop(ENVS_DIR_VARIABLE, None)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def template_columns() -> list[str]:
    """The documented columns of ``client.templates.frame()``, in order (README's table)."""
    return [
        "name",
        "template_type",
        "template_sub_type",
        "enabled",
        "id",
        "description",
        "default_resource_bundle_id",
        "environment_id",
        "environment_version_id",
        "tags",
        "resource_bundle_ids",
        "class_labels",
        "files",
        "file_count",
        "readme",
        "publisher",
        "category",
        "local_launch",
    ]


@pytest.fixture(scope="module")
def client(sandbox: Any) -> Any:
    """An admin client of the session sandbox, without progress bars (modules may override)."""
    from dr_notebook.client import Client

    return Client(endpoint=sandbox.endpoint, token=sandbox.token, progress=False)


@pytest.fixture(scope="module")
def templates(client: Any) -> list[Any]:
    """The session sandbox's catalogue (the demo templates), as ``client.templates.list()``."""
    return client.templates.list()


@pytest.fixture
def widget_changes() -> Callable[..., list[str]]:
    """``watch(gallery)``: a list that records every change to the widgets inside it from now on."""
    from dr_notebook.gallery.ui import walk

    def watch(gallery: object) -> list[str]:
        touched: list[str] = []
        for widget in list(walk(gallery))[1:]:  # type: ignore[arg-type]
            widget.observe(
                lambda change, w=widget: touched.append(f"{type(w).__name__}.{change['name']}"),
                names=traitlets.All,
            )
        return touched

    return watch


@pytest.fixture
def value_recorder() -> Callable[..., tuple[list[str], list[str]]]:
    """``record(widget)``: every value the widget takes from now on, and the thread setting it."""
    import threading

    def record(widget: Any) -> tuple[list[str], list[str]]:
        values: list[str] = []
        threads: list[str] = []

        def seen(change: dict[str, Any]) -> None:
            values.append(change["new"])
            threads.append(threading.current_thread().name)

        widget.observe(seen, names="value")
        return values, threads

    return record
