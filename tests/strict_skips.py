"""A pytest plugin: where ``CI`` or ``DR_NOTEBOOK_REQUIRE_BROWSER`` is set, a skipped test is a
failure. A missing tool (Chromium, uv, socat, unshare, bubblewrap...) must be installed by the
project's own files (``.ci/run``, the extras), not pass unnoticed."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

STRICT = any(
    os.environ.get(name, "") not in ("", "0") for name in ("CI", "DR_NOTEBOOK_REQUIRE_BROWSER")
)
"""Skips are failures (CI, or a run that asks for every test)."""


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Under ``STRICT``, turn a skip into a failure that names what was missing."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    if STRICT and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = (
            f"skipped where nothing may be skipped (CI / DR_NOTEBOOK_REQUIRE_BROWSER): {reason}"
        )
