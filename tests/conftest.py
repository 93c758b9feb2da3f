"""Shared fixtures: the sandbox fixtures come from the plugin users can load too."""

pytest_plugins = ["dr_notebook.sandbox.pytest_plugin"]
