"""ApplicationLogs.first_error on real-looking output, and the logs' grep / source filters."""

from __future__ import annotations

from typing import Any

import pytest

from dr_notebook import errors
from dr_notebook.models import ApplicationLogs, failure_reason
from dr_notebook.resources.applications import Applications

FLASK_CRASH = [
    " * Serving Flask app 'app'",
    "[2025-01-07 10:00:01] INFO Starting",
    "Traceback (most recent call last):",
    '  File "/app/app.py", line 12, in <module>',
    "    client = dr.Client()",
    '  File "/venv/lib/python3.11/site-packages/datarobot/client.py", line 40, in Client',
    "    raise ValueError(msg)",
    "ValueError: The DataRobot endpoint is not set",
    "",
    "During handling of the above exception, another exception occurred:",
    "",
    "Traceback (most recent call last):",
    "RuntimeError: second",
]
GUNICORN = [
    "[2025-01-07 10:00:00 +0000] [7] [INFO] Starting gunicorn 22.0.0",
    "[2025-01-07 10:00:00 +0000] [7] [INFO] Listening at: http://0.0.0.0:8080 (7)",
    "[2025-01-07 10:00:01 +0000] [9] [ERROR] Exception in worker process",
    "[2025-01-07 10:00:01 +0000] [9] [INFO] Worker exiting (pid: 9)",
]
UV_BUILD = (
    "Using CPython 3.11.9\n"
    "Creating virtual environment at: .venv\n"
    "  × No solution found when resolving dependencies:\n"
    "error: Because surely-no-such-dist-4711 was not found in the package registry\n"
)
STREAMLIT_OK = [
    "  You can now view your Streamlit app in your browser.",
    "  URL: http://0.0.0.0:8080",
    "Collecting usage statistics. To deactivate, set browser.gatherUsageStats to false.",
]


@pytest.mark.parametrize(
    ("lines", "build_log", "build_status", "expected"),
    [
        (FLASK_CRASH, None, "completed", "ValueError: The DataRobot endpoint is not set"),
        (GUNICORN, None, "completed", GUNICORN[2]),
        ([], UV_BUILD, "failed", UV_BUILD.splitlines()[-1]),
        (["\x1b[31mfatal: no config file\x1b[0m"], None, "completed", "fatal: no config file"),
        (STREAMLIT_OK, None, "completed", None),
        # a completed build's log is not read: its chatter is not the failure
        (STREAMLIT_OK, "ERROR: ignored pip warning\n", "completed", None),
        # a traceback cut short: the first error-like line after all
        (["Traceback (most recent call last):", '  File "x.py"', "Error: boom"], None, None,
         "Error: boom"),
    ],
)  # fmt: skip
def test_first_error(lines: list[str], build_log: str | None, build_status: str | None,
                     expected: str | None) -> None:  # fmt: skip
    logs = ApplicationLogs.from_api(
        {"logs": lines, "buildLog": build_log, "buildStatus": build_status}
    )
    assert logs.first_error == expected


def test_the_first_traceback_wins_over_earlier_error_looking_lines() -> None:
    logs = ApplicationLogs.from_api({"logs": ["ERROR: one", *FLASK_CRASH]})
    assert logs.first_error == "ValueError: The DataRobot endpoint is not set"


class _Transport:
    endpoint = "http://example.invalid/api/v2"

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body

    def get_json(self, path: str, **_: Any) -> dict[str, Any]:
        assert path == "customApplications/a1/logs/"
        return self.body

    def redact(self, text: str) -> str:
        return text


def apps_with(lines: list[str], build_log: str) -> Applications:
    body = {"logs": lines, "buildLog": build_log, "buildStatus": "failed", "buildError": "x"}
    return Applications(_Transport(body), max_workers=1, progress=False)  # type: ignore[arg-type]


def test_grep_and_source_filter_the_lines() -> None:
    apps = apps_with(GUNICORN, UV_BUILD)
    assert apps.logs("a1").lines == GUNICORN
    assert apps.logs("a1", grep="worker").lines == GUNICORN[2:]  # case ignored
    runtime = apps.logs("a1", source="runtime")
    assert runtime.lines == GUNICORN and runtime.build_log is None
    assert runtime.first_error == GUNICORN[2]  # the failed build's log is not read
    build = apps.logs("a1", source="build")
    assert build.lines == UV_BUILD.splitlines()
    assert build.first_error and build.first_error.startswith("error: Because")
    only = apps.logs("a1", source="build", grep="virtual")
    assert only.lines == ["Creating virtual environment at: .venv"]
    assert apps.logs("a1", grep="nothing like it").lines == []


@pytest.mark.parametrize("bad", [{"source": "stdout"}, {"grep": 3}])
def test_bad_filters_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(errors.InvalidArgumentError):
        apps_with([], "").logs("a1", **bad)


SANDBOX_CRASH = (
    "start-app.sh exited with code 1 before answering on port 8080. First error: "
    "ValueError: no token\n Last lines of its output:\nbooting\nTraceback (most recent call "
    'last):\n  File "/app/app.py", line 3, in <module>\n    dr.Client()\n    ^^^^^^^^^^^\n'
    "ValueError: no token"
)
CRASH_LINES = [
    "booting",
    "Traceback (most recent call last):",
    '  File "/app/app.py", line 3, in <module>',
    "    dr.Client()",
    "    ^^^^^^^^^^^",
    "ValueError: no token",
]


@pytest.mark.parametrize(
    ("build_error", "lines", "reason"),
    [
        # the sandbox's: the reason, the first error, then the output's last lines
        (SANDBOX_CRASH, CRASH_LINES,
         "start-app.sh exited with code 1 before answering on port 8080."),
        # fewer lines shown than the build error quotes: the others stay
        (SANDBOX_CRASH, CRASH_LINES[-2:],
         "start-app.sh exited with code 1 before answering on port 8080.\n"
         " Last lines of its output:\nbooting\nTraceback (most recent call last):\n"
         '  File "/app/app.py", line 3, in <module>\n    dr.Client()'),
        # a first error the sandbox cut short ([...]) is still the one shown on top
        ("It died. First error: ValueError: no [...]\n Last lines of its output:\nbye",
         ["bye", "ValueError: no token"], "It died."),
        # uv's message: the first error's own line leaves; the others keep their breaks
        ("requirements.txt line 2: nope==1.0\nerror: No solution found\n  cause: not found",
         [], "requirements.txt line 2: nope==1.0\n  cause: not found"),
        # another server's reason, repeating nothing: as it is
        ("Out of memory.", CRASH_LINES, "Out of memory."),
        (None, CRASH_LINES, ""),
    ],
)  # fmt: skip
def test_the_reason_is_the_build_error_without_what_is_shown_beside_it(
    build_error: str | None, lines: list[str], reason: str
) -> None:
    build_log = None if lines else build_error  # uv's: its message is the build's log
    logs = ApplicationLogs(lines, build_log, "failed", build_error)
    first = "ValueError: no token" if lines else "error: No solution found"
    assert logs.first_error == first
    assert logs.reason == reason
    assert failure_reason(build_error, lines, first) == reason


def test_matching_keeps_the_unknown_fields_and_leaves_the_logs_whole() -> None:
    logs = ApplicationLogs.from_api({"logs": ["a", "B", "c"], "buildLog": "b1\nx", "zz": 1})
    kept = logs.matching("b")
    assert kept.lines == ["B"] and kept.build_log == "b1" and kept.extra == {"zz": 1}
    assert logs.lines == ["a", "B", "c"] and logs.build_log == "b1\nx"
