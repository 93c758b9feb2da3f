"""Browser tests: the demo launcher's sandbox + JupyterLab, driven by Playwright in Chromium.

One launcher (so one sandbox and one JupyterLab) serves the whole session, on copies of the
notebooks in a temporary folder. Each test gets a fresh page whose ``alert``/``confirm``/``prompt``
are hooked and whose requests are recorded (see ``Tripwire``). Screenshots go to
``artifacts/browser/``.

Chromium is the system one (Debian package ``chromium``; ``DR_NOTEBOOK_CHROMIUM`` names another).
Without it the tests skip with one line, unless ``DR_NOTEBOOK_REQUIRE_BROWSER=1`` (set by
``.ci/run``) makes that a failure.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import pytest

from dr_notebook.demo import READY_PREFIX

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "browser"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

# Runs in every frame before any page script: record instead of showing a dialog.
TRIPWIRE_SCRIPT = """
(() => {
  const log = [];
  Object.defineProperty(window, '__drnTripwire', {value: log});
  const record = (kind, args) => {
    const entry = kind + ':' + Array.from(args).map(String).join(',');
    log.push(entry);
    try { if (window.top !== window) window.top.__drnTripwire.push(entry); } catch (e) {}
  };
  for (const name of ['alert', 'confirm', 'prompt', 'print']) {
    window[name] = function () {
      record(name, arguments);
      return name === 'confirm' ? false : null;
    };
  }
})();
"""

# Where README markup ends up: rich HTML outputs and ipywidgets HTML widgets.
README_CONTAINERS = (
    ".jp-OutputArea-output.jp-RenderedHTMLCommon, .jp-OutputArea-output .jp-RenderedHTMLCommon,"
    " .jp-OutputArea-output .widget-html-content"
)

# Pokes every element of the rendered READMEs (mouse and focus events, clicks on non-links),
# then lists what could run script: dangerous elements, on* attributes, script URLs. Images
# inlined from a template's files (img src="data:image/...;base64,") are listed as "inlined ..."
# for Tripwire.report to check their bytes.
INSPECT_SCRIPT = """
(selector) => {
  const bad = /^\\s*(javascript|vbscript|data):/i;
  const inlined = /^data:image\\/(png|jpeg|gif|webp);base64,[A-Za-z0-9+\\/=]+$/;
  const dangerous = new Set(['SCRIPT', 'IFRAME', 'FRAME', 'OBJECT', 'EMBED', 'SVG', 'MATH',
                             'FORM', 'BASE', 'META', 'LINK', 'svg', 'math']);
  const found = [];
  for (const root of document.querySelectorAll(selector)) {
    for (const el of root.querySelectorAll('*')) {
      for (const type of ['mouseover', 'mouseenter', 'focus', 'animationstart']) {
        el.dispatchEvent(new Event(type, {bubbles: true}));
      }
      if (el.tagName !== 'A' && el.tagName !== 'BUTTON') { try { el.click(); } catch (e) {} }
      if (dangerous.has(el.tagName)) found.push('element ' + el.tagName.toLowerCase());
      for (const attr of el.attributes) {
        const name = attr.name.toLowerCase();
        if (name.startsWith('on') || name === 'srcdoc') found.push('attribute ' + name);
        if (el.tagName === 'IMG' && name === 'src' && inlined.test(attr.value)) {
          found.push('inlined ' + attr.value);
        } else if (['href', 'src', 'action', 'formaction', 'xlink:href', 'data', 'poster']
              .includes(name) && bad.test(attr.value)) found.push(name + '=' + attr.value);
      }
    }
  }
  return found;
}
"""


IMAGE_MAGIC = {
    "png": b"\x89PNG\r\n\x1a\n",
    "jpeg": b"\xff\xd8\xff",
    "gif": b"GIF8",
    "webp": b"RIFF",
}


def inlined_image_kind(uri: str) -> str:
    """``png`` (...) if the inlined image's bytes are the type its ``data:`` URI claims; else
    ``not <type>: <first bytes>`` (an SVG or HTML file passed off as an image)."""
    header, _, payload = uri.partition(",")
    kind = header.removeprefix("data:image/").removesuffix(";base64")
    data = base64.b64decode(payload)
    if data.startswith(IMAGE_MAGIC.get(kind, b"\0never")) and (
        kind != "webp" or data[8:12] == b"WEBP"
    ):
        return kind
    return f"not {kind}: {data[:40]!r}"


def chromium_path() -> str | None:
    """The system Chromium (or ``DR_NOTEBOOK_CHROMIUM``, a path to a Chromium), if installed."""
    chosen = os.environ.get("DR_NOTEBOOK_CHROMIUM")
    if chosen is not None:
        return chosen if Path(chosen).is_file() else None
    for candidate in ("chromium", "chromium-browser"):
        found = shutil.which(candidate)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


@dataclass
class Lab:
    """The running demo launcher: JupyterLab's URL, the folder it serves, its sandbox's database
    (its applications run in ``apps_dir_for(sandbox_db)``)."""

    base_url: str
    start_url: str
    notebook_dir: Path
    process: subprocess.Popen[str]
    bare_kernel_home: Path
    sandbox_db: Path

    bare_kernel: str = "python3-no-datarobot"

    def write_notebook(self, name: str, cells: list[tuple[str, str]], bare: bool = False) -> str:
        """Write a notebook of ``(kind, source)`` cells into the served folder; return its name.

        ``bare``: run it in the kernel that has no DataRobot settings at all."""
        kernel = self.bare_kernel if bare else "python3"
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": kernel, "display_name": kernel}
        for kind, source in cells:
            maker = nbformat.v4.new_markdown_cell if kind == "md" else nbformat.v4.new_code_cell
            nb.cells.append(maker(source))
        nbformat.write(nb, self.notebook_dir / name)
        return name


def _pump(stream: Any, log_path: Path, lines: queue.Queue[str]) -> None:
    with open(log_path, "w", encoding="utf-8") as log:
        for line in stream:
            log.write(line)
            log.flush()
            lines.put(line)


NO_CHROMIUM = "Chromium not found (apt-get install chromium)"
_NOTICE = pytest.StashKey[str]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without Chromium (and not required), leave the browser tests out with one notice."""
    if chromium_path() is not None or os.environ.get("DR_NOTEBOOK_REQUIRE_BROWSER") == "1":
        return
    here = Path(__file__).parent
    left_out = [item for item in items if here in item.path.parents]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if item not in left_out]
        config.stash[_NOTICE] = f"{len(left_out)} browser tests not run: {NO_CHROMIUM}"


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """The one-line notice about browser tests left out."""
    notice = config.stash.get(_NOTICE, None)
    if notice:
        terminalreporter.write_line(notice, yellow=True)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """A headless system Chromium (missing: a failure, as the tests were not deselected)."""
    executable = chromium_path()
    if executable is None:  # only when required: otherwise these tests were deselected
        pytest.fail(f"{NO_CHROMIUM}, and DR_NOTEBOOK_REQUIRE_BROWSER=1", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _bare_kernel_spec(work: Path) -> tuple[Path, Path]:
    """A kernel spec (in a JUPYTER_PATH folder) whose kernels see no DataRobot endpoint, token or
    config file: the variables empty (read as unset), HOME an empty folder of their own."""
    jupyter_path = work / "jupyter-path"
    home = work / "bare-home"
    home.mkdir()
    spec = jupyter_path / "kernels" / Lab.bare_kernel
    spec.mkdir(parents=True)
    blank = ("DATAROBOT_ENDPOINT", "DATAROBOT_API_TOKEN", "DATAROBOT_CONFIG_FILE")
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python 3 (no DataRobot settings)",
                "language": "python",
                "env": {"HOME": str(home), "IPYTHONDIR": str(home / ".ipython")}
                | dict.fromkeys(blank, ""),
            }
        )
    )
    return jupyter_path, home


