"""Run applications for real (``--run-apps``): files in a working folder, ``bash start-app.sh``.

Each run writes the version's files into a fresh folder, checks ``requirements.txt`` against
the sandbox's own Python environment (it installs nothing), and starts ``start-app.sh`` in a
process group of its own with ``PORT``, ``DATAROBOT_ENDPOINT``, ``DATAROBOT_API_TOKEN`` and
``MLOPS_RUNTIME_PARAM_<NAME>`` set. The run reports ``running`` once the app answers HTTP on
its port, or ``failed`` with the reason. Stopping a run ends its whole process group.
"""

from __future__ import annotations

import collections
import contextlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import psutil

from dr_notebook.sandbox.requirements import check_requirements, describe

LOG_LINES = 1000
ERROR_TAIL = 20
STOP_GRACE_S = 5.0
ENTRYPOINT = "start-app.sh"
# Variables a run never inherits from the sandbox: the sandbox's own tokens above all.
_PRIVATE_PREFIXES = ("DATAROBOT_", "MLOPS_RUNTIME_PARAM_", "DR_NOTEBOOK_SANDBOX_")

# (application id, run id, status, build error or None, build log)
Reporter = Callable[[str, str, str, "str | None", str], None]


@dataclass
class RunSpec:
    """What one run needs: the files, the port and the variables DataRobot would set."""

    app_id: str
    run_id: str
    files: Sequence[tuple[str, bytes]]
    port: int
    env: dict[str, str]


@dataclass
class _Run:
    spec: RunSpec
    folder: Path
    output: collections.deque[str] = field(
        default_factory=lambda: collections.deque(maxlen=LOG_LINES)
    )
    build: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None
    stopping: threading.Event = field(default_factory=threading.Event)
    collector: threading.Thread | None = None


