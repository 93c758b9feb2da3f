"""Run applications for real (``--run-apps``): a folder per run, ``bash start-app.sh``, watched.

Each run writes the version's files into a folder of its own, checks ``requirements.txt``
against the sandbox's own Python environment (the build step; it installs nothing), then starts
``start-app.sh`` contained (see :mod:`isolation`) with an allow-listed environment (see
:mod:`environment`). The run reports ``running`` once the app answers HTTP on its port on
127.0.0.1 only, or ``failed`` with the reason. Operations on one application are serialized;
stopping a run ends every process it started.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import os
import shutil
import socket
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from dr_notebook.sandbox.runtime import isolation
from dr_notebook.sandbox.runtime.base import ENTRYPOINT, Reporter, RunLogs, RunSpec, Upstream
from dr_notebook.sandbox.runtime.environment import run_environment
from dr_notebook.sandbox.runtime.output import OutputRing, clip, redact
from dr_notebook.sandbox.runtime.requirements import check_requirements, describe
from dr_notebook.sandbox.runtime.supervisor import STOP_GRACE_S, Readiness, Supervised

ERROR_TAIL = 20
_EXPOSURE_CHECK_S = 2.0


@dataclass
class _Run:
    spec: RunSpec
    folder: Path
    output: OutputRing
    build: list[str] = field(default_factory=list)
    process: Supervised | None = None
    status: str = "building"
    stopping: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None


class LocalRuntime:
    """The application processes of one sandbox, by application id."""

    simulated = False

    def __init__(
        self,
        root: Path,
        report: Reporter,
        start_timeout_s: Callable[[], float],
        grace_s: float = STOP_GRACE_S,
    ) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        root.chmod(0o700)
        self._report = report
        self._timeout = start_timeout_s
        self._grace = grace_s
        self._runs: dict[str, _Run] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self._tag = f"{root.resolve()}/"
        if not isolation.namespace_prefix():
            isolation.become_subreaper()

    # -- the protocol ------------------------------------------------------------------------
    def ready_at(self) -> float | None:
        """Real runs report when they are running."""
        return None

    def port_for(self, previous: int | None) -> int | None:
        """``previous`` when it is still free, else a new free port."""
        if previous is not None and port_is_free(previous):
            return previous
        return free_port()

    def start(self, spec: RunSpec) -> None:
        """Stop the application's current run, if any, and start this one in the background."""
        with self._app_lock(spec.app_id):
            self._stop_locked(spec.app_id)
            run = _Run(spec, self.root / spec.app_id / spec.run_id, OutputRing(spec.secrets))
            with self._lock:
                self._runs[spec.app_id] = run
            run.thread = threading.Thread(target=self._execute, args=(run,), daemon=True)
            run.thread.start()

    def stop(self, app_id: str, forget_files: bool = False) -> None:
        """End every process of the application's run (SIGTERM, then SIGKILL after a grace)."""
        with self._app_lock(app_id):
            self._stop_locked(app_id)
            if forget_files:
                shutil.rmtree(self.root / app_id, ignore_errors=True)

    def stop_all(self) -> None:
        """Stop every run, all at the same time."""
        with self._lock:
            ids = list(self._runs)
        threads = [threading.Thread(target=self.stop, args=(i,), daemon=True) for i in ids]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def close(self) -> None:
        """Stop every run."""
        self.stop_all()

    def status(self, app_id: str) -> str | None:
        """The status the application's run has reached here, or None."""
        with self._lock:
            run = self._runs.get(app_id)
        return None if run is None else run.status

    def logs(self, app_id: str) -> RunLogs:
        """The run's last output lines and its build log."""
        with self._lock:
            run = self._runs.get(app_id)
        if run is None:
            return RunLogs([], None, False)
        return RunLogs(run.output.lines(), "\n".join(run.build), run.process is not None)

    def upstream(self, app_id: str) -> Upstream | None:
        """Where the application answers while it runs."""
        with self._lock:
            run = self._runs.get(app_id)
        if run is None or run.status != "running" or run.spec.port is None:
            return None
        return Upstream(port=run.spec.port)

    def sweep(self) -> int:
        """End what a killed sandbox on the same database left running; how many processes.

        Only processes carrying this sandbox's mark are touched (never by working folder).
        """
        found = isolation.marked(self._tag)
        isolation.end(found, self._grace)
        return len(found)

    def pid(self, app_id: str) -> int | None:
        """The process id of the application's run, if it has one."""
        with self._lock:
            run = self._runs.get(app_id)
        return None if run is None or run.process is None else run.process.pid

    # -- internals ---------------------------------------------------------------------------
    def _app_lock(self, app_id: str) -> threading.Lock:
        with self._lock:
            return self._locks.setdefault(app_id, threading.Lock())

    def _stop_locked(self, app_id: str) -> None:
        with self._lock:
            run = self._runs.pop(app_id, None)
        if run is None:
            return
        run.stopping.set()
        run.status = "stopped"
        if run.process is not None:
            run.process.stop(self._grace)
        if run.thread is not None and run.thread is not threading.current_thread():
            run.thread.join(10.0)  # a build still writing files finishes before they go
        if run.process is not None:
            run.process.stop(self._grace)  # launched while it was being stopped
        shutil.rmtree(run.folder, ignore_errors=True)

    def _mark(self, spec: RunSpec) -> str:
        return f"{self._tag}{spec.app_id}/{spec.run_id}/"

    def _execute(self, run: _Run) -> None:
        try:
            problem = self.build(run) or self._launch(run) or self._wait_until_ready(run)
        except OSError as exc:
            problem = f"The sandbox could not start the application: {exc}"
        if run.stopping.is_set():
            return
        if problem:
            self._fail(run, problem)
            return
        assert run.process is not None
        run.status = "running"
        self._send(run, "running", None)
        problem = self._watch(run)
        if not run.stopping.is_set():
            self._fail(run, problem)

    def build(self, run: _Run) -> str | None:
        """The build step: write the files and check the requirements; why it failed, or None."""
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
        run.folder.mkdir(parents=True, mode=0o700)
        problem = write_files(run.folder, run.spec.files)
        run.build.append(problem or f"Wrote {len(files)} files to {run.folder}")
        return problem

    def _launch(self, run: _Run) -> str | None:
        mark = self._mark(run.spec)
        env = run_environment(run.spec.env, run.spec.port, mark)
        run.build.append(f"Starting: bash {ENTRYPOINT} with PORT={run.spec.port}")
        argv = isolation.contained(["bash", ENTRYPOINT])
        process = Supervised(argv, env, run.folder, run.output, mark)
        run.process = process
        if run.stopping.is_set() or not process.start():
            return None
        if run.stopping.is_set():  # stopped while starting: the stopper may have seen no pid
            process.stop(self._grace)
        return None

    def _wait_until_ready(self, run: _Run) -> str | None:
        process, port = run.process, run.spec.port
        if process is None or port is None or run.stopping.is_set():
            return None
        timeout = self._timeout()
        outcome = process.ready(lambda: _answers(port), timeout)
        if outcome is Readiness.STOPPED:
            return None
        if outcome is Readiness.EXITED:
            process.drain()
            code = process.returncode
            return (
                f"{ENTRYPOINT} exited with code {code} before answering on port {port}.{_tail(run)}"
            )
        pids = _pids(process.pid)
        if outcome is Readiness.TIMEOUT:
            listening = sorted({p for _, p in _listening(pids)} - {port})
            if listening:
                shown = ", ".join(map(str, listening))
                return (
                    f"The application listens on port {shown}, not on $PORT ({port}): "
                    f"make {ENTRYPOINT} use ${{PORT:-8080}}."
                )
            return f"The application did not answer HTTP on port {port} within {timeout:g} s.{_tail(run)}"  # noqa: E501
        run.build.append(f"The application answers HTTP on port {port}.")
        return exposure_problem(pids)

    def _watch(self, run: _Run) -> str:
        """Wait for the running application to exit (or to listen on all interfaces)."""
        process = run.process
        assert process is not None
        while not run.stopping.is_set():
            if run.stopping.wait(_EXPOSURE_CHECK_S):
                break
            if process.returncode is not None:
                break
            problem = exposure_problem(_pids(process.pid))
            if problem:
                return problem
        code = process.wait()
        return f"The application exited with code {code}.{_tail(run)}"

    def _fail(self, run: _Run, problem: str) -> None:
        run.status = "failed"
        if run.process is not None:
            run.process.stop(self._grace)
        run.build.append(f"Failed: {problem}")
        self._send(run, "failed", problem)

    def _send(self, run: _Run, status: str, problem: str | None) -> None:
        secrets = run.spec.secrets
        error = None if problem is None else clip(redact(problem, secrets))
        self._report(
            run.spec.app_id, run.spec.run_id, status, error, redact("\n".join(run.build), secrets)
        )


