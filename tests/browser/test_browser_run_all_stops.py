"""Run All stops at a magic's error: re-running ``applications.ipynb`` while "My Flask app"
exists fails at ``%dr_new_app`` and runs none of the later cells (which would otherwise delete
the existing application). A cell run by hand afterwards still runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser
NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"

RUN_IN_KERNEL = """async (code) => {
    const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
    const reply = await kernel.requestExecute({code}).done;
    return reply.content.status;
}"""


def ran(lab_page) -> list[bool]:
    """Per code cell: whether it ran (has an execution count)."""
    return lab_page.page.evaluate(
        """() => window.jupyterapp.shell.currentWidget.content.widgets
              .filter(c => c.model.type === 'code').map(c => c.model.executionCount !== null)"""
    )


def first_cell_with(text: str) -> int:
    """The index, among the code cells of applications.ipynb, of the first containing ``text``."""
    notebook = json.loads((NOTEBOOKS / "applications.ipynb").read_text())
    code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    return next(i for i, c in enumerate(code) if text in "".join(c["source"]))


def test_run_all_stops_at_a_name_in_use_error(lab_page) -> None:
    lab_page.open("applications.ipynb")
    page = lab_page.page
    made = page.evaluate(
        RUN_IN_KERNEL,
        "import dr_notebook as drn\n"
        'existing = drn.Client().launch("Flask App Base", name="My Flask app", wait=False)',
    )
    assert made == "ok"
    try:
        lab_page.run_all(timeout=240)
        lab_page.settle(5)  # time for late requests to run, if they were going to
        errors = lab_page.errors()
        assert len(errors) == 1 and errors[0].startswith("NameInUseError"), errors
        launched = ran(lab_page)
        failing = first_cell_with("%dr_new_app")  # the cells up to it ran, none after it
        assert all(launched[: failing + 1]) and not any(launched[failing + 1 :]), launched
        # The existing application was left alone; a cell run after the error runs.
        still = "assert drn.Client().applications.get(existing.id).name == 'My Flask app'"
        assert page.evaluate(RUN_IN_KERNEL, still) == "ok"
    finally:
        page.evaluate(RUN_IN_KERNEL, "drn.Client().applications.delete(existing)")