@pytest.fixture(scope="session")
def lab(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """``python -m dr_notebook.demo --headless`` on copies of the notebooks; Ctrl-C at the end."""
    work = tmp_path_factory.mktemp("demo")
    notebook_dir = work / "notebooks"
    sandbox_db = work / "sandbox" / "demo.db"
    shutil.copytree(ROOT / "notebooks", notebook_dir)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "dr_notebook.demo",
        "--headless",
        "--db",
        str(sandbox_db),
        "--notebook-dir",
        str(notebook_dir),
        "--settings-dir",
        str(work / "lab-settings"),
    ]
    jupyter_path, bare_home = _bare_kernel_spec(work)
    env = dict(os.environ)
    paths = [str(jupyter_path), env.get("JUPYTER_PATH")]
    env["JUPYTER_PATH"] = os.pathsep.join(p for p in paths if p)
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    lines: queue.Queue[str] = queue.Queue()
    # One JupyterLab per xdist worker that runs browser tests: a log of its own each.
    log = ARTIFACTS / f"demo-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}.log"
    threading.Thread(target=_pump, args=(process.stdout, log, lines), daemon=True).start()
    url = None
    deadline = time.monotonic() + 180
    while url is None and time.monotonic() < deadline and process.poll() is None:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            continue
        if line.startswith(READY_PREFIX):
            url = line[len(READY_PREFIX) :].strip()
    if url is None:
        process.terminate()  # the launcher stops whatever it started
        process.wait(timeout=60)
        pytest.fail(f"the demo launcher did not get ready; see {log}")
    base_url = url.split("/lab/", 1)[0]
    yield Lab(
        base_url=base_url,
        start_url=url,
        notebook_dir=notebook_dir,
        process=process,
        bare_kernel_home=bare_home,
        sandbox_db=sandbox_db,
    )
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()


