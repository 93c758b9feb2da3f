"""How a run's processes are contained and found again: PID namespaces, sub-reaper, marks.

On Linux each run starts under util-linux ``unshare --pid --fork --kill-child`` (with
``--user --map-root-user`` when the sandbox is not root): a small ``sh`` init is process 1 of
the run's PID namespace, forwards SIGTERM to every process in it (``kill -TERM -1``), and exits
with the application's code once its main process is gone. When process 1 exits, the kernel
ends every process left in the namespace, ``setsid`` daemons included. Where ``unshare`` is
missing or not allowed, the sandbox makes itself a sub-reaper (``PR_SET_CHILD_SUBREAPER``), so
orphans stay its descendants, and every process of a run carries the run's mark in its
environment (:data:`~dr_notebook.sandbox.runtime.environment.MARKER`), by which it is found.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence

import psutil

from dr_notebook.sandbox.runtime.environment import MARKER

# Process 1 of a run's PID namespace: a signal from outside reaches it only through a handler.
INIT_SCRIPT = """trap 'kill -TERM -1 2>/dev/null' TERM INT HUP
"$@" &
child=$!
while :; do
  wait "$child"; code=$?
  kill -0 "$child" 2>/dev/null || exit "$code"
done
"""
_PR_SET_CHILD_SUBREAPER = 36


@functools.lru_cache(maxsize=1)
def namespace_prefix() -> tuple[str, ...]:
    """The ``unshare`` argv that gives a run its own PID namespace here, or () if none works."""
    if not sys.platform.startswith("linux"):
        return ()
    unshare = shutil.which("unshare")
    if unshare is None:
        return ()
    base = (unshare, "--pid", "--fork", "--kill-child")
    candidates = [base, (*base[:1], "--user", "--map-root-user", *base[1:])]
    if os.geteuid() != 0:
        candidates.reverse()
    for prefix in candidates:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            probe = subprocess.run(
                [*prefix, "true"], capture_output=True, timeout=10, stdin=subprocess.DEVNULL
            )
            if probe.returncode == 0:
                return prefix
    return ()


def contained(
    argv: Sequence[str], unshare_flags: Sequence[str] = (), wrapper: Sequence[str] = ()
) -> list[str]:
    """``argv`` wrapped so that its run has a PID namespace of its own (when one is possible).

    ``unshare_flags`` add namespaces (``--net``: see :mod:`network`) and ``wrapper`` runs
    between the namespace's init and ``argv`` (the network's doors); both need the namespace.
    """
    prefix = namespace_prefix()
    if not prefix:
        return list(argv)
    return [*prefix, *unshare_flags, "sh", "-c", INIT_SCRIPT, "dr-notebook-init", *wrapper, *argv]


def become_subreaper() -> bool:
    """Make this process adopt its descendants' orphans (Linux); whether it now does."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def marked(prefix: str) -> list[psutil.Process]:
    """Processes of this user whose mark (in ``/proc/<pid>/environ``) starts with ``prefix``."""
    found = []
    own = os.getpid()
    for proc in psutil.process_iter():
        if proc.pid == own:
            continue
        with contextlib.suppress(psutil.Error, OSError):
            mark = proc.environ().get(MARKER)
            if mark is not None and mark.startswith(prefix):
                found.append(proc)
    return found


def end(processes: Sequence[psutil.Process], grace_s: float) -> None:
    """SIGTERM, then SIGKILL after ``grace_s`` what is left; reap the ones that are ours."""
    alive = list(processes)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for proc in alive:
            with contextlib.suppress(psutil.Error):
                proc.send_signal(sig)
        deadline = time.monotonic() + (grace_s if sig == signal.SIGTERM else 5.0)
        while alive and time.monotonic() < deadline:
            alive = [p for p in alive if _alive(p)]
            if alive:
                time.sleep(0.05)
        if not alive:
            return


def _alive(proc: psutil.Process) -> bool:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(proc.pid, os.WNOHANG)  # an adopted orphan is ours to reap
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
