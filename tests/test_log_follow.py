"""Following logs without a server: the window matching (no line twice, none lost, gaps said),
the ends (stopped, failed, deleted, timeout), the back-off; and ANSI escapes in every face."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dr_notebook.ansi import ansi_to_html, strip_ansi
from dr_notebook.errors import NotFoundError
from dr_notebook.models import Application, ApplicationLogs
from dr_notebook.resources.log_follow import GAP, MAX_INTERVAL, MIN_INTERVAL, follow, new_lines

WINDOW = 1000


def windows(total_lines: list[int]) -> list[list[str]]:
    """The server's windows (last 1000 lines) after each poll, given the lines made so far."""
    return [[f"line {i}" for i in range(max(0, n - WINDOW), n)] for n in total_lines]


def scripted(
    polls: list[list[str]], statuses: list[str] | None = None
) -> tuple[Iterator[str], list[float]]:
    """follow() over these windows (then NotFoundError: deleted), recording its sleeps."""
    logs = iter(polls)
    states = iter(statuses or ["running"] * len(polls))
    slept: list[float] = []

    def read_logs() -> ApplicationLogs:
        try:
            return ApplicationLogs.from_api({"logs": next(logs)})
        except StopIteration:
            raise NotFoundError("gone") from None

    def read_app() -> Application:
        return Application(id="a", status=next(states, "running"))

    return follow(read_logs, read_app, sleep=slept.append), slept


def test_growing_and_rotating_windows_give_every_line_once() -> None:
    # 5 lines, then 995 more (window full), then 400 more (rotated), then 999 more
    polls = windows([5, 1000, 1400, 2399, 2399])
    lines, _ = scripted(polls)
    assert list(lines) == [f"line {i}" for i in range(2399)]


def test_more_than_the_window_between_polls_is_said_not_hidden() -> None:
    lines, _ = scripted(windows([1000, 2500]))
    seen = list(lines)
    assert seen[:1000] == [f"line {i}" for i in range(1000)]
    assert seen[1000] == GAP and seen[1001:] == [f"line {i}" for i in range(1500, 2500)]


def test_repeated_identical_lines_are_counted_by_their_runs() -> None:
    lines, _ = scripted([["tick"] * 3, ["tick"] * 5])
    assert list(lines) == ["tick"] * 5


def test_a_restart_starts_a_new_window_without_a_gap() -> None:
    lines, _ = scripted([["old 1", "old 2"], ["new 1"]])
    assert list(lines) == ["old 1", "old 2", "new 1"]


@pytest.mark.parametrize("status", ["stopped", "failed"])
def test_it_ends_when_the_application_stops_or_fails_after_its_last_lines(status: str) -> None:
    lines, slept = scripted([["a"], ["a", "b"], ["a", "b", "c"]], ["running", status, "running"])
    assert list(lines) == ["a", "b"] and len(slept) == 1


def test_back_off_grows_while_quiet_and_drops_when_lines_come() -> None:
    quiet = [["a"]] * 9 + [["a", "b"], ["a", "b"]]
    lines, slept = scripted(quiet)
    assert list(lines) == ["a", "b"]
    assert slept[0] == MIN_INTERVAL and slept[1] > slept[0]
    assert max(slept) == MAX_INTERVAL and slept[9] == MIN_INTERVAL  # after "b"


def test_timeout_ends_the_follow() -> None:
    now = [0.0]

    def clock() -> float:
        return now[0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    endless = follow(
        lambda: ApplicationLogs.from_api({"logs": ["same"]}),
        lambda: Application(id="a", status="running"),
        timeout=12,
        sleep=sleep,
        clock=clock,
    )
    assert list(endless) == ["same"] and now[0] == pytest.approx(12)


def test_new_lines_reports_a_loss_only_without_overlap() -> None:
    assert new_lines(["a", "b"], ["b", "c"]) == (["c"], False)
    assert new_lines([], ["x"]) == (["x"], False)
    assert new_lines(["a"], ["z"]) == (["z"], True)


def test_ansi_becomes_nothing_in_text_and_colour_in_html() -> None:
    line = (
        "\x1b[32mINFO\x1b[0m:     Uvicorn running \x1b]8;;http://x\x07link\x1b]8;;\x07 \x1b[2K<b>"
    )
    assert strip_ansi(line) == "INFO:     Uvicorn running link <b>"
    markup = ansi_to_html("\x1b[1;31mERROR\x1b[0m <script>\x1b[38;5;208mx")
    assert markup.startswith('<span style="color:#cd3131;font-weight:bold">ERROR</span>')
    assert "&lt;script&gt;" in markup and "\x1b" not in markup and "[38;5" not in markup
    assert strip_ansi("tab\tstays\x00\x07\x9b") == "tab\tstays"
