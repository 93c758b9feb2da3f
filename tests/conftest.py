"""Shared fixtures: the sandbox fixtures come from the plugin users can load too."""

from __future__ import annotations

import pytest

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
