"""Shared fixtures: the sandbox fixtures come from the plugin users can load too."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import traitlets

pytest_plugins = ["dr_notebook.sandbox.pytest_plugin"]


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
    ]


@pytest.fixture
def widget_changes() -> Callable[..., list[str]]:
    """``watch(gallery)``: a list that records every change to the widgets inside it from now on."""
    from dr_notebook.gallery.widget import _walk

    def watch(gallery: object) -> list[str]:
        touched: list[str] = []
        for widget in list(_walk(gallery))[1:]:  # type: ignore[arg-type]
            widget.observe(
                lambda change, w=widget: touched.append(f"{type(w).__name__}.{change['name']}"),
                names=traitlets.All,
            )
        return touched

    return watch
