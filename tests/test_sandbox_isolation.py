"""The runtime's parts on their own: the environment allow-list, bounded output, and the
containment used where no PID namespace is available (sub-reaper and run marks)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap

import pytest

from dr_notebook.sandbox.runtime.environment import MARKER, run_environment
from dr_notebook.sandbox.runtime.output import (
    MAX_LINE_CHARS,
    REDACTED,
    OutputRing,
    clip,
    redact,
)


def test_the_environment_is_the_allow_list_and_what_the_sandbox_gives():
    source = {
        "PATH": "/usr/bin",
        "HOME": "/home/u",
        "LANG": "C.UTF-8",
        "LC_ALL": "C",
        "AWS_SECRET_ACCESS_KEY": "k",
        "SSH_AUTH_SOCK": "/s",
        "DATAROBOT_API_TOKEN": "the sandbox's own",
        "DR_NOTEBOOK_SANDBOX_TOKENS": "admin=x",
    }
    given = {"DATAROBOT_API_TOKEN": "owner", "MLOPS_RUNTIME_PARAM_X": "{}", "LD_PRELOAD": "/e"}
    env = run_environment(given, 8123, "mark/", source)
    assert env["DATAROBOT_API_TOKEN"] == "owner" and env["MLOPS_RUNTIME_PARAM_X"] == "{}"
    assert env["PORT"] == "8123" and env["BIND_ADDRESS"] == "127.0.0.1" and env[MARKER] == "mark/"
    assert env["PATH"].endswith("/usr/bin") and env["PATH"].startswith(sys.prefix)
    assert (env["HOME"], env["LANG"], env["LC_ALL"]) == ("/home/u", "C.UTF-8", "C")
    for name in ("AWS_SECRET_ACCESS_KEY", "SSH_AUTH_SOCK", "DR_NOTEBOOK_SANDBOX_TOKENS"):
        assert name not in env
    assert "LD_PRELOAD" not in env  # only DataRobot's variables are given


def test_output_is_cut_bounded_and_redacted():
    token = "sbx-secret-token-123"
    ring = OutputRing([token], max_lines=1000, max_bytes=64 * 1024)
    stream = io.BytesIO(
        b"hello " + token.encode() + b"\n"
        + b"x" * (MAX_LINE_CHARS - 5) + token.encode() + b"y" * 10_000_000 + b"\n"
        + b"".join(b"line %d\n" % i for i in range(20_000))
    )  # fmt: skip
    ring.collect(stream)
    lines = ring.lines()
    assert all(token not in line for line in lines)
    assert all(len(line) <= MAX_LINE_CHARS + 20 for line in lines)
    assert sum(len(line) + 1 for line in lines) <= 64 * 1024
    assert lines[-1] == "line 19999"  # the newest are kept
    # a token straddling the cut is hidden, not shown in part
    big = OutputRing([token])
    big.collect(io.BytesIO(b"x" * (MAX_LINE_CHARS - 5) + token.encode() + b"\n"))
    assert "sbx-s" not in big.lines()[0]
    assert redact(f"a {token} b", [token, ""]) == f"a {REDACTED} b"
    error = clip("reason: exited. " + "z" * 10_000 + " last line", 4096)
    assert len(error) <= 4096 and error.startswith("reason") and error.endswith("last line")


FALLBACK = textwrap.dedent(
    """
    import json, sys, threading, time
    from pathlib import Path
    from dr_notebook.sandbox.runtime import isolation
    from dr_notebook.sandbox.runtime.base import RunSpec
    from dr_notebook.sandbox.runtime import local

    isolation.namespace_prefix = lambda: ()  # as where unshare is missing or not allowed
    reports = []
    root = Path(sys.argv[1])
    runtime = local.LocalRuntime(root, lambda *a: reports.append(a[2]), lambda: 200.0)
    script = (b"#!/usr/bin/env bash\\nsetsid sleep 1000 >/dev/null 2>&1 </dev/null &\\n"
              b"exec python -m http.server --bind 127.0.0.1 \\"$PORT\\"\\n")
    port = runtime.port_for(None)
    runtime.start(RunSpec("app", "run1", [("start-app.sh", script)], port, {}))
    deadline = time.monotonic() + 200  # a bound that catches a hang: builds are slow under load
    while "running" not in reports and time.monotonic() < deadline:
        time.sleep(0.05)
    mark = f"{root.resolve()}/app/run1/"
    before = sorted(p.name() for p in isolation.marked(mark))
    runtime.stop_all()
    after = [p.pid for p in isolation.marked(mark)]
    print(json.dumps({"reports": reports, "before": before, "after": after,
                      "subreaper": isolation.become_subreaper()}))
    """
)


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux sub-reaper")
def test_without_a_namespace_a_setsid_daemon_is_still_ended(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", FALLBACK, str(tmp_path / "apps")],
        capture_output=True, text=True, timeout=280,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["reports"] == ["running"]
    assert "sleep" in seen["before"] and "unshare" not in seen["before"]  # not contained
    assert seen["after"] == []
    assert seen["subreaper"]
