"""``%dr_connect`` where people type it: JupyterLab's hidden input box, a kernel that has no
DataRobot settings at all, and the token nowhere afterwards (saved notebook, the kernel's
IPython history, the page), with a planted marker showing the search would find it."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser


def places_with(secret: str, lab_page: Any, notebook: Path) -> list[str]:
    """Where ``secret`` can be found: the saved notebook, any file the kernel wrote under its
    home (IPython's history.sqlite among them), the page's HTML, text and input values."""
    found = []
    if secret in notebook.read_text(encoding="utf-8"):
        found.append("saved notebook")
    home = lab_page.lab.bare_kernel_home
    for path in sorted(p for p in home.rglob("*") if p.is_file()):
        if secret.encode() in path.read_bytes():
            found.append(f"kernel file {path.relative_to(home)}")
    page = lab_page.page
    inputs = page.evaluate(
        "() => Array.from(document.querySelectorAll('input, textarea')).map(i => i.value)"
    )
    if secret in page.content() or secret in page.inner_text("body") or secret in inputs:
        found.append("page")
    return found


def wait_until(check: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.25)


def test_connect_prompts_hidden_and_leaves_the_token_nowhere(lab_page: Any, sandbox) -> None:
    marker = f"drnplanted{uuid.uuid4().hex[:12]}"
    name = lab_page.lab.write_notebook(
        "connect.ipynb",
        [
            (
                "code",
                "import os, dr_notebook as drn\n"
                "try:\n    drn.Client()\n"
                "except drn.errors.ConfigurationError as err:\n"
                "    print('no settings:', type(err).__name__)",
            ),
            ("code", "%load_ext dr_notebook"),
            ("code", f"%dr_connect {sandbox.endpoint}"),
            ("code", "frame = %dr_templates\nprint('templates:', len(frame))"),
            ("code", f"# planted {marker}\nprint({marker!r})"),
        ],
        bare=True,
    )
    notebook = lab_page.lab.notebook_dir / name
    lab_page.open(name)
    lab_page.run_all(wait=False)

    box = lab_page.page.locator("input.jp-Stdin-input")
    box.wait_for(timeout=60_000)
    assert box.get_attribute("type") == "password"
    lab_page.screenshot("connect-prompt")
    box.press_sequentially(sandbox.token, delay=10)
    box.press("Enter")
    lab_page.wait_for_cells()
    assert lab_page.errors() == []
    texts = "\n".join(
        "".join(o.get("text", "")) for o in lab_page.outputs() if o.get("output_type") == "stream"
    )
    count = sandbox.api("GET", "customTemplates/?limit=1").json()["totalCount"]
    assert "no settings: ConfigurationError" in texts, texts
    assert f"Connected to {sandbox.endpoint} ({count} templates)" in texts, texts
    assert f"templates: {count}" in texts, texts
    lab_page.screenshot("connect-done")

    lab_page.page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    wait_until(lambda: marker in notebook.read_text(encoding="utf-8"))
    assert json.loads(notebook.read_text(encoding="utf-8"))["metadata"]["kernelspec"]["name"] == (
        lab_page.lab.bare_kernel
    )
    # The kernel writes its history as it goes, and all of it when it shuts down.
    lab_page.page.evaluate("() => window.jupyterapp.serviceManager.sessions.shutdownAll()")
    history = lab_page.lab.bare_kernel_home / ".ipython" / "profile_default" / "history.sqlite"
    wait_until(lambda: history.is_file() and marker.encode() in history.read_bytes())

    # Positive control: the same search finds the planted marker in every place it looks.
    planted = places_with(marker, lab_page, notebook)
    assert "saved notebook" in planted and "page" in planted, planted
    assert "kernel file .ipython/profile_default/history.sqlite" in planted, planted
    assert places_with(sandbox.token, lab_page, notebook) == []