@dataclass
class Tripwire:
    """What a page did that a sanitized README must never make it do."""

    dialogs: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def hooked_calls(self, page: Any) -> list[str]:
        """Calls to the hooked ``alert``/``confirm``/``prompt``/``print`` in any frame."""
        calls: list[str] = []
        for frame in page.frames:
            try:
                calls += frame.evaluate("() => Array.from(window.__drnTripwire || [])")
            except Exception:  # a frame that went away or forbids scripts
                continue
        return sorted(set(calls))

    def requests_matching(self, marker: str) -> list[str]:
        """Requested URLs containing ``marker`` that were not https."""
        return [u for u in self.requests if marker in u and not u.startswith("https://")]

    def report(self, page: Any, marker: str) -> dict[str, list[str]]:
        """Poke the rendered READMEs, then list all that was caught (empty lists: harmless)."""
        found = page.evaluate(INSPECT_SCRIPT, README_CONTAINERS)
        page.wait_for_timeout(1000)  # handlers fired by the poking, and their requests
        inlined = [inlined_image_kind(item.removeprefix("inlined ")) for item in found
                   if item.startswith("inlined ")]  # fmt: skip
        return {
            "hooked": self.hooked_calls(page),
            "dialogs": list(self.dialogs),
            "requests": self.requests_matching(marker),
            "dom": [item for item in found if not item.startswith("inlined ")]
            + [f"inlined non-image: {kind}" for kind in inlined if kind.startswith("not ")],
            "inlined": sorted(kind for kind in inlined if not kind.startswith("not ")),
        }


