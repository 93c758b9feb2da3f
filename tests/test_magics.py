"""The %dr_* magics in a real IPython shell, against the sandbox over HTTP."""

from __future__ import annotations

import _thread
import base64
import getpass
import html
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from broken_app import (
    CRASH_FIRST_ERROR,
    CRASH_PRINTS,
    UNKNOWN,
    publish_broken_app,
    publish_crashing_app,
)
from IPython.core.error import UsageError
from IPython.core.formatters import DisplayFormatter
from IPython.core.interactiveshell import InteractiveShell
from IPython.testing import globalipapp
from IPython.utils.capture import capture_output

import dr_notebook as drn
from dr_notebook import errors
from dr_notebook.app_display import AppView
from dr_notebook.frames import APPLICATION_COLUMNS
from dr_notebook.magics import DataRobotMagics
from dr_notebook.models import Application, ApplicationSource, AsyncStatus, Template
from dr_notebook.sandbox.testing import processes_in, start_sandbox

README = """# Churn predictor

| metric | value |
|:-------|------:|
| AUC    | 0.91  |

<script>alert('readme')</script><img src=x onerror=alert(1)>
"""

_RUN = uuid.uuid4().hex[:8]
TAG = f"magics-{_RUN}"


@dataclass
class Cell:
    """What one cell produced."""

    result: Any
    error: BaseException | None
    stdout: str
    stderr: str
    outputs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def text(self) -> str:
        shown = [str(out.get("data", {})) for out in self.outputs]
        return "\n".join([self.stdout, self.stderr, *shown])


@pytest.fixture(scope="module")
def admin(sandbox: Any) -> drn.Client:
    return drn.Client(sandbox.endpoint, sandbox.token)