def exposure_problem(pids: Sequence[int]) -> str | None:
    """Why the application may not run (it listens beyond the loopback interface), or None."""
    exposed = sorted({(h, p) for h, p in _listening(pids) if not _is_loopback(h)})
    if not exposed:
        return None
    shown = ", ".join(f"{h or '*'} port {p}" for h, p in exposed)
    what = "all network interfaces" if any(_is_any(h) for h, _ in exposed) else "a network"
    return (
        f"The application listens on {what} ({shown}), so other machines could reach it: "
        "the sandbox runs applications on 127.0.0.1 only. Bind to ${BIND_ADDRESS:-127.0.0.1} "
        "(e.g. `--host 127.0.0.1`)."
    )


def _is_loopback(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


def _is_any(host: str) -> bool:
    return host in ("", "0.0.0.0", "::")


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


def write_files(folder: Path, files: Sequence[tuple[str, bytes]]) -> str | None:
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


def _answers(port: int) -> bool:
    """Whether something answers HTTP (any status) on the port, on 127.0.0.1."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", "/")
        connection.getresponse().read(0)
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()
    return True


def _pids(root: int | None) -> list[int]:
    if root is None:
        return []
    try:
        parent = psutil.Process(root)
        return [parent.pid, *(c.pid for c in parent.children(recursive=True))]
    except psutil.Error:
        return []


def _listening(pids: Sequence[int]) -> set[tuple[str, int]]:
    """(address, port) of the TCP sockets these processes listen on."""
    found: set[tuple[str, int]] = set()
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            for conn in psutil.Process(pid).net_connections(kind="tcp"):
                if conn.status == psutil.CONN_LISTEN and conn.laddr:
                    found.add((str(conn.laddr[0]), int(conn.laddr[1])))
    return found


def _tail(run: _Run) -> str:
    lines = [_short(line) for line in run.output.tail(ERROR_TAIL)]
    if not lines:
        return " It printed nothing."
    return " Last lines of its output:\n" + "\n".join(lines)


def _short(line: str, limit: int = 300) -> str:
    return line if len(line) <= limit else line[:limit] + " [...]"
