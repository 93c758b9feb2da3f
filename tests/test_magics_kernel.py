"""The magics in a real Jupyter kernel (nbclient) against the sandbox: what a notebook keeps."""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

CELLS = [
    "%load_ext dr_notebook",
    "%dr_templates --limit 3",
    "%dr_template 0123456789abcdef01234567",
    "%dr_templates --limit many",
    "src = %dr_new_app {template_id} --source-only\nsrc.id",
    "%config DataRobotMagics",
    "%dr_template {template_id}",
]


def test_magics_in_a_kernel(
    sandbox_settings: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    import dr_notebook as drn

    sb = sandbox_settings(async_sources=True, async_delay_ms=1200)
    monkeypatch.setenv("DATAROBOT_ENDPOINT", sb.endpoint)
    monkeypatch.setenv("DATAROBOT_API_TOKEN", sb.token)
    monkeypatch.setenv("HOME", str(tmp_path))
    client = drn.Client(sb.endpoint, sb.token)
    template = next(t for t in client.templates.list() if t.can_create_application)
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(c.format(template_id=template.id)) for c in CELLS]
    )
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True).execute()
    outputs = [cell.outputs for cell in nb.cells]

    assert outputs[1][0]["output_type"] == "execute_result"
    assert "text/html" in outputs[1][0]["data"]  # the DataFrame

    (error,) = outputs[2]
    assert error["output_type"] == "error" and error["ename"] == "NotFoundError"
    assert len(error["traceback"]) == 1  # one line, no traceback
    assert error["traceback"][0].startswith("NotFoundError: ")

    (usage,) = outputs[3]
    assert usage["output_type"] == "stream" and usage["name"] == "stderr"
    assert usage["text"].strip().startswith("UsageError: argument --limit")

    progress = [o for o in outputs[4] if o["output_type"] == "display_data"]
    assert len(progress) == 1  # updated in place, not appended
    assert "application source done" in progress[0]["data"]["text/plain"]
    result = [o for o in outputs[4] if o["output_type"] == "execute_result"]
    assert client.app_sources.get(ast.literal_eval(result[0]["data"]["text/plain"])).id

    card = outputs[6][0]["data"]["text/html"]
    assert template.id in card and "<script" not in card

    path = tmp_path / "session.ipynb"
    nbformat.write(nb, path)
    assert sb.token not in path.read_text()