@pytest.fixture(scope="module")
def catalogue(admin: drn.Client, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """Templates this module owns (unique names and tag), deleted afterwards."""
    env = {"environmentId": "65f000000000000000000001", "environmentVersionId": "65f0000000000002"}
    app_file = tmp_path_factory.mktemp("tpl") / "app.py"
    app_file.write_text("print('hello')\n")

    def make(name: str, template_type: str = "customApplicationTemplate", **kw: Any) -> Template:
        return admin.templates.create(
            name=name,
            description=f"{name} for the magics tests",
            template_type=template_type,
            template_sub_type=kw.pop("template_sub_type", "streamlit"),
            default_environment=env,
            file=app_file,
            tags=[TAG, *kw.pop("tags", [])],
            **kw,
        )

    made = {
        "churn": make(
            f"Churn Predictor {_RUN}",
            readme=README,
            tags=["churn"],
            publisher=f"Pub-{_RUN}",
            category="Churn",
            default_resource_bundle_id="cpu.small",
        ),
        "metric": make(
            f"Drift Metric {_RUN}",
            "customMetricTemplate",
            template_sub_type="python",
            category="Monitoring",
        ),
        "twin1": make(f"Twin App {_RUN}"),
        "twin2": make(f"twin app {_RUN}"),
    }
    yield made
    for template in made.values():
        admin.templates.delete(template.id)


@pytest.fixture
def shell(
    sandbox: Any, catalogue: dict, monkeypatch: pytest.MonkeyPatch
) -> Iterator[InteractiveShell]:
    """A real IPython shell with the extension loaded, pointed at the sandbox through env."""
    monkeypatch.setenv("DATAROBOT_ENDPOINT", sandbox.endpoint)
    monkeypatch.setenv("DATAROBOT_API_TOKEN", sandbox.token)
    monkeypatch.delenv("DATAROBOT_CONFIG_FILE", raising=False)
    # The notebook's face by default (progress lines updated in place), as in a kernel.
    monkeypatch.setattr("dr_notebook.magics.applications._in_kernel", lambda: True)
    globalipapp.start_ipython()  # once per process; later calls do nothing
    ip = globalipapp.get_ipython()
    assert ip is not None
    ip.run_line_magic("load_ext", "dr_notebook")
    yield ip
    ip.run_line_magic("unload_ext", "dr_notebook")
    ip.config.DataRobotMagics.clear()  # %config writes here too
    for name in ("tpl", "frame", "src", "status"):
        ip.user_ns.pop(name, None)


def run(ip: InteractiveShell, source: str) -> Cell:
    with capture_output() as captured:
        result = ip.run_cell(source, store_history=True)
    return Cell(
        result.result,
        result.error_in_exec or result.error_before_exec,
        captured.stdout,
        captured.stderr,
        [dict(data=o.data, transient=o.transient, update=o.update) for o in captured.outputs],
    )


def formatter(ip: InteractiveShell) -> DisplayFormatter:
    """The shell's display formatter (its trait is declared as any object)."""
    shown = ip.display_formatter
    assert isinstance(shown, DisplayFormatter)
    return shown


def html_of(entity: Any) -> str:
    """An entity's HTML card (``_repr_html_`` may return None for entities without one)."""
    card = entity._repr_html_()
    assert card is not None
    return card


def magics(ip: InteractiveShell) -> DataRobotMagics:
    return ip.magics_manager.registry["DataRobotMagics"]


def assert_one_line(cell: Cell, kind: type[BaseException], *parts: str) -> None:
    assert isinstance(cell.error, kind), cell.error
    lines = [line for line in (cell.stdout + cell.stderr).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{kind.__name__}: ")
    for part in parts:
        assert part in lines[0], (part, lines[0])
    assert "Traceback" not in cell.text and "---->" not in cell.text


# %dr_templates


def test_templates_returns_the_frame_without_readme(shell: InteractiveShell, admin) -> None:
    cell = run(shell, f"%dr_templates --tag {TAG} -o frame")
    assert cell.error is None
    assert isinstance(cell.result, pd.DataFrame)
    assert "readme" not in cell.result.columns
    assert "name" in cell.result.columns
    expected = admin.templates.frame(tag=TAG)
    assert sorted(cell.result["id"]) == sorted(expected["id"]) and len(expected) == 4
    stored = shell.user_ns["frame"]
    assert "readme" in stored.columns
    assert list(stored["id"]) == list(cell.result["id"])
    assert any("Churn predictor" in (text or "") for text in stored["readme"])


def test_templates_readme_option_keeps_the_column(shell: InteractiveShell, catalogue) -> None:
    cell = run(shell, f"%dr_templates --tag {TAG} --readme")
    assert "readme" in cell.result.columns


@pytest.mark.parametrize(
    ("option", "filters"),
    [
        ("--search 'Churn Predictor {run}'", {"search": "Churn Predictor {run}"}),
        ("--tag churn", {"tag": "churn"}),
        ("--type customMetricTemplate", {"template_type": "customMetricTemplate"}),
        ("--subtype python", {"template_sub_type": "python"}),
        ("--publisher Pub-{run}", {"publisher": "Pub-{run}"}),
        ("--category Monitoring", {"category": "Monitoring"}),
        ("--order-by=-name --limit 3", {"order_by": "-name", "limit": 3}),
        ('--search "Drift Metric {run}"', {"search": "Drift Metric {run}"}),
        ("--limit 2", {"limit": 2}),
    ],
)
def test_templates_options_reach_the_client(
    shell: InteractiveShell, admin, catalogue, option: str, filters: dict[str, Any]
) -> None:
    filters = {k: v.format(run=_RUN) if isinstance(v, str) else v for k, v in filters.items()}
    cell = run(shell, "%dr_templates " + option.format(run=_RUN))
    assert cell.error is None, cell.text
    expected = admin.templates.frame(**filters)
    assert list(cell.result["id"]) == list(expected["id"])
    assert 0 < len(expected) < len(admin.templates.frame())


def test_templates_filters_select_our_templates(shell: InteractiveShell, catalogue) -> None:
    cell = run(shell, f"%dr_templates --publisher Pub-{_RUN}")
    assert list(cell.result["id"]) == [catalogue["churn"].id]
    cell = run(shell, f"%dr_templates --tag {TAG} --type customMetricTemplate")
    assert list(cell.result["id"]) == [catalogue["metric"].id]


def test_templates_type_takes_short_names(shell: InteractiveShell, catalogue) -> None:
    cell = run(shell, f"%dr_templates --tag {TAG} --type metric")
    assert cell.error is None, cell.text
    assert list(cell.result["id"]) == [catalogue["metric"].id]
    cell = run(shell, f"%dr_templates --tag {TAG} --type application --subtype streamlit")
    assert sorted(cell.result["id"]) == sorted(catalogue[k].id for k in ("churn", "twin1", "twin2"))


def test_templates_help_lists_the_known_types(shell: InteractiveShell) -> None:
    cell = run(shell, "%dr_templates --help")
    text = " ".join(cell.stdout.split())
    for known in ("customApplicationTemplate (application)", "customMetricTemplate (metric)",
                  "customJobTemplate (job)", "--order-by=-name", "created_at"):  # fmt: skip
        assert known in text, (known, cell.stdout)


@pytest.mark.parametrize(
    ("option", "named", "existing"),
    [
        ("--type aplication", "'aplication'", "customJobTemplate (job)"),
        ("--type application --subtype flsk", "'flsk'", "streamlit"),
    ],
)
def test_empty_result_for_a_value_no_template_has_says_so_under_the_frame(
    shell: InteractiveShell, catalogue, option: str, named: str, existing: str
) -> None:
    cell = run(shell, f"%dr_templates {option}")
    assert cell.error is None, cell.text
    assert isinstance(cell.result, pd.DataFrame) and len(cell.result) == 0
    hint = [line for line in cell.stdout.splitlines() if named in line]
    assert len(hint) == 1, cell.text
    assert hint[0].startswith("No ") and existing in hint[0]
    assert "Warning" not in cell.text and "Traceback" not in cell.text
    # Under the frame: printed after the cell's result, and once.
    assert cell.stdout.index("Empty DataFrame") < cell.stdout.index(hint[0])
    assert named not in run(shell, "1 + 1").text


def test_empty_result_hint_outside_a_cell_is_printed_at_once(shell: InteractiveShell) -> None:
    with capture_output() as captured:
        frame = shell.run_line_magic("dr_templates", "--type aplication")
    assert frame is not None and len(frame) == 0 and "'aplication'" in captured.stdout
    assert "'aplication'" not in run(shell, "1 + 1").text  # nothing left for the next cell


def test_empty_result_with_existing_values_prints_nothing_more(shell: InteractiveShell) -> None:
    cell = run(shell, "%dr_templates --type metric --search 'no such words anywhere'")
    assert cell.error is None and len(cell.result) == 0
    assert "No " not in cell.stdout and cell.stderr == ""


@pytest.mark.parametrize(
    ("option", "api"),
    [
        ("--order-by created_at", "createdAt"),
        ("--order-by=-created_at", "-createdAt"),
        ("--order-by '-template_type'", "-templateType"),
        ("--order-by=-name", "-name"),
    ],
)
def test_templates_order_by_snake_case(
    shell: InteractiveShell, admin, catalogue, option: str, api: str
) -> None:
    cell = run(shell, f"%dr_templates --tag {TAG} {option}")
    assert cell.error is None, cell.text
    assert list(cell.result["id"]) == list(admin.templates.frame(tag=TAG, order_by=api)["id"])


@pytest.mark.parametrize("value", ["-name", "-created_at"])
def test_order_by_with_a_space_before_a_dash_says_how_to_write_it(
    shell: InteractiveShell, value: str
) -> None:
    cell = run(shell, f"%dr_templates --order-by {value} --limit 2")
    assert isinstance(cell.error, UsageError), cell.text
    line = cell.stderr.strip()
    assert len(line.splitlines()) == 1 and "Traceback" not in cell.text
    assert f"--order-by={value}" in line, line


# %dr_template


def test_template_by_id(shell: InteractiveShell, catalogue) -> None:
    churn = catalogue["churn"]
    cell = run(shell, f"%dr_template {churn.id} -o tpl")
    assert cell.error is None
    assert isinstance(cell.result, Template) and cell.result.id == churn.id
    assert shell.user_ns["tpl"].id == churn.id
    card = html_of(cell.result)
    assert "<table>" in card and "Churn predictor</h1>" in card
    assert "<script" not in card and "onerror" not in card


def test_template_in_a_terminal_reads_as_text(shell: InteractiveShell, catalogue) -> None:
    assert formatter(shell).active_types == ["text/plain"]  # as in terminal IPython
    churn = catalogue["churn"]
    cell = run(shell, f"%dr_template {churn.id}")
    assert cell.error is None, cell.text
    shown = cell.stdout.split("Out[", 1)[1]
    for part in (f"Churn Predictor {_RUN}", "customApplicationTemplate / streamlit", "enabled",
                 "churn", TAG, churn.id, "# Churn predictor", "| metric | value |"):  # fmt: skip
        assert part in shown, (part, shown)
    assert "Template(id=" not in shown and "<" not in shown and "alert" not in shown


@pytest.mark.parametrize(
    "spelling", ["Churn Predictor {run}", "churn predictor {run}", "'CHURN PREDICTOR {run}'"]
)
def test_template_by_name(shell: InteractiveShell, catalogue, spelling: str) -> None:
    cell = run(shell, "%dr_template " + spelling.format(run=_RUN))
    assert cell.error is None, cell.text
    assert cell.result.id == catalogue["churn"].id


SCREENSHOT = (
    Path(drn.__file__).parent / "sandbox/catalogue/streamlit-app-base/files/docs/screenshot.png"
)
SVG_AS_PNG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>'


def test_template_card_shows_the_templates_own_images(
    shell: InteractiveShell, admin: drn.Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A terminal shell formats text only; Jupyter's formats HTML too.
    monkeypatch.setattr(formatter(shell).formatters["text/html"], "enabled", True)
    monkeypatch.setattr(formatter(shell), "active_types", ["text/plain", "text/html"])
    folder = tmp_path / "pictures"
    (folder / "docs").mkdir(parents=True)
    png = SCREENSHOT.read_bytes()
    (folder / "docs" / "shot.png").write_bytes(png)
    (folder / "docs" / "evil.png").write_bytes(SVG_AS_PNG)
    (folder / "app.py").write_text("print('hi')\n")
    (folder / "start-app.sh").write_text("#!/usr/bin/env bash\nexec python app.py\n")
    (folder / "README.md").write_text(
        "# Pictures\n\n![shot](docs/shot.png) ![evil](docs/evil.png)"
        " ![web](https://example.com/x.png) ![missing](docs/none.png)\n"
    )
    template = admin.templates.create(
        name=f"Pictures {_RUN}", description="README images", file=folder,
        template_type="customApplicationTemplate", template_sub_type="streamlit",
        default_environment=("65f000000000000000000001", "65f0000000000002"), tags=[TAG],
    )  # fmt: skip
    try:
        cell = run(shell, f"%dr_template {template.id} -o tpl")
        assert cell.error is None, cell.text
        card = formatter(shell).format(cell.result)[0]["text/html"]
        assert f"data:image/png;base64,{base64.b64encode(png).decode()}" in card
        assert card.count("data:") == 1  # not the SVG named .png
        assert 'src="https://example.com/x.png"' in card
        again = formatter(shell).format(shell.user_ns["tpl"])[0]["text/html"]
        assert again == card
        # A Template displayed directly (not through %dr_template) shows its images too.
        plain = admin.templates.get(template.id)
        shown = formatter(shell).format(plain)[0]["text/html"]
        assert f"data:image/png;base64,{base64.b64encode(png).decode()}" in shown
        assert "data:" not in html_of(plain)  # without the extension: no client to read them
        shell.run_line_magic("unload_ext", "dr_notebook")
        unloaded = formatter(shell).format(cell.result)[0]["text/html"]
        assert unloaded == html_of(cell.result) and "data:" not in unloaded
        shell.run_line_magic("load_ext", "dr_notebook")
    finally:
        admin.templates.delete(template.id)


def test_ambiguous_name_lists_candidates(shell: InteractiveShell, catalogue) -> None:
    cell = run(shell, f"%dr_template Twin App {_RUN}")
    assert_one_line(cell, errors.AmbiguousNameError, catalogue["twin1"].id, catalogue["twin2"].id)


def test_unknown_name_and_id_are_one_line(shell: InteractiveShell, catalogue) -> None:
    cell = run(shell, f"%dr_template No Such Template {_RUN}")
    assert_one_line(cell, errors.NotFoundError, f"No Such Template {_RUN}")
    cell = run(shell, "%dr_template 0123456789abcdef01234567")
    assert_one_line(cell, errors.NotFoundError, "0123456789abcdef01234567")


def test_missing_argument_and_bad_option_are_usage_errors(shell: InteractiveShell) -> None:
    for source, words in [
        ("%dr_template", "needs a template id or name"),
        ("%dr_templates --bogus", "unrecognized arguments: --bogus"),
        ("%dr_templates --limit many", "invalid int value"),
        ("%dr_new_app x --timeout -1", "--timeout must be a positive, finite number"),
        ("%dr_templates -o 1bad", "-o needs a Python variable name"),
    ]:
        cell = run(shell, source)
        assert isinstance(cell.error, UsageError), source
        assert cell.stderr.strip().startswith("UsageError: ") and words in cell.stderr, cell.text
        assert len(cell.stderr.strip().splitlines()) == 1 and "Traceback" not in cell.text


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_every_magic_answers_help_without_running(
    shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch, flag: str
) -> None:
    monkeypatch.delenv("DATAROBOT_ENDPOINT")  # running a magic for real would now fail
    monkeypatch.delenv("DATAROBOT_API_TOKEN")
    monkeypatch.setattr(getpass, "getpass", lambda *a, **k: pytest.fail("prompted for a token"))
    magics(shell).drop_client()
    names = {kind: sorted(table) for kind, table in magics(shell).magics.items() if table}
    assert {"dr_templates", "dr_template", "dr_new_app", "dr_gallery", "dr_connect"} <= set(
        names["line"]
    )
    for kind, kind_names in names.items():
        for name in kind_names:
            source = f"%{name} {flag}" if kind == "line" else f"%%{name} {flag}\n"
            cell = run(shell, source)
            assert cell.error is None, (source, cell.text)
            assert cell.stdout.startswith(f"usage: %{name}"), (source, cell.text)
            parser = getattr(magics(shell).magics[kind][name], "parser", None)
            for action in parser._actions if parser else []:
                for option in action.option_strings:
                    assert option in cell.stdout, (source, option)


def test_help_after_double_dash_is_an_argument(shell: InteractiveShell) -> None:
    cell = run(shell, "%dr_template -- --help")
    assert isinstance(cell.error, errors.NotFoundError), cell.text
    assert "usage:" not in cell.text


# errors from the server


def test_bad_token_is_one_line_with_the_fix(
    shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATAROBOT_API_TOKEN", "not-a-valid-token-0000")
    cell = run(shell, "%dr_templates")
    assert_one_line(cell, errors.AuthenticationError, "401", "%dr_connect")
    assert "not-a-valid-token-0000" not in cell.text


def test_viewer_cannot_create_a_source(
    shell: InteractiveShell, sandbox, catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATAROBOT_API_TOKEN", sandbox.tokens["viewer"])
    cell = run(shell, f"%dr_new_app {catalogue['churn'].id}")
    assert_one_line(cell, errors.PermissionDeniedError, "403")


def test_short_errors_off_shows_the_traceback(shell: InteractiveShell) -> None:
    run(shell, "%config DataRobotMagics.short_errors = False")
    cell = run(shell, "%dr_template 0123456789abcdef01234567")
    assert isinstance(cell.error, errors.NotFoundError)
    assert "Traceback" in cell.text or "---->" in cell.text or "File " in cell.text
    assert len(cell.text.splitlines()) > 5


def test_bugs_still_raise_with_traceback(
    shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("a bug in the client")

    monkeypatch.setattr(type(magics(shell).client.templates), "frame", broken)
    cell = run(shell, "%dr_templates")
    assert isinstance(cell.error, RuntimeError)
    assert "a bug in the client" in cell.text and len(cell.text.splitlines()) > 5


# %dr_new_app


def test_new_app_source_only_creates_a_source(shell: InteractiveShell, admin, catalogue) -> None:
    cell = run(shell, f"%dr_new_app Churn Predictor {_RUN} --source-only -o src")
    assert cell.error is None, cell.text
    source = cell.result
    assert isinstance(source, ApplicationSource) and source.id
    assert shell.user_ns["src"] is source
    assert admin.app_sources.get(source.id).id == source.id
    assert source.id in html_of(source)


def test_new_app_in_a_terminal_prints_each_stage_once(
    shell: InteractiveShell,
    sandbox_settings: Callable[..., Any],
    admin,
    catalogue,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Terminal IPython (this test shell, outside a kernel): nothing is updated in place.
    monkeypatch.setattr("dr_notebook.magics.applications._in_kernel", lambda: False)
    sandbox_settings(async_sources=True, async_delay_ms=1200, app_start_delay_ms=2500)
    name = f"Terminal {uuid.uuid4().hex[:6]}"
    cell = run(shell, f'%dr_new_app Flask App Base --name "{name}"')
    assert cell.error is None, cell.text
    assert not [o for o in cell.outputs if o["transient"]]  # no display to update
    lines = [line for line in cell.stdout.splitlines() if line.startswith("Flask App Base: ")]
    assert cell.stdout.splitlines()[-1].startswith("Out[")  # the result on its own line
    stages = [line.split(": ", 1)[1].split(" (", 1)[0] for line in lines]
    assert len(stages) == len(set(stages)) >= 3, lines  # each stage once
    assert stages[0].startswith("creating the application source"), lines
    assert stages[-1].startswith("running at http"), lines
    assert cell.stdout.endswith("\n") and "\r" not in cell.stdout
    admin.applications.delete(cell.result)


def test_new_app_refuses_a_metric_template(shell: InteractiveShell, catalogue) -> None:
    cell = run(shell, f"%dr_new_app {catalogue['metric'].id}")
    assert_one_line(cell, errors.ValidationError, "422")


def test_new_app_async_shows_one_updating_line(
    shell: InteractiveShell, sandbox_settings: Callable[..., Any], catalogue
) -> None:
    sandbox_settings(async_sources=True, async_delay_ms=1800)
    cell = run(shell, f"%dr_new_app {catalogue['churn'].id} --source-only")
    assert cell.error is None, cell.text
    assert isinstance(cell.result, ApplicationSource)
    progress = [o for o in cell.outputs if "text/plain" in o["data"]]
    assert len(progress) >= 3, progress
    display_ids = {o["transient"]["display_id"] for o in progress}
    assert len(display_ids) == 1  # one line, updated in place
    assert not progress[0]["update"] and all(o["update"] for o in progress[1:])
    texts = [o["data"]["text/plain"] for o in progress]
    assert any("RUNNING" in t or "INITIALIZED" in t for t in texts)
    assert all(t.endswith(" s)") for t in texts)
    assert "application source done" in texts[-1]
    assert "Creating application source" not in cell.stderr  # no second (tqdm) line
    assert magics(shell).client.progress is True
    assert all(html.escape(o["data"]["text/plain"]) in o["data"]["text/html"] for o in progress)


def test_new_app_no_wait_returns_the_job(
    shell: InteractiveShell, sandbox_settings: Callable[..., Any], catalogue
) -> None:
    sandbox_settings(async_sources=True, async_delay_ms=1500)
    cell = run(shell, f"%dr_new_app {catalogue['churn'].id} --source-only --no-wait -o status")
    assert cell.error is None, cell.text
    assert isinstance(cell.result, AsyncStatus)
    assert cell.result.status in ("INITIALIZED", "RUNNING")
    assert shell.user_ns["status"] is cell.result


def test_new_app_timeout_is_one_line(
    shell: InteractiveShell, sandbox_settings: Callable[..., Any], catalogue
) -> None:
    sandbox_settings(async_sources=True, async_delay_ms=5000)
    cell = run(shell, f"%dr_new_app {catalogue['churn'].id} --source-only --timeout 0.6")
    assert isinstance(cell.error, errors.AsyncTimeoutError)
    assert "Traceback" not in cell.text


@pytest.mark.parametrize("value", ["0", "-5", "nan", "inf"])
def test_new_app_timeout_that_cannot_work_is_refused(shell: InteractiveShell, value: str) -> None:
    cell = run(shell, f"%dr_new_app Anything --timeout {value}")
    assert isinstance(cell.error, UsageError)
    assert "positive, finite number of seconds" in cell.text


# completion


def complete(ip: InteractiveShell, line: str) -> list[str]:
    """The lines a front end would show after accepting each completion (Jupyter's API)."""
    from IPython.core.completer import provisionalcompleter

    with provisionalcompleter():
        completions = list(ip.Completer.completions(line, len(line)))
    return [line[: c.start] + c.text + line[c.end :] for c in completions]


def test_completion_of_names_and_ids(shell: InteractiveShell, catalogue) -> None:
    churn = catalogue["churn"]
    assert complete(shell, "%dr_template Churn Pre") == [f"%dr_template Churn Predictor {_RUN}"]
    # names match case-insensitively, as %dr_template resolves them
    assert complete(shell, "%dr_template churn pre") == [f"%dr_template churn Predictor {_RUN}"]
    assert complete(shell, f"%dr_new_app {churn.id[:10]}") == [f"%dr_new_app {churn.id}"]
    assert complete(shell, f"%dr_new_app twin app {_RUN[:4]}") == [f"%dr_new_app twin app {_RUN}"]
    assert complete(shell, "%dr_template zzzz-nothing-like-this") == []
    cell = run(shell, complete(shell, "%dr_template churn pre")[0])
    assert cell.result.id == churn.id


def test_completion_of_a_large_catalogue_asks_a_bounded_search(
    shell: InteractiveShell, catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("dr_notebook.magics._base._COMPLETE_ALL", 3)  # the demo is "large"
    m = magics(shell)
    m._names = None
    asked: list[dict[str, Any]] = []
    real = m.client.templates.list
    monkeypatch.setattr(m.client.templates, "list", lambda **kw: asked.append(kw) or real(**kw))
    for _ in range(3):  # three presses
        assert complete(shell, "%dr_template Churn Pre") == [f"%dr_template Churn Predictor {_RUN}"]
    assert all(kw.get("limit") is not None and kw["limit"] <= 50 for kw in asked[1:]), asked
    assert asked[0]["limit"] == 4  # only enough to know the catalogue is large
    assert len(asked) == 2, asked  # one search for the text, then cached


def test_terminal_frames_show_the_columns_a_person_reads(
    shell: InteractiveShell, admin, catalogue
) -> None:
    templates = run(shell, "%dr_templates --type application")
    text = formatter(shell).format(templates.result)[0]["text/plain"]
    lines = text.splitlines()
    assert lines[0].split() == ["name", "type", "sub-type"], lines[0]
    assert max(len(line) for line in lines) <= 80, max(lines, key=len)
    assert "application" in text and "more columns: use -o VAR" in lines[-1]
    assert len(templates.result.columns) > 10  # the frame itself keeps every column
    # A frame that did not come from a magic shows as pandas shows it.
    other = templates.result.head(2)
    assert formatter(shell).format(other)[0]["text/plain"] == repr(other)
    name = f"Terminal frame {uuid.uuid4().hex[:6]}"
    app = admin.launch("Flask App Base", name=name, wait=False)
    apps = run(shell, f"%dr_apps --name '{name}'")
    app_lines = formatter(shell).format(apps.result)[0]["text/plain"].splitlines()
    assert app_lines[0].split() == ["name", "status", "url"], app_lines[0]
    assert name in app_lines[1]
    assert max(len(line) for line in app_lines) <= 80, max(app_lines, key=len)
    assert f"/custom_applications/{app.id}/" in app_lines[1]  # the path, the server below
    assert app_lines[-2] == f"URLs on {admin.endpoint.split('/api/')[0]}"
    admin.applications.delete(app)


def test_completion_stops_after_unload(shell: InteractiveShell, catalogue) -> None:
    shell.run_line_magic("unload_ext", "dr_notebook")
    try:
        assert f"Churn Predictor {_RUN}" not in complete(shell, "%dr_template Churn Pre")
    finally:
        shell.run_line_magic("load_ext", "dr_notebook")


# %config and the client settings


def test_config_options_reach_the_client(
    shell: InteractiveShell, sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATAROBOT_ENDPOINT", "http://127.0.0.1:9/api/v2")
    run(shell, f"%config DataRobotMagics.endpoint = '{sandbox.endpoint}'")
    run(shell, "%config DataRobotMagics.max_workers = 3")
    run(shell, "%config DataRobotMagics.progress = False")
    client = magics(shell).client
    assert client.endpoint == sandbox.endpoint
    assert client.max_workers == 3
    asked: list[Any] = []
    frame = client.templates.frame
    monkeypatch.setattr(
        client.templates, "frame", lambda **kw: asked.append(kw.get("progress")) or frame(**kw)
    )
    cell = run(shell, "%dr_templates --limit 1")
    assert cell.error is None and len(cell.result) == 1
    assert asked == [False]  # the setting is passed with each call, the client left as it is
    assert client.progress is True
    listing = run(shell, "%config DataRobotMagics").stdout
    for name in ("endpoint", "max_workers", "request_timeout", "short_errors", "progress"):
        assert f"DataRobotMagics.{name}" in listing


def test_ipython_config_is_read_at_load(shell: InteractiveShell) -> None:
    shell.run_line_magic("unload_ext", "dr_notebook")
    shell.config.DataRobotMagics.short_errors = False
    try:
        shell.run_line_magic("load_ext", "dr_notebook")
        assert magics(shell).short_errors is False
    finally:
        del shell.config.DataRobotMagics["short_errors"]


# %dr_connect and the token


def test_connect_asks_checks_and_keeps_the_token(
    shell: InteractiveShell, sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    monkeypatch.delenv("DATAROBOT_API_TOKEN")
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.config/datarobot/drconfig.yaml
    token = sandbox.tokens["user"]
    prompts: list[str] = []

    def fake_getpass(prompt: str = "") -> str:
        prompts.append(prompt)
        return token

    before = run(shell, "%dr_templates --limit 1")
    assert isinstance(before.error, errors.ConfigurationError)
    sandbox.reset_stats()
    monkeypatch.setattr(getpass, "getpass", fake_getpass)
    cell = run(shell, f"%dr_connect {sandbox.endpoint}")
    assert cell.error is None, cell.text
    assert prompts == ["DataRobot API token: "]
    assert f"Connected to {sandbox.endpoint}" in cell.stdout
    assert sum(1 for _ in _requests(sandbox.stats())) == 1  # one check request
    after = run(shell, "%dr_templates --limit 1")
    assert after.error is None and len(after.result) == 1
    config = run(shell, "%config DataRobotMagics")
    assert shell.history_manager is not None
    history = "\n".join(shell.history_manager.input_hist_raw)
    namespace = repr({k: v for k, v in shell.user_ns.items() if not k.startswith("_i")})
    for text in (
        cell.text,
        after.text,
        config.text,
        history,
        namespace,
        repr(magics(shell).client),
    ):
        assert token not in text


def test_connect_with_a_bad_token_keeps_the_old_client(
    shell: InteractiveShell, sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = magics(shell).client
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": "wrong-token-123456789")
    cell = run(shell, "%dr_connect")
    assert_one_line(cell, errors.AuthenticationError, "401")
    assert "wrong-token-123456789" not in cell.text
    assert "%dr_connect" not in cell.text  # the user just ran it
    assert magics(shell).client is old


def test_verbose_traceback_of_a_failing_connect_hides_the_token(
    shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = "typed-token-0123456789abcdef"
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": f" {token}\n")
    shell.config.DataRobotMagics.short_errors = False
    magics(shell).short_errors = False
    shell.run_line_magic("xmode", "Verbose")
    try:
        cell = run(shell, "%dr_connect ftp://not-an-http-endpoint")
    finally:
        shell.run_line_magic("xmode", "Context")
        del shell.config.DataRobotMagics["short_errors"]
        magics(shell).short_errors = True
    assert isinstance(cell.error, errors.ConfigurationError)
    assert "token = " in cell.text  # the verbose traceback shows the frame's locals
    assert token not in cell.text


def test_connect_closes_the_client_it_could_not_check(
    shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed: list[drn.Client] = []
    close = drn.Client.close

    def spy(self: drn.Client) -> None:
        closed.append(self)
        close(self)

    old = magics(shell).client
    monkeypatch.setattr(drn.Client, "close", spy)
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": "wrong-token-123456789")
    cell = run(shell, "%dr_connect")
    assert isinstance(cell.error, errors.AuthenticationError)
    assert len(closed) == 1 and closed[0] is not old


def test_connect_needs_an_endpoint(shell: InteractiveShell, monkeypatch) -> None:
    monkeypatch.delenv("DATAROBOT_ENDPOINT")
    cell = run(shell, "%dr_connect")
    assert isinstance(cell.error, UsageError) and "%dr_connect https://" in cell.stderr


def test_no_output_of_a_whole_session_contains_the_token(
    shell: InteractiveShell, sandbox, catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = sandbox.tokens["admin"]
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": token)
    cells = [
        run(shell, f"%dr_connect {sandbox.endpoint}"),
        run(shell, f"%dr_templates --tag {TAG} --readme"),
        run(shell, f"%dr_template Churn Predictor {_RUN}"),
        run(shell, f"%dr_template Twin App {_RUN}"),
        run(shell, "%dr_template 0123456789abcdef01234567"),
        run(shell, f"%dr_new_app {catalogue['churn'].id}"),
        run(shell, f"%dr_new_app Flask App Base --name 'Token {_RUN}'"),
        run(shell, f"%dr_apps --name 'Token {_RUN}'"),
        run(shell, f"%dr_app Token {_RUN} --logs 5"),
        run(shell, f"%dr_app Token {_RUN} --delete"),
        run(shell, "%config DataRobotMagics"),
        run(shell, "%dr_templates --bogus"),
    ]
    shown = [c.text for c in cells]
    shown += [c.result._repr_html_() for c in cells if hasattr(c.result, "_repr_html_")]
    shown += [c.result.to_string() for c in cells if isinstance(c.result, pd.DataFrame)]
    shown += [repr(c.result) for c in cells]
    assert all(token not in text for text in shown)


def test_gallery_magic(shell: InteractiveShell, catalogue) -> None:
    from dr_notebook.gallery import TemplateGallery

    cell = run(shell, "%dr_gallery --type customMetricTemplate")
    assert cell.error is None, cell.text
    assert isinstance(cell.result, TemplateGallery)
    assert cell.result.template_type == "customMetricTemplate"
    cell = run(shell, "%dr_gallery --type application")
    assert cell.result.template_type == "customApplicationTemplate"


def _requests(stats: dict[str, Any]) -> list[Any]:
    return list(stats.get("requests", []))


# %dr_new_app (a running application), %dr_apps, %dr_app


def launch_line(outputs: list[dict[str, Any]]) -> list[str]:
    return [o["data"]["text/plain"] for o in outputs if "text/plain" in o["data"]]


WIDGET = "application/vnd.jupyter.widget-view+json"


@pytest.fixture
def launch_widget(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every value the launch widget of ``%dr_new_app`` takes (HTML; ``as_text`` reads it)."""
    from dr_notebook.magics import applications as app_magics

    values: list[str] = []
    real = app_magics._launch_view

    def recording(label: str) -> Any:
        view = real(label)
        assert view is not None  # the shell fixture says: in a kernel
        view.widget.observe(
            lambda change: values.append(change["new"]),
            names="value",
        )
        return view

    monkeypatch.setattr(app_magics, "_launch_view", recording)
    return values


def as_text(values: list[str]) -> list[str]:
    return [html.unescape(re.sub("<[^>]+>", " ", value)) for value in values]


def widget_outputs(cell: Cell) -> list[dict[str, Any]]:
    """The widgets a cell displayed (updates of a display left out)."""
    return [o for o in cell.outputs if WIDGET in o["data"] and not o["update"]]


def last_plain(cell: Cell) -> str:
    """The launch widget's text/plain at its last update (what a saved notebook shows)."""
    return [o for o in cell.outputs if WIDGET in o["data"]][-1]["data"]["text/plain"]


@pytest.mark.parametrize("async_sources", [False, True], ids=["sync-source", "async-source"])
def test_new_app_launches_with_one_widget_then_the_card(
    shell: InteractiveShell,
    admin,
    sandbox_settings: Callable[..., Any],
    async_sources: bool,
    launch_widget: list[str],
) -> None:
    sandbox_settings(async_sources=async_sources, async_delay_ms=800, app_start_delay_ms=1200)
    name = f"Launched {uuid.uuid4().hex[:6]}"
    cell = run(shell, f"%dr_new_app Flask App Base --name '{name}' -o app")
    assert cell.error is None, cell.text
    app = cell.result
    assert isinstance(app, Application) and app.running and app.name == name
    assert shell.user_ns["app"] is app
    assert len(widget_outputs(cell)) == 1  # one widget, updated in place
    texts = as_text(launch_widget)
    assert "Flask App Base" in texts[0] and "creating the source" in texts[0], texts
    assert any("building the application" in t for t in texts)
    assert "✓ running" in texts[-1] and "running at http" in texts[-1], texts[-1]
    assert last_plain(cell).startswith("Flask App Base: running at http")
    card = html_of(app)
    assert "Open application" in card and 'rel="noopener noreferrer"' in card
    assert admin.applications.get(app.id).running
    admin.applications.delete(app)


def test_new_app_source_only_and_no_wait(
    shell: InteractiveShell, admin, launch_widget: list[str]
) -> None:
    name = f"No wait {uuid.uuid4().hex[:6]}"
    cell = run(shell, f"%dr_new_app Flask App Base --name '{name}' --no-wait")
    assert cell.error is None, cell.text
    assert isinstance(cell.result, Application) and cell.result.name == name
    assert f"%dr_app {cell.result.id}" in as_text(launch_widget)[-1]
    admin.applications.delete(cell.result)


def test_new_app_show_inline_turns_the_launch_widget_into_the_app(
    shell: InteractiveShell, admin, launch_widget: list[str]
) -> None:
    name = f"Shown {uuid.uuid4().hex[:6]}"
    cell = run(shell, f"%dr_new_app Flask App Base --name '{name}' --show -o app")
    assert cell.error is None, cell.text
    assert cell.result is None and isinstance(shell.user_ns["app"], Application)
    app = shell.user_ns["app"]
    assert len(widget_outputs(cell)) == 1  # the same widget: steps, then the app
    assert "✓ running" in as_text(launch_widget)[-2]
    assert launch_widget[-1].count("<iframe") == 1
    assert last_plain(cell).startswith(f"{name} (running): http")
    assert f'src="{html.escape(app.application_url or "?")}"' in launch_widget[-1]
    assert name in launch_widget[-1]
    run(shell, "%config DataRobotMagics.app_display = 'tab'")
    other = f"Tab {uuid.uuid4().hex[:6]}"
    cell = run(shell, f"%dr_new_app Flask App Base --name '{other}' --show")
    assert cell.error is None, cell.text
    assert isinstance(cell.result, AppView) and cell.result.mode == "tab"
    assert "<iframe" not in launch_widget[-1]
    for made in (app, admin.applications.resolve(other)):
        admin.applications.delete(made)


@pytest.mark.parametrize(
    "options", ["--show --no-wait", "--show inline --source-only", "--show popup"]
)
def test_new_app_show_needs_a_running_app_and_a_known_mode(
    shell: InteractiveShell, options: str
) -> None:
    cell = run(shell, f"%dr_new_app Flask App Base {options}")
    assert isinstance(cell.error, UsageError), cell.text


def test_app_show_modes_and_the_config_default(shell: InteractiveShell, admin) -> None:
    name = f"Show me {uuid.uuid4().hex[:6]}"
    app = admin.launch("Flask App Base", name=name)
    try:
        for line, mode in [
            (f"%dr_app '{name}' --show", "inline"),
            (f"%dr_app {app.id} --show tab", "tab"),
            (f"%dr_app {app.id} --show external", "external"),
        ]:
            cell = run(shell, line)
            assert cell.error is None, cell.text
            assert isinstance(cell.result, AppView) and cell.result.mode == mode
            shown = formatter(shell).format(cell.result)[0]
            assert ("<iframe" in shown["text/html"]) == (mode == "inline"), mode
            assert shown["text/plain"].startswith(f"{name} (running): http")
        run(shell, "%config DataRobotMagics.app_display = 'external'")
        cell = run(shell, f"%dr_app {app.id} --show")
        assert isinstance(cell.result, AppView) and cell.result.mode == "external"
        assert isinstance(run(shell, f"%dr_app {app.id}").result, Application)  # no --show
        run(shell, "%config DataRobotMagics.app_display = 'popup'")
        assert magics(shell).app_display == "external"  # an Enum: the bad value is refused
        cell = run(shell, f"%dr_app {app.id} --show --delete")
        assert isinstance(cell.error, UsageError)
        cell = run(shell, f"%dr_app {app.id} --show --logs 3")
        assert cell.error is None and "log lines" in cell.stdout
        assert any("text/plain" in o["data"] and "(running): http" in o["data"]["text/plain"]
                   for o in cell.outputs)  # fmt: skip
    finally:
        run(shell, "%config DataRobotMagics.app_display = 'inline'")
        admin.applications.delete(app)


def test_new_app_name_in_use_is_one_line(shell: InteractiveShell, admin) -> None:
    name = f"Taken {uuid.uuid4().hex[:6]}"
    app = admin.launch("Flask App Base", name=name, wait=False)
    cell = run(shell, f"%dr_new_app Flask App Base --name '{name}'")
    assert_one_line(cell, errors.NameInUseError, "already exists", "--name NEW", "--delete")
    admin.applications.delete(app)


def test_new_app_timeout_says_how_to_look(
    shell: InteractiveShell, admin, sandbox_settings: Callable[..., Any]
) -> None:
    sandbox_settings(app_start_delay_ms=6000)
    name = f"Slow {uuid.uuid4().hex[:6]}"
    cell = run(shell, f"%dr_new_app Flask App Base --name '{name}' --timeout 1.5")
    assert_one_line(cell, errors.AsyncTimeoutError, "may still be building", "%dr_app ")
    admin.applications.delete(admin.applications.resolve(name))


def test_new_app_failed_build_is_one_line(
    shell: InteractiveShell, admin, catalogue, sandbox
) -> None:
    # In a simulated sandbox a template without start-app.sh is refused at creation (422).
    cell = run(shell, f"%dr_new_app Churn Predictor {_RUN} --name 'No start {_RUN}'")
    assert_one_line(cell, errors.ValidationError, "start-app.sh")
    shown = "\n".join([cell.stdout, cell.stderr, *launch_line(cell.outputs)])
    assert shown.count("no start-app.sh") == 1, shown  # the progress line does not repeat it


def test_apps_returns_the_frame_and_app_shows_the_card_and_logs(
    shell: InteractiveShell, admin
) -> None:
    name = f"Shown {uuid.uuid4().hex[:6]}"
    app = admin.launch("Flask App Base", name=name)
    cell = run(shell, f"%dr_apps --name '{name}' --status running -o apps")
    assert cell.error is None, cell.text
    frame = cell.result
    assert list(frame.columns[: len(APPLICATION_COLUMNS)]) == APPLICATION_COLUMNS
    assert list(frame["id"]) == [app.id] and shell.user_ns["apps"] is frame
    assert run(shell, f"%dr_apps --name '{name}' --status failed").result.empty

    shown = run(shell, f"%dr_app {name.upper()} -o one")
    assert isinstance(shown.result, Application) and shown.result.id == app.id
    assert shell.user_ns["one"].id == app.id
    with_logs = run(shell, f"%dr_app {app.id} --logs 3")
    assert with_logs.error is None and with_logs.result is None
    assert "log lines (build completed)" in with_logs.stdout
    assert any(app.id in str(o["data"]) for o in with_logs.outputs)  # the card, displayed
    grepped = run(shell, f"%dr_app {app.id} --logs --grep 'no such words'")
    assert "Last 0 of 0 log lines matching 'no such words'" in grepped.stdout, grepped.text
    assert isinstance(run(shell, f"%dr_app {app.id} --grep x").error, UsageError)

    deleted = run(shell, f"%dr_app '{name}' --delete")
    assert f"Deleted the application {name!r}" in deleted.stdout
    missing = run(shell, f"%dr_app '{name}'")
    assert_one_line(missing, errors.NotFoundError, name)


def test_app_names_resolve_like_template_names(shell: InteractiveShell, admin) -> None:
    name = f"Twin App {uuid.uuid4().hex[:6]}"
    apps = [admin.launch("Flask App Base", name=n, wait=False) for n in (name, name.lower())]
    cell = run(shell, f"%dr_app {name}")
    assert_one_line(cell, errors.AmbiguousNameError, "2 applications", apps[0].id)
    usage = run(shell, "%dr_app")
    assert isinstance(usage.error, UsageError)
    for app in apps:
        admin.applications.delete(app)


def test_viewer_gets_one_line_403_from_dr_app_delete(
    shell: InteractiveShell, admin, sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = admin.launch("Flask App Base", name=f"Guarded {uuid.uuid4().hex[:6]}", wait=False)
    monkeypatch.setenv("DATAROBOT_API_TOKEN", sandbox.tokens["viewer"])
    cell = run(shell, f"%dr_app {app.id} --delete")
    assert_one_line(cell, errors.PermissionDeniedError, "403")
    admin.applications.delete(app)


def test_completion_of_application_names(shell: InteractiveShell, admin) -> None:
    name = f"Completable {uuid.uuid4().hex[:6]}"  # completed from "Completabl"
    app = admin.launch("Flask App Base", name=name, wait=False)
    magics(shell)._app_names = None
    assert complete(shell, f"%dr_app {name[:10]}") == [f"%dr_app {name}"]
    assert complete(shell, f"%dr_app {app.id[:10]}") == [f"%dr_app {app.id}"]
    admin.applications.delete(app)


@pytest.fixture(scope="module")
def real_apps() -> Iterator[Any]:
    """A sandbox that runs applications, for the failure tests (one for the module)."""
    with start_sandbox(run_apps=True) as server:
        yield server
    assert processes_in(server.apps_dir) == []


@pytest.fixture
def on_real(shell: InteractiveShell, real_apps: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The shell pointed at ``real_apps``."""
    monkeypatch.setenv("DATAROBOT_ENDPOINT", real_apps.endpoint)
    monkeypatch.setenv("DATAROBOT_API_TOKEN", real_apps.token)
    magics(shell).drop_client()
    return real_apps


@pytest.mark.slow
def test_new_app_failed_build_is_one_line_with_the_build_error(
    shell: InteractiveShell, on_real: Any, launch_widget: list[str]
) -> None:
    name = publish_broken_app(on_real)  # its requirements.txt cannot install
    cell = run(shell, f"%dr_new_app {name}")
    assert_one_line(
        cell,
        errors.ApplicationFailedError,
        UNKNOWN,
        "not found in the package registry",
        "%dr_app ",
    )
    # The widget says it failed; why is the error's line, said once (no output to add).
    last = as_text(launch_widget)[-1]
    assert f"{name}" in last and " failed " in last
    assert "not found in the package registry" not in last
    shown = "\n".join([cell.stdout, cell.stderr])
    assert shown.count("not found in the package registry") == 1, shown  # said once
    assert shown.count("Logs:") == 1 and "client.applications" not in shown, shown
    assert ".. " not in shown, shown
    assert on_real.token not in cell.text and on_real.token not in "".join(launch_widget)
    assert isinstance(cell.error, errors.ApplicationFailedError) and cell.error.application
    drn.Client(on_real.endpoint, on_real.token).applications.delete(cell.error.application)


@pytest.mark.slow
def test_a_crash_in_a_terminal_prints_failed_once_then_one_line(
    shell: InteractiveShell, on_real: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("dr_notebook.magics.applications._in_kernel", lambda: False)
    name = publish_crashing_app(on_real)
    cell = run(shell, f"%dr_new_app '{name}' --name 'Crash {_RUN}'")
    assert isinstance(cell.error, errors.ApplicationFailedError), cell.text
    app = cell.error.application
    assert app is not None
    lines = cell.stdout.splitlines()
    failed = [line for line in lines if re.fullmatch(rf"{name}: failed \(\d+\.\d s\)", line)]
    assert len(failed) == 1, lines
    assert lines[: lines.index(failed[0]) + 1] == [
        line for line in lines if line.startswith(f"{name}: ")
    ]  # the progress lines, then the error's line only
    error = [line for line in lines if line.startswith("ApplicationFailedError: ")]
    assert len(lines) == lines.index(failed[0]) + 2 and len(error) == 1, lines
    assert re.fullmatch(
        re.escape(f"ApplicationFailedError: The application 'Crash {_RUN}' ({app.id}) failed ")
        + r"after \d+ s: "
        + re.escape(f"{CRASH_FIRST_ERROR} (start-app.sh exited with code 1 before answering ")
        + r"on port \d+\)\. "
        + re.escape(f"Logs: %dr_app {app.id} --logs"),
        error[0],
    ), error[0]
    drn.Client(on_real.endpoint, on_real.token).applications.delete(app)


@pytest.mark.slow
def test_app_logs_of_a_crash_say_each_line_once_the_first_error_on_top(
    shell: InteractiveShell,
    on_real: Any,
    launch_widget: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(formatter(shell).formatters["text/html"], "enabled", True)
    monkeypatch.setattr(formatter(shell), "active_types", ["text/plain", "text/html"])
    name = publish_crashing_app(on_real)
    cell = run(shell, f"%dr_new_app '{name}' --name 'Crash logs {_RUN}'")
    assert isinstance(cell.error, errors.ApplicationFailedError), cell.text
    app = cell.error.application
    assert app is not None
    # %dr_new_app: the widget shows the output's last lines, line breaks kept; the error's
    # line below it the first error and the reason; neither repeats the other.
    widget = html.unescape(launch_widget[-1])
    assert re.search(r"\n +config = json\.loads.*\n +\^+\n", widget)  # caret under its code
    assert widget.count(CRASH_FIRST_ERROR) == 1 and "Logs:" not in widget
    assert "start-app.sh exited" not in widget
    assert cell.stdout.count(CRASH_FIRST_ERROR) == 1 and cell.stdout.count("Logs:") == 1
    assert "Traceback" not in cell.stdout

    cell = run(shell, f"%dr_app {app.id} --logs")
    assert cell.error is None, cell.text
    logs = drn.Client(on_real.endpoint, on_real.token).applications.logs(app)
    assert logs.lines[: len(CRASH_PRINTS)] == list(CRASH_PRINTS)  # positive control
    assert logs.build_error and "Last lines of its output" in logs.build_error  # repeats them
    reason = logs.build_error.split(" First error: ")[0]
    assert reason.startswith("start-app.sh exited with code 1 before answering on port ")
    assert cell.stdout.splitlines() == [
        f"First error: {CRASH_FIRST_ERROR}",
        f"Build error: {reason}",
        f"Last {len(logs.lines)} of {len(logs.lines)} log lines (build failed):",
        *logs.lines,
    ]
    shown = cell.stdout.splitlines()
    for line in logs.lines[:-1]:  # each as often as it was printed; the last is the first
        assert shown.count(line) == logs.lines.count(line), line  # error, also on top
    assert cell.stdout.count(CRASH_FIRST_ERROR) == 2 and cell.stdout.count("booting") == 1
    card = "\n".join(str(out["data"].get("text/html", "")) for out in cell.outputs)
    assert app.id in card and "failed" in card  # the card, without the build error's lines
    assert "build error" not in card and "Traceback" not in card and "booting" not in card
    drn.Client(on_real.endpoint, on_real.token).applications.delete(app)


# templates that cannot run here, and interrupts


def test_new_app_refuses_a_template_that_cannot_run_here(shell: InteractiveShell, admin) -> None:
    before = len(admin.app_sources.list())
    cell = run(shell, "%dr_new_app Slack Bot App")
    assert_one_line(cell, errors.LocalLaunchError, "cannot run on this server", "--force")
    assert "force=True" not in cell.text
    assert len(admin.app_sources.list()) == before  # nothing was created
    with pytest.raises(errors.LocalLaunchError) as info:
        admin.launch("Slack Bot App")
    assert info.value.reason and info.value.reason in str(info.value)
    assert "force=True" in str(info.value)
    assert len(admin.app_sources.list()) == before
    # control: forced, it is launched (and fails or runs as the server decides)
    forced = admin.launch("Slack Bot App", name=f"forced-{uuid.uuid4().hex[:6]}", wait=False,
                          force=True)  # fmt: skip
    assert forced.id
    admin.applications.delete(forced)


def interrupt_when(condition: Callable[[], bool]) -> threading.Thread:
    """Interrupt the main thread (as a kernel interrupt does) once ``condition`` holds."""

    def watch() -> None:
        deadline = time.monotonic() + 60
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.05)  # polls the sandbox for the state to interrupt in
        _thread.interrupt_main()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_an_interrupted_launch_is_one_line_saying_it_keeps_building(
    shell: InteractiveShell, admin, sandbox_settings: Callable[..., Any]
) -> None:
    sandbox_settings(app_start_delay_ms=60_000)  # it stays building until interrupted
    name = f"Interrupted {uuid.uuid4().hex[:6]}"
    watcher = interrupt_when(lambda: admin.applications.name_in_use(name))
    cell = run(shell, f"%dr_new_app Flask App Base --name '{name}'")
    watcher.join(10)
    assert isinstance(cell.error, KeyboardInterrupt), cell.error
    lines = [line for line in (cell.stdout + cell.stderr).splitlines() if line.strip()]
    assert lines == [f"Interrupted; {name} keeps building on the server: %dr_app '{name}'"]
    assert "Traceback" not in cell.text
    app = admin.applications.resolve(name)  # it is there, as the line says
    assert app.status in ("building", "initializing", "starting", "running"), app.status
    admin.applications.delete(app)


def test_an_interrupt_before_the_application_exists_says_so(
    shell: InteractiveShell, admin, sandbox_settings: Callable[..., Any]
) -> None:
    sandbox = sandbox_settings(async_sources=True, async_delay_ms=60_000)  # the job never ends
    sandbox.reset_stats()
    name = f"Early {uuid.uuid4().hex[:6]}"

    def making_the_source() -> bool:
        asked = [r["path"] for r in sandbox.stats()["requests"]]
        return any(path.startswith("status/") for path in asked)  # its job is being polled

    watcher = interrupt_when(making_the_source)
    cell = run(shell, f"%dr_new_app Flask App Base --name '{name}'")
    watcher.join(10)
    assert isinstance(cell.error, KeyboardInterrupt), cell.error
    lines = [line for line in (cell.stdout + cell.stderr).splitlines() if line.strip()]
    assert lines == [
        f"Interrupted before {name} was created (its application source may still appear)."
    ]
    assert not admin.applications.name_in_use(name)


def test_check_prints_one_line_per_finding_and_returns_a_frame(
    shell: InteractiveShell, tmp_path: Path
) -> None:
    (tmp_path / "start-app.sh").write_text("streamlit run a.py --server.port 8501\r\n")
    cell = run(shell, f"%dr_check {tmp_path} -o found")
    assert cell.error is None, cell.text
    lines = cell.stdout.splitlines()
    assert lines[0].startswith("error: start-app.sh:1: CRLF")
    assert lines[1].startswith("error: start-app.sh:1: no shebang")
    assert lines[2].startswith("warning: start-app.sh:1: streamlit listens on port 8501")
    assert lines[3] == f"{tmp_path}: 2 error(s), 1 warning(s) (an upload refuses it)"
    assert list(cell.result.columns) == ["level", "path", "line", "message"]
    assert shell.user_ns.pop("found") is cell.result and len(cell.result) == 3
    assert isinstance(run(shell, "%dr_check").error, UsageError)
    assert "FOLDER" in run(shell, "%dr_check --help").stdout
    missing = run(shell, f"%dr_check {tmp_path / 'nope'}")
    assert_one_line(missing, errors.InvalidArgumentError, "is not a folder")