class LabPage:
    """A JupyterLab page in Chromium, with helpers to open and run notebooks."""

    def __init__(self, page: Any, lab: Lab, tripwire: Tripwire) -> None:
        self.page = page
        self.lab = lab
        self.tripwire = tripwire

    def open(self, notebook: str, url: str | None = None) -> None:
        """Open ``notebook`` (at ``url`` if given) and wait until its kernel is ready."""
        # ?reset: start from an empty workspace, not with the tabs an earlier test left open.
        self.page.goto((url or f"{self.lab.base_url}/lab/tree/{notebook}") + "?reset")
        self.page.wait_for_function(
            """(name) => {
                const app = window.jupyterapp;
                const w = app && app.shell.currentWidget;
                return !!(w && w.context && w.context.path.endsWith(name) && w.sessionContext
                          && w.sessionContext.session && w.sessionContext.session.kernel
                          && w.sessionContext.session.kernel.status === 'idle');
            }""",
            arg=notebook,
            timeout=90_000,
        )

    def run_all(self, timeout: float = 180, wait: bool = True) -> None:
        """Run every cell and (unless ``wait`` is False) wait until all have run."""
        # Not awaited: the command's promise waits for every cell, a prompt included.
        self.page.evaluate(
            "() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }"
        )
        if wait:
            self.wait_for_cells(timeout)

    def wait_for_cells(self, timeout: float = 180) -> None:
        """Wait until each code cell has run (or one failed) and the kernel is idle."""
        self.page.wait_for_function(
            """() => {
                const w = window.jupyterapp.shell.currentWidget;
                const cells = w.content.widgets.filter(c => c.model.type === 'code');
                const kernel = w.sessionContext.session.kernel;
                const failed = cells.some(
                    c => c.model.outputs.toJSON().some(o => o.output_type === 'error'));
                return kernel.status === 'idle'
                       && (failed || cells.every(c => c.model.executionCount !== null));
            }""",
            timeout=timeout * 1000,
            polling=250,
        )

    def outputs(self) -> list[dict[str, Any]]:
        """The current notebook's outputs, as nbformat JSON."""
        return self.page.evaluate(
            """() => window.jupyterapp.shell.currentWidget.content.widgets
                  .filter(c => c.model.type === 'code')
                  .flatMap(c => c.model.outputs.toJSON())"""
        )

    def errors(self) -> list[str]:
        """One line per error output (``ename: evalue``) in the current notebook."""
        return [
            f"{o.get('ename')}: {o.get('evalue')}"
            for o in self.outputs()
            if o.get("output_type") == "error"
        ]

    def hide_sidebar(self) -> None:
        """Collapse the file browser so outputs get the page's width."""
        self.page.evaluate("() => window.jupyterapp.shell.collapseLeft()")

    def screenshot(self, name: str, element: Any = None) -> Path:
        """Save a PNG of the page (or of one element) under ``artifacts/browser/``."""
        path = ARTIFACTS / f"{name}.png"
        (element or self.page).screenshot(path=str(path))
        return path

    def settle(self, seconds: float = 2.0) -> None:
        """Give images, iframes and handlers time to load or fire."""
        self.page.wait_for_timeout(seconds * 1000)


@pytest.fixture
def lab_page(browser: Any, lab: Lab, request: pytest.FixtureRequest) -> Iterator[LabPage]:
    """A fresh page on the session's JupyterLab, tripwires armed; kernels shut down after."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.add_init_script(TRIPWIRE_SCRIPT)
    page = context.new_page()
    tripwire = Tripwire()

    def on_dialog(dialog: Any) -> None:
        tripwire.dialogs.append(f"{dialog.type}:{dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("request", lambda req: tripwire.requests.append(req.url))
    yield LabPage(page, lab, tripwire)
    from playwright.sync_api import Error as PlaywrightError

    try:
        # For whoever reads a failure: not worth failing a test over on a loaded machine.
        with contextlib.suppress(PlaywrightError):
            page.screenshot(path=str(ARTIFACTS / f"last-{request.node.name}.png"))
        page.evaluate("() => window.jupyterapp.serviceManager.sessions.shutdownAll()")
    finally:
        context.close()
