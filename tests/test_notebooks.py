"""Every example notebook runs top to bottom against the sandbox, and does what it says."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

import dr_notebook as drn

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = ["quickstart", "gallery", "template_analysis", "publishing", "applications"]


def run_notebook(name: str, sandbox: Any, tmp_path: Path, monkeypatch: Any) -> Any:
    """Run ``notebooks/<name>.ipynb`` in a fresh kernel that sees the sandbox; raise on error."""
    monkeypatch.setenv("DATAROBOT_ENDPOINT", sandbox.endpoint)
    monkeypatch.setenv("DATAROBOT_API_TOKEN", sandbox.token)
    monkeypatch.delenv("DATAROBOT_CONFIG_FILE", raising=False)
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    return nb


def tagged(nb: Any, tag: str) -> Any:
    """The one cell carrying ``tag`` in its metadata."""
    cells = [c for c in nb.cells if tag in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"expected one cell tagged {tag!r}"
    return cells[0]


def text_of(cell: Any) -> str:
    """The cell's stream text and plain-text results, joined."""
    parts = []
    for out in cell.outputs:
        if out.output_type == "stream":
            parts.append(out.text)
        elif "data" in out:
            parts.append(out.data.get("text/plain", ""))
    return "\n".join(parts)


def outputs_of_type(nb: Any, mime: str) -> list[Any]:
    return [
        o for c in nb.cells if c.cell_type == "code" for o in c.outputs if mime in o.get("data", {})
    ]


def client_for(sandbox: Any) -> drn.Client:
    return drn.Client(endpoint=sandbox.endpoint, token=sandbox.token, progress=False)


@pytest.mark.parametrize("name", NAMES)
def test_committed_notebooks_have_no_outputs(name: str) -> None:
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, "a notebook without code"
    assert all(c.outputs == [] and c.execution_count is None for c in code)
    assert sum(c.cell_type == "markdown" for c in nb.cells) >= 3, "explain the steps"


def test_quickstart(sandbox: Any, tmp_path: Path, monkeypatch: Any) -> None:
    nb = run_notebook("quickstart", sandbox, tmp_path, monkeypatch)
    source_id = re.search(r"\b[0-9a-f]{24}\b", text_of(tagged(nb, "source-id")))
    assert source_id, "the quickstart printed no source id"
    # The source really exists on the server, with the template's files.
    source = client_for(sandbox).app_sources.get(source_id[0])
    assert source.files
    # The listed files are paths in the source (a nested file shows its folder).
    paths = [item.file_path for item in source.files]
    assert any("/" in path for path in paths), paths
    shown = text_of(tagged(nb, "source-id"))
    assert ast.literal_eval(shown[shown.index("[") :].strip()) == paths, shown
    tables = [o.data["text/html"] for o in outputs_of_type(nb, "text/html")]
    assert any("<table" in t for t in tables), "no DataFrame was shown"
    token_free = nbformat.writes(nb)
    assert sandbox.token not in token_free


def test_gallery(sandbox: Any, tmp_path: Path, monkeypatch: Any) -> None:
    before = {s.id for s in client_for(sandbox).app_sources.list()}
    nb = run_notebook("gallery", sandbox, tmp_path, monkeypatch)
    assert text_of(tagged(nb, "last-source")).strip() == "True"
    widgets = outputs_of_type(nb, "application/vnd.jupyter.widget-view+json")
    assert widgets, "the gallery was not displayed"
    created = {s.id for s in client_for(sandbox).app_sources.list()} - before
    assert len(created) == 1, created
    total = len(client_for(sandbox).templates.list())
    assert text_of(tagged(nb, "reset")).strip() == str(total)


def test_template_analysis(sandbox: Any, tmp_path: Path, monkeypatch: Any) -> None:
    nb = run_notebook("template_analysis", sandbox, tmp_path, monkeypatch)
    total = len(client_for(sandbox).templates.list())
    assert text_of(tagged(nb, "shape")).strip().startswith(f"({total},")
    assert f"wrote {total} rows" in text_of(tagged(nb, "export"))
    assert len(outputs_of_type(nb, "image/png")) == 2, "the two plots"
    assert not list(tmp_path.glob("*.csv")), "the export belongs in a temporary folder"


def test_publishing(sandbox: Any, tmp_path: Path, monkeypatch: Any) -> None:
    client = client_for(sandbox)
    before = {t.id for t in client.templates.list()}
    nb = run_notebook("publishing", sandbox, tmp_path, monkeypatch)
    assert "'hello'" in text_of(tagged(nb, "updated"))
    assert "st.title" in text_of(tagged(nb, "app-file"))
    assert "deleted: 404" in text_of(tagged(nb, "deleted"))
    assert {t.id for t in client.templates.list()} == before


@pytest.mark.slow
def test_applications(sandbox_factory: Any, tmp_path: Path, monkeypatch: Any) -> None:
    from dr_notebook.sandbox.testing import processes_in

    sandbox = sandbox_factory(run_apps=True)
    nb = run_notebook("applications", sandbox, tmp_path, monkeypatch)
    params = text_of(tagged(nb, "params"))
    assert "RuntimeParameter('APP_TITLE'" in params and "RuntimeParameter('DEPLOYMENT_ID'" in params
    launch = text_of(tagged(nb, "launch"))
    assert "Application(" in launch and "status='running'" in launch
    assert "Flask App Base: running at http" in launch  # the one line, at its last update
    assert text_of(tagged(nb, "page")).strip() == "200 True"
    assert "log lines (build completed)" in text_of(tagged(nb, "logs"))
    assert "templates/index.html" in text_of(tagged(nb, "downloaded"))
    assert "1 changed (templates/index.html)" in text_of(tagged(nb, "synced"))
    assert text_of(tagged(nb, "rolled")).strip().splitlines()[-1] == "True True"
    follow = text_of(tagged(nb, "follow"))
    assert "Following the logs of My Flask app" in follow and "no more lines to follow" in follow
    assert "My Flask app" in text_of(tagged(nb, "apps"))
    assert "Deleted the application 'My Flask app'" in text_of(tagged(nb, "deleted"))
    assert text_of(tagged(nb, "gone")).strip() == "0"
    assert processes_in(sandbox.apps_dir) == []
    assert sandbox.token not in nbformat.writes(nb)


def test_applications_run_again_stops_at_the_name_in_use(
    sandbox: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    from nbclient.exceptions import CellExecutionError

    client = client_for(sandbox)
    existing = client.launch("Flask App Base", name="My Flask app", wait=False)
    with pytest.raises(CellExecutionError, match="NameInUseError") as failed:
        run_notebook("applications", sandbox, tmp_path, monkeypatch)
    assert "Traceback" not in str(failed.value)  # one line, not a traceback
    assert client.applications.get(existing.id).name == "My Flask app"  # left alone
    client.applications.delete(existing)