class AppRunner:
    """The application processes of one sandbox, by application id."""

    def __init__(self, root: Path, report: Reporter, start_timeout_s: Callable[[], float]) -> None:
        self.root = root
        self._report = report
        self._timeout = start_timeout_s
        self._runs: dict[str, _Run] = {}
        self._lock = threading.Lock()

    def start(self, spec: RunSpec) -> None:
        """Stop the application's current run, if any, and start this one in the background."""
        self.stop(spec.app_id)
        run = _Run(spec, self.root / spec.app_id / spec.run_id)
        with self._lock:
            self._runs[spec.app_id] = run
        threading.Thread(target=self._execute, args=(run,), daemon=True).start()

    def stop(self, app_id: str, forget_files: bool = False) -> None:
        """End the application's process group (TERM, then KILL after a grace period)."""
        with self._lock:
            run = self._runs.pop(app_id, None)
        if run is not None:
            run.stopping.set()
            if run.process is not None:
                _end_group(run.process)
        if forget_files:
            shutil.rmtree(self.root / app_id, ignore_errors=True)

    def stop_all(self) -> None:
        """Stop every run (the sandbox is shutting down)."""
        with self._lock:
            ids = list(self._runs)
        for app_id in ids:
            self.stop(app_id)

    def reap_orphans(self) -> int:
        """End what a killed sandbox left running in the working folders; how many groups."""
        root, own = str(self.root), os.getpgrp()
        groups: set[int] = set()
        for proc in psutil.process_iter(["cwd"]):
            cwd = proc.info.get("cwd") or ""
            if cwd == root or cwd.startswith(root + os.sep):
                with contextlib.suppress(OSError):
                    groups.add(os.getpgid(proc.pid))
        groups.discard(own)
        for group in groups:
            _end_group_id(group)
        return len(groups)

    def logs(self, app_id: str) -> tuple[list[str], str | None]:
        """The run's last output lines and its build log (None if it has not run here)."""
        with self._lock:
            run = self._runs.get(app_id)
        if run is None:
            return [], None
        return list(run.output), "\n".join(run.build)

    def started(self, app_id: str) -> bool:
        """Whether the run got past its build: files written, ``start-app.sh`` launched."""
        with self._lock:
            run = self._runs.get(app_id)
        return run is not None and run.process is not None

    def pids(self, app_id: str) -> int | None:
        """The process group id of the application's run, if it has a process."""
        with self._lock:
            run = self._runs.get(app_id)
        return None if run is None or run.process is None else run.process.pid

    # -- one run, on its own thread -------------------------------------------------------
    def _execute(self, run: _Run) -> None:
        try:
            problem = self._prepare(run) or self._launch(run) or self._wait_until_ready(run)
        except OSError as exc:
            problem = f"The sandbox could not start the application: {exc}"
        if run.stopping.is_set():
            return
        if problem:
            self._fail(run, problem)
            return
        if run.process is None:
            return
        self._send(run, "running", None)
        code = run.process.wait()
        if not run.stopping.is_set():
            self._fail(run, f"The application exited with code {code}.{_tail(run)}")

    def _prepare(self, run: _Run) -> str | None:
        files = dict(run.spec.files)
        requirements = files.get("requirements.txt")
        run.build.append(f"Checking requirements.txt against {sys.executable}")
        if requirements is not None:
            report = check_requirements(requirements.decode("utf-8", errors="replace"))
            run.build.extend(describe(report))
            if not report.ok:
                names = " ".join(report.missing)
                lines = describe(report)
                return (
                    f"{lines[0]}. The sandbox does not install packages: install them into its "
                    f"Python environment ({sys.prefix}), e.g. `pip install {names}`, then "
                    "restart the application."
                    if report.missing
                    else "; ".join(lines)
                )
        else:
            run.build.append("No requirements.txt: nothing to check.")
        shutil.rmtree(run.folder.parent, ignore_errors=True)
        run.folder.mkdir(parents=True)
        problem = _write_files(run.folder, run.spec.files)
        run.build.append(problem or f"Wrote {len(files)} files to {run.folder}")
        return problem

    def _launch(self, run: _Run) -> str | None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(_PRIVATE_PREFIXES)}
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        env.update(run.spec.env)
        env["PORT"] = str(run.spec.port)
        env["BIND_ADDRESS"] = "127.0.0.1"
        env["PYTHONUNBUFFERED"] = "1"
        run.build.append(f"Starting: bash {ENTRYPOINT} with PORT={run.spec.port}")
        if run.stopping.is_set():
            return None
        run.process = subprocess.Popen(
            ["bash", ENTRYPOINT],
            cwd=run.folder,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopping ends all it started
        )
        assert run.process.stdout is not None
        run.collector = threading.Thread(
            target=_collect, args=(run.process.stdout, run.output), daemon=True
        )
        run.collector.start()
        if run.stopping.is_set():  # stopped while starting: the stopper saw no process yet
            _end_group(run.process)
        return None

    def _wait_until_ready(self, run: _Run) -> str | None:
        if run.process is None:  # stopped before it started
            return None
        port, timeout = run.spec.port, self._timeout()
        deadline = time.monotonic() + timeout
        while not run.stopping.is_set():
            code = run.process.poll()
            if code is not None:
                return f"{ENTRYPOINT} exited with code {code} before answering on port {port}.{_tail(run)}"  # noqa: E501
            if _answers(port):
                run.build.append(f"The application answers HTTP on port {port}.")
                return None
            if time.monotonic() > deadline:
                listening = sorted(_listening_ports(run.process.pid) - {port})
                _end_group(run.process)
                if listening:
                    shown = ", ".join(map(str, listening))
                    return (
                        f"The application listens on port {shown}, not on $PORT ({port}): "
                        f"make {ENTRYPOINT} use ${{PORT:-8080}}."
                    )
                return f"The application did not answer HTTP on port {port} within {timeout:g} s.{_tail(run)}"  # noqa: E501
            time.sleep(0.2)
        return None

    def _fail(self, run: _Run, problem: str) -> None:
        if run.process is not None:
            _end_group(run.process)
        run.build.append(f"Failed: {problem}")
        self._send(run, "failed", problem)

    def _send(self, run: _Run, status: str, problem: str | None) -> None:
        self._report(run.spec.app_id, run.spec.run_id, status, problem, "\n".join(run.build))


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether ``port`` can be bound now (a restart keeps an application's port when it can)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _write_files(folder: Path, files: Sequence[tuple[str, bytes]]) -> str | None:
    """Write files under a fresh folder; never through a link, never outside it."""
    for path, content in files:
        parts = path.split("/")
        if path.startswith("/") or any(p in ("", ".", "..") for p in parts):
            return f"Refused to write {path!r}: not a relative path inside the application."
        target = folder.joinpath(*parts)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
            mode = 0o755 if path.endswith(".sh") else 0o644
            with os.fdopen(os.open(target, flags, mode), "wb") as handle:
                handle.write(content)
        except (FileExistsError, NotADirectoryError):
            return f"Cannot write {path!r}: a file and a folder of the application share its name."
    return None


def _collect(stream: IO[bytes], lines: collections.deque[str]) -> None:
    with contextlib.suppress(ValueError, OSError), stream:
        for raw in stream:
            lines.append(raw.decode("utf-8", errors="replace").rstrip("\r\n"))


def _answers(port: int) -> bool:
    """Whether something answers HTTP (any status) on the port."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", "/")
        connection.getresponse().read(0)
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()
    return True


def _listening_ports(pid: int) -> set[int]:
    ports: set[int] = set()
    try:
        root = psutil.Process(pid)
        for proc in [root, *root.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                for conn in proc.net_connections(kind="tcp"):
                    if conn.status == psutil.CONN_LISTEN and conn.laddr:
                        ports.add(int(conn.laddr[1]))
    except psutil.Error:
        pass
    return ports


def _end_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group, wait for all of it, SIGKILL what is left after the grace."""
    group = process.pid
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(group, sig)
        except (ProcessLookupError, PermissionError):
            break
        deadline = time.monotonic() + STOP_GRACE_S
        while time.monotonic() < deadline:
            process.poll()  # reap the leader, so it no longer counts as a member
            if not _group_alive(group):
                process.poll()
                return
            time.sleep(0.05)
    process.poll()


def _end_group_id(group: int) -> None:
    """Like :func:`_end_group` for a group whose leader is not our child."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(group, sig)
        except (ProcessLookupError, PermissionError):
            return
        deadline = time.monotonic() + STOP_GRACE_S
        while time.monotonic() < deadline and _group_alive(group):
            time.sleep(0.05)
        if not _group_alive(group):
            return


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _tail(run: _Run) -> str:
    if run.collector is not None:
        run.collector.join(timeout=1.0)  # the output's last lines, once the process has ended
    lines = list(run.output)[-ERROR_TAIL:]
    if not lines:
        return " It printed nothing."
    return " Last lines of its output:\n" + "\n".join(lines)
