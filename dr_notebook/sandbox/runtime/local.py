"""Run applications for real (``--run-apps``): a folder per run, ``bash start-app.sh``, watched.

Each run writes the version's files into a folder of its own, builds (or reuses) its
environment with uv (see :mod:`builder`), then starts ``start-app.sh`` contained (see
:mod:`isolation`), in a network of its own on port 8080 where possible (see :mod:`network`;
else on a free port of 127.0.0.1), with an allow-listed environment (see :mod:`environment`).
The run reports ``running`` once the app answers its health check (any HTTP status on 8080,
through its door or on its port, as DataRobot's Kubernetes probe), its page answers 2xx or 3xx
to the request the sandbox's proxy sends (its path and ``X-Forwarded-*`` headers), and it is
still up ``SERVING_GRACE_S`` later; else ``failed`` with the reason and its first error line
(a page answering 4xx/5xx until the start timeout, an exit in the grace period). Operations
on one application are serialized; stopping a run ends every process it started.
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

from dr_notebook.sandbox.runtime import interpreters, isolation, jail, network
from dr_notebook.sandbox.runtime.base import ENTRYPOINT, Reporter, RunLogs, RunSpec, Upstream
from dr_notebook.sandbox.runtime.builder import Builder, BuildError, Built
from dr_notebook.sandbox.runtime.environment import build_variables, run_environment
from dr_notebook.sandbox.runtime.output import OutputRing, clip, first_error_line, redact
from dr_notebook.sandbox.runtime.proxy import app_prefix, forwarded_headers, upstream_path
from dr_notebook.sandbox.runtime.supervisor import STOP_GRACE_S, Readiness, Supervised

ERROR_TAIL = 20
BUILD_LOG_LINES = 5000  # a build log keeps its first lines and its last ones
BUILD_LINE_CHARS = 2000
_EXPOSURE_CHECK_S = 2.0
#: An app that exits this soon after its page first answered is failed, not running.
SERVING_GRACE_S = 2.0


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
    built: Built | None = None
    doors: network.Doors | None = None
    port_door: network.Forward | None = None

    def log(self, line: str) -> None:
        """Add a build-log line (bounded: long lines cut, the middle of a long log dropped);
        redacted first, so that no cut leaves part of a secret."""
        line = redact(line, self.spec.secrets)
        if len(line) > BUILD_LINE_CHARS:
            line = line[:BUILD_LINE_CHARS] + " [...]"
        if len(self.build) >= BUILD_LOG_LINES:
            del self.build[BUILD_LOG_LINES // 2]
        self.build.append(line)


class LocalRuntime:
    """The application processes of one sandbox, by application id."""

    simulated = False

    def __init__(
        self,
        root: Path,
        report: Reporter,
        start_timeout_s: Callable[[], float],
        grace_s: float = STOP_GRACE_S,
        envs: Path | None = None,
        offline: bool = False,
        force_port: bool = False,
    ) -> None:
        """``envs``: where applications' environments are built (``<root>-envs`` by default);
        ``offline``: builds install nothing; ``force_port``: the PORT mode even where each
        application could have a network of its own (see :mod:`network`)."""
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
        self.jail, self.jail_reason = jail.find()
        if self.jail is None and not isolation.namespace_prefix():
            isolation.become_subreaper()
        envs = envs or root.with_name(f"{root.name}-envs")
        self.builder = Builder(envs, offline=offline, jail=self.jail)
        self.networks = network.Networks(
            isolation.namespace_prefix(), force_port, self._tag, jailed=self.jail is not None
        )

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
        """Stop every run and the doors."""
        self.stop_all()
        self.networks.close()
        self.builder.close()

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
        if run is None or run.status != "running":
            return None
        if run.doors is not None:
            if not run.doors.genuine():
                return None
            door = str(run.doors.app_socket)
            return Upstream(port=run.spec.port if run.port_door else None, socket_path=door)
        if run.spec.port is None:
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
        self.builder.cancel(run.folder)
        if run.port_door is not None:
            run.port_door.close()
        if run.process is not None:
            run.process.stop(self._grace)
        if run.thread is not None and run.thread is not threading.current_thread():
            run.thread.join(10.0)  # a build still writing files finishes before they go
        self.builder.cancel(run.folder)  # a build step begun while it was being stopped
        if run.process is not None:
            run.process.stop(self._grace)  # launched while it was being stopped
        if run.doors is not None:
            run.doors.release()
            if run.doors.genuine():
                run.doors.app_socket.unlink(missing_ok=True)
        shutil.rmtree(run.folder, ignore_errors=True)

    def _mark(self, spec: RunSpec) -> str:
        return f"{self._tag}{spec.app_id}/{spec.run_id}/"

    def _execute(self, run: _Run) -> None:
        try:
            problem = (
                self.build(run)
                or self._launch(run)
                or self._wait_until_ready(run)
                or self._wait_until_serving(run)
            )
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
        """The build step: write the files, then build (or reuse) the application's environment
        with uv (see :mod:`builder`); why it failed, or None."""
        files = dict(run.spec.files)
        run.log(self.networks.note())
        run.log(self.jail.note() if self.jail else f"Jail: none ({self.jail_reason}).")
        run.folder.mkdir(parents=True, mode=0o700)
        problem = write_files(run.folder, run.spec.files)
        run.log(problem or f"Wrote {len(files)} files to {run.folder}")
        if problem:
            return problem
        if self.jail is not None:
            self.jail.own(run.folder)
        base = _execution_environment(run.spec.environment_id, run.log)
        try:
            variables = build_variables(run.spec.env)
            run.built = self.builder.build(
                base, files, run.folder, run.log, self._mark(run.spec), variables
            )
        except BuildError as exc:
            return str(exc)
        return None

    def _launch(self, run: _Run) -> str | None:
        mark = self._mark(run.spec)
        built = run.built
        extra = {} if built is None or built.prefix is None else {"VIRTUAL_ENV": str(built.prefix)}
        python_bin = None if built is None else built.bin
        python = str(built.python) if built is not None else sys.executable
        run.doors = self.networks.doors(
            run.spec.app_id, run.spec.run_id, run.spec.env.get("DATAROBOT_ENDPOINT"), python
        )
        if run.doors is None:
            env = run_environment(run.spec.env, run.spec.port, mark, None, python_bin, extra=extra)
            run.log(f"Starting: bash {ENTRYPOINT} with PORT={run.spec.port}")
            argv = self._contained(run, ["bash", ENTRYPOINT])
        else:
            extra.update(run.doors.environment())
            env = run_environment(
                run.spec.env, network.APP_PORT, mark, None, python_bin, None, extra
            )
            run.log(f"Starting: bash {ENTRYPOINT} with PORT={network.APP_PORT} in its network")
            argv = self._contained(run, ["bash", ENTRYPOINT], run.doors.wrapper)
        listener = None if run.doors is None else run.doors.listener
        fds = () if listener is None else (listener.fileno(),)
        process = Supervised(argv, env, run.folder, run.output, mark, pass_fds=fds)
        run.process = process
        started = not run.stopping.is_set() and process.start()
        if run.doors is not None:
            run.doors.release()  # the jail holds the listening socket now
        if not started:
            return None
        if run.stopping.is_set():  # stopped while starting: the stopper may have seen no pid
            process.stop(self._grace)
        return None

    def _contained(self, run: _Run, command: list[str], wrapper: Sequence[str] = ()) -> list[str]:
        """``command`` (after the doors' ``wrapper``) in the run's jail, or, without one, in a
        PID namespace of its own."""
        if self.jail is None:
            flags = () if run.doors is None else run.doors.unshare_flags
            return isolation.contained(command, flags, wrapper)
        binds = [jail.Bind(run.folder, writable=True)]
        built = run.built
        binds += jail.python_binds(built.python if built is not None else Path(sys.executable))
        api_socket = self.networks.api_socket
        if run.doors is not None and api_socket is not None and api_socket.exists():
            binds.append(jail.Bind(api_socket, dest=network.API_SOCKET_INSIDE))
        init = ["sh", "-c", isolation.INIT_SCRIPT, "dr-notebook-init"]
        return self.jail.argv(
            [*init, *wrapper, *command], binds, run.folder, own_network=run.doors is not None
        )

    def _wait_until_ready(self, run: _Run) -> str | None:
        process, doors = run.process, run.doors
        port = network.APP_PORT if doors is not None else run.spec.port
        if process is None or port is None or run.stopping.is_set():
            return None
        timeout = self._timeout()
        if doors is not None:
            outcome = process.ready(
                lambda: doors.genuine() and network.answers(doors.app_socket), timeout
            )
        else:
            outcome = process.ready(lambda: _answers(port), timeout)
        if outcome is Readiness.STOPPED:
            return None
        if outcome is Readiness.EXITED:
            process.drain()
            code = process.returncode
            return (
                f"{ENTRYPOINT} exited with code {code} before answering on port {port}."
                + _first(run)
            )
        pids = _pids(process.pid)
        if outcome is Readiness.TIMEOUT:
            doors_port = {doors.api_port} if doors is not None else set()
            listening = sorted({p for _, p in _listening(pids, doors is not None)} - {port})
            listening = [p for p in listening if p not in doors_port]
            if listening:
                shown = ", ".join(map(str, listening))
                wanted = "8080" if doors is not None else f"$PORT ({port})"
                return (
                    f"The application listens on port {shown}, not on {wanted}: "
                    f"make {ENTRYPOINT} use ${{PORT:-8080}}."
                )
            return f"The application did not answer HTTP on port {port} within {timeout:g} s.{_tail(run)}"  # noqa: E501
        run.log(f"The application answers HTTP on port {port}.")
        if doors is None:
            return exposure_problem(pids)
        if len(pids) > 1 and network.loopback_only(pids[-1]):
            run.log(
                "Note: the application listens on 127.0.0.1 only; DataRobot could not reach it "
                "(bind 0.0.0.0). The sandbox still serves it."
            )
        if run.spec.port is not None:  # for browsers until a proxy serves the socket
            run.port_door = network.port_door(run.spec.port, doors.app_socket, self.networks.mark)
            run.port_door.start()
        return None

    def _wait_until_serving(self, run: _Run) -> str | None:
        """After the health check: the page, as the proxy asks for it, answers 2xx or 3xx
        (polled until the start timeout), and the app is still up ``SERVING_GRACE_S`` later."""
        process, doors = run.process, run.doors
        if process is None or run.stopping.is_set():
            return None
        spec = run.spec
        path = upstream_path("/", spec.app_id, spec.root_path)
        headers = [("user-agent", network.PROBE_USER_AGENT), ("host", "127.0.0.1")]
        headers = forwarded_headers(headers, client_host="127.0.0.1", scheme="http",
                                    host="127.0.0.1", prefix=app_prefix(spec.app_id),
                                    user_email=None)  # fmt: skip
        answers: list[int | None] = []

        def serving() -> bool:
            if doors is not None:
                code = network.page_status(doors.app_socket, path, headers)
            else:
                code = _page_status(spec.port or 0, path, headers)
            answers.append(code)
            return code is not None and 200 <= code < 400

        timeout = self._timeout()
        outcome = process.ready(serving, timeout)
        if outcome is Readiness.STOPPED:
            return None
        if outcome is Readiness.TIMEOUT:
            code = next((c for c in reversed(answers) if c is not None), None)
            said = f"answered HTTP {code}" if code else "did not answer"
            return f"The application's page ({path}) {said} within {timeout:g} s.{_first(run)}"
        if outcome is Readiness.EXITED:
            process.drain()
            return f"{ENTRYPOINT} exited with code {process.returncode} before its page answered.{_first(run)}"  # noqa: E501
        run.log(f"Its page answered HTTP {answers[-1]}.")
        if process.ready(lambda: False, SERVING_GRACE_S) is Readiness.EXITED:
            process.drain()
            return (f"The application exited with code {process.returncode} within "
                    f"{SERVING_GRACE_S:g} s of serving its page.{_first(run)}")  # fmt: skip
        return None

    def _watch(self, run: _Run) -> str:
        """Wait for the running application to exit (or to listen on all interfaces)."""
        process = run.process
        assert process is not None
        while not run.stopping.is_set():
            if run.stopping.wait(_EXPOSURE_CHECK_S):
                break
            if process.returncode is not None:
                break
            if run.doors is None:  # in a network of its own, all interfaces are its own
                problem = exposure_problem(_pids(process.pid))
                if problem:
                    return problem
        code = process.wait()
        return f"The application exited with code {code}.{_tail(run)}"

    def _fail(self, run: _Run, problem: str) -> None:
        run.status = "failed"
        if run.port_door is not None:
            run.port_door.close()
        if run.process is not None:
            run.process.stop(self._grace)
        run.log(f"Failed: {problem}")
        self._send(run, "failed", problem)

    def _send(self, run: _Run, status: str, problem: str | None) -> None:
        secrets = run.spec.secrets
        error = None if problem is None else clip(redact(problem, secrets))
        self._report(
            run.spec.app_id, run.spec.run_id, status, error, redact("\n".join(run.build), secrets)
        )


def exposure_problem(pids: Sequence[int]) -> str | None:
    """Why the application may not run (it listens beyond the loopback interface), or None."""
    tcp = {(h, f"port {p}") for h, p in _listening(pids) if not _is_loopback(h)}
    udp = {(h, f"UDP port {p}") for h, p in _receiving_udp(pids) if not _is_loopback(h)}
    exposed = sorted(tcp | udp)
    if not exposed:
        return None
    shown = ", ".join(f"{h or '*'} {p}" for h, p in exposed)
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
        connection.request("GET", "/", headers={"User-Agent": network.PROBE_USER_AGENT})
        connection.getresponse().read(0)
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()
    return True


def _page_status(port: int, path: str, headers: list[tuple[str, str]]) -> int | None:
    """The HTTP status the page answers on 127.0.0.1:port (None: no answer)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    return network.status_of(connection, path, headers)


def _first(run: _Run) -> str:
    """`` First error: ...`` from the output (the last line of its first traceback, else the
    first line that reads as an error), then the last lines; "" when there is no output."""
    first = first_error_line(run.output.lines())
    return (f" First error: {_short(first)}\n" if first else "") + _tail(run)


def _pids(root: int | None) -> list[int]:
    if root is None:
        return []
    try:
        parent = psutil.Process(root)
        return [parent.pid, *(c.pid for c in parent.children(recursive=True))]
    except psutil.Error:
        return []


def _listening(pids: Sequence[int], own_network: bool = False) -> set[tuple[str, int]]:
    """(address, port) of the TCP sockets these processes listen on (in their own network:
    the kernel's table of that network, addresses as it writes them)."""
    if own_network:  # any process past the namespace's door reads that network's table
        return set().union(*(network.listeners(pid) for pid in pids[1:]))
    found: set[tuple[str, int]] = set()
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            for conn in psutil.Process(pid).net_connections(kind="tcp"):
                if conn.status == psutil.CONN_LISTEN and conn.laddr:
                    found.add((str(conn.laddr[0]), int(conn.laddr[1])))
    return found


def _receiving_udp(pids: Sequence[int]) -> set[tuple[str, int]]:
    """(address, port) of the UDP sockets these processes receive on from anyone: bound and not
    connected (a connected socket, such as a DNS lookup's, only hears its peer)."""
    found: set[tuple[str, int]] = set()
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            for conn in psutil.Process(pid).net_connections(kind="udp"):
                if conn.laddr and not conn.raddr:
                    found.add((str(conn.laddr[0]), int(conn.laddr[1])))
    return found


def _tail(run: _Run) -> str:
    lines = [_short(line) for line in run.output.tail(ERROR_TAIL)]
    if not lines:
        return " It printed nothing."
    return " Last lines of its output:\n" + "\n".join(lines)


def _short(line: str, limit: int = 300) -> str:
    return line if len(line) <= limit else line[:limit] + " [...]"


def _execution_environment(
    ident: str | None, log: Callable[[str], None]
) -> interpreters.ExecutionEnvironment:
    """The version's execution environment, or the sandbox's own Python's when it has none."""
    found = interpreters.find(ident)
    if found is not None:
        log(f"Execution environment: {found.name}.")
        return found
    chosen = interpreters.default()
    if ident:
        log(f"Execution environment {ident} is not one of this sandbox's: using {chosen.name}.")
    else:
        log(f"No execution environment: using {chosen.name}.")
    return chosen
