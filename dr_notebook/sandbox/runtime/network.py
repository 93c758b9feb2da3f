"""An application's own network, as DataRobot gives it a container: port 8080, doors out.

On Linux each run gets a network namespace of its own (util-linux ``unshare --net``, beside the
PID namespace of :mod:`isolation`), with only the loopback interface, brought up. There the app
listens on 8080 (``PORT=8080`` too), on 0.0.0.0 or 127.0.0.1, and nobody else can reach it: any
number of apps listen on 8080 at once. Unix sockets are its only doors, since a Unix socket
crosses network namespaces and a TCP port does not; ``socat`` keeps both:

- the app's door: inside, ``socat`` listens on ``<doors>/<app>.<run>.sock`` and connects to
  127.0.0.1:8080; the sandbox's health checks and proxy connect to that socket
  (:attr:`Doors.app_socket`, the runtime's ``upstream``);
- the sandbox's door: inside, ``socat`` listens on 127.0.0.1:<the sandbox's port> and connects
  to ``<doors>/api.sock``, where one ``socat`` outside (:class:`ApiDoor`) connects to the
  sandbox. So ``DATAROBOT_ENDPOINT`` is the same URL inside and out.

The doors live in a private folder (0700) under the temporary directory, named after the
sandbox's runs folder: a Unix socket path may not exceed 107 bytes, which a run folder beside a
database often does.
Where namespaces or ``socat`` are missing, or ``DR_NOTEBOOK_ISOLATION=port`` (``--isolation
port``) forces it, runs fall back to the ``PORT`` mode: a free port on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.client
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psutil

from dr_notebook.sandbox.runtime.environment import MARKER

APP_PORT = 8080
API_SOCKET_INSIDE = Path("/run/drn/api.sock")  # where a jailed run sees the sandbox's door
ISOLATION_ENV = "DR_NOTEBOOK_ISOLATION"  # "namespace" (the default where possible) or "port"
PROBE_USER_AGENT = "kube-probe/1.29"  # DataRobot's health checks come from Kubernetes
_NAMESPACE, _PORT = "namespace", "port"
# Inside the namespace, before the app: loopback up, then the two doors, then the app itself.
# Arguments: python, socat, app socket, sandbox port, api socket, then the app's argv.
DOORS_SCRIPT = """py=$1 socat=$2 app_sock=$3 api_port=$4 api_sock=$5
shift 5
"$py" -c "$DR_NOTEBOOK_LO_UP" || { echo "cannot bring up the loopback interface" >&2; exit 97; }
unset DR_NOTEBOOK_LO_UP
"$socat" UNIX-LISTEN:"$app_sock",fork,mode=600,unlink-early TCP:127.0.0.1:8080 2>/dev/null &
if [ -n "$api_port" ]; then
  "$socat" TCP-LISTEN:"$api_port",bind=127.0.0.1,fork,reuseaddr UNIX-CONNECT:"$api_sock" \
    2>/dev/null &
fi
exec "$@"
"""
# In a jail (see :mod:`jail`), the doors are one small relay instead: the sandbox made and
# listens on the app's socket (in its own folder, which no jail sees) and hands its fd in;
# the relay accepts there for 127.0.0.1:8080, and listens on 127.0.0.1:<the sandbox's port>
# for the sandbox's socket, which the jail sees read-only at a fixed path.
# Arguments: python, the socket's fd, api port, api socket, then the app's argv.
JAIL_DOORS_SCRIPT = """py=$1 fd=$2 api_port=$3 api_sock=$4
shift 4
"$py" -I -S -c "$DR_NOTEBOOK_RELAY" "$fd" "$api_port" "$api_sock" &
unset DR_NOTEBOOK_RELAY
exec "$@"
"""
RELAY = """import asyncio, socket, sys
async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except OSError:
        writer.close()
async def relay(reader, writer, opener):
    try:
        upstream_reader, upstream_writer = await opener()
    except OSError:
        writer.close()
        return
    await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))
    upstream_writer.close()
    writer.close()
async def main():
    with open("/proc/self/comm", "w") as comm:
        comm.write("drn-doors")
    app = socket.socket(fileno=int(sys.argv[1]))
    to_app = lambda: asyncio.open_connection("127.0.0.1", 8080)
    await asyncio.start_unix_server(lambda r, w: relay(r, w, to_app), sock=app)
    if sys.argv[2]:
        to_api = lambda: asyncio.open_unix_connection(sys.argv[3])
        await asyncio.start_server(lambda r, w: relay(r, w, to_api), "127.0.0.1", int(sys.argv[2]))
    await asyncio.Event().wait()
asyncio.run(main())
"""
# SIOCGIFFLAGS / SIOCSIFFLAGS on "lo" with IFF_UP: what `ip link set lo up` does.
LO_UP = """import fcntl, socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
flags = struct.unpack("16sh22x", fcntl.ioctl(s, 0x8913, struct.pack("16sh22x", b"lo", 0)))[1]
fcntl.ioctl(s, 0x8914, struct.pack("16sh22x", b"lo", flags | 1))
"""


def requested_mode() -> str:
    """What ``DR_NOTEBOOK_ISOLATION`` asks for: ``port`` forces the fallback."""
    return _PORT if os.environ.get(ISOLATION_ENV, "").strip().lower() == _PORT else _NAMESPACE


def unavailable_reason(pid_prefix: Sequence[str]) -> str | None:
    """Why runs cannot have their own network here (None: they can), given the PID prefix."""
    if requested_mode() == _PORT:
        return f"{ISOLATION_ENV}=port (or --isolation port) asks for it"
    if not sys.platform.startswith("linux"):
        return "network namespaces exist on Linux only"
    if shutil.which("socat") is None:
        return "socat is not installed (apt-get install socat)"
    if not pid_prefix:
        return "unshare cannot make namespaces here (util-linux missing or user namespaces off)"
    if not _net_works(tuple(pid_prefix)):
        return "unshare --net is not allowed here"
    return None


@functools.lru_cache(maxsize=4)
def _net_works(pid_prefix: tuple[str, ...]) -> bool:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        probe = subprocess.run(
            [*pid_prefix, "--net", sys.executable, "-c", LO_UP],
            capture_output=True,
            timeout=10,
            stdin=subprocess.DEVNULL,
        )
        return probe.returncode == 0
    return False


class DoorFolder:
    """The private folder of one sandbox's doors (removed on :meth:`close`).

    Named after ``key`` (the runs' folder), so the next sandbox on the same database removes
    what a killed one left; a name taken by anything but this user's own folder gives way to
    a random one.
    """

    def __init__(self, key: str = "") -> None:
        digest = hashlib.sha256(key.encode()).hexdigest()[:12]
        path = Path(tempfile.gettempdir()) / f"drn-{os.getuid()}-{digest}"
        if key and _own_private_folder(path):
            shutil.rmtree(path)
        try:
            if not key:
                raise FileExistsError
            path.mkdir(mode=0o700)
        except FileExistsError:
            path = Path(tempfile.mkdtemp(prefix="drn-"))  # 0700, a random name
        self.path = path

    def app_socket(self, app_id: str, run_id: str) -> Path:
        """Where a run's app door listens."""
        return self.path / f"{app_id[:24]}.{run_id[:8]}.sock"

    @property
    def api_socket(self) -> Path:
        """Where the sandbox's door listens (outside every namespace)."""
        return self.path / "api.sock"

    def close(self) -> None:
        """Remove the folder and what is left in it."""
        shutil.rmtree(self.path, ignore_errors=True)


def _own_private_folder(path: Path) -> bool:
    """Whether ``path`` is a real folder (no link) of this user's, and no one else's to read."""
    try:
        info = path.lstat()
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o077


@dataclass(frozen=True)
class Doors:
    """A run's doors: what to add to ``unshare`` and to put before the app's argv."""

    app_socket: Path
    api_port: int | None  # where the door to the sandbox listens inside
    unshare_flags: tuple[str, ...]  # after the PID namespace's flags
    wrapper: tuple[str, ...]  # the doors script, between the namespace's init and the app
    listener: socket.socket | None = None  # jailed: the app's socket, made here, handed in
    identity: tuple[int, int] | None = None  # (st_dev, st_ino) of the socket the sandbox made

    @classmethod
    def for_jail(
        cls, folder: DoorFolder, app_id: str, run_id: str, api_port: int | None, python: str
    ) -> Doors:
        """The doors of a jailed run: the app's socket made and listening here, handed in."""
        app_socket = folder.app_socket(app_id, run_id)
        with contextlib.suppress(FileNotFoundError):
            app_socket.unlink()
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(app_socket))
        listener.listen(128)
        info = app_socket.lstat()
        wrapper = ("sh", "-c", JAIL_DOORS_SCRIPT, "dr-notebook-doors", python,
                   str(listener.fileno()), "" if api_port is None else str(api_port),
                   str(API_SOCKET_INSIDE))  # fmt: skip
        return cls(app_socket, api_port, (), wrapper, listener, (info.st_dev, info.st_ino))

    def genuine(self) -> bool:
        """Whether the app's socket is still the one the sandbox made (not a link, not swapped)."""
        if self.identity is None:
            return True
        try:
            info = self.app_socket.lstat()
        except OSError:
            return False
        return stat.S_ISSOCK(info.st_mode) and (info.st_dev, info.st_ino) == self.identity

    def release(self) -> None:
        """Close the sandbox's copy of the listening socket (the jail holds its own)."""
        if self.listener is not None:
            self.listener.close()

    @classmethod
    def for_run(cls, folder: DoorFolder, app_id: str, run_id: str, api_port: int | None) -> Doors:
        """The doors of one run; ``api_port`` is the sandbox's port (None: no door to it)."""
        app_socket = folder.app_socket(app_id, run_id)
        socat = shutil.which("socat") or "socat"
        wrapper = (
            "sh", "-c", DOORS_SCRIPT, "dr-notebook-doors", sys.executable, socat,
            str(app_socket), "" if api_port is None else str(api_port), str(folder.api_socket),
        )  # fmt: skip
        return cls(app_socket, api_port, ("--net",), wrapper)

    @property
    def prefix(self) -> tuple[str, ...]:
        """``unshare_flags`` then ``wrapper``: to follow a PID namespace prefix directly."""
        return (*self.unshare_flags, *self.wrapper)

    def environment(self) -> dict[str, str]:
        """What the doors script needs in the run's environment (it removes it for the app)."""
        if self.listener is not None:
            return {"DR_NOTEBOOK_RELAY": RELAY}
        return {"DR_NOTEBOOK_LO_UP": LO_UP}


class Forward:
    """One ``socat`` outside the namespaces, from ``listen`` to ``connect`` (socat addresses).

    ``mark`` goes into its environment as the runs' mark (``DR_NOTEBOOK_SANDBOX_RUN``), so a
    sandbox killed with SIGKILL leaves nothing the next one on its database does not end.
    """

    def __init__(self, listen: str, connect: str, mark: str | None = None) -> None:
        self.listen, self.connect = listen, connect
        self._env = None if mark is None else {"PATH": os.defpath, MARKER: mark}
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start forwarding (again, if it stopped)."""
        with self._lock:
            if self._process is not None and self._process.poll() is None:
                return
            self._process = subprocess.Popen(
                [shutil.which("socat") or "socat", self.listen, self.connect],
                env=self._env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )

    def close(self) -> None:
        """Stop the ``socat`` (and the connections it forked)."""
        with self._lock:
            process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            for child in _children(process.pid):
                os.kill(child, signal.SIGTERM)
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def port_door(port: int, app_socket: Path, mark: str | None = None) -> Forward:
    """127.0.0.1:``port`` outside, to the app's door: for browsers (redirects) and tools."""
    listen = f"TCP-LISTEN:{port},bind=127.0.0.1,fork,reuseaddr"
    return Forward(listen, f"UNIX-CONNECT:{app_socket}", mark)


def _children(pid: int) -> list[int]:
    try:
        return [c.pid for c in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:  # gone already
        return []


class ApiDoor:
    """The one ``socat`` outside the namespaces that carries apps' calls to the sandbox."""

    def __init__(self, socket_path: Path, mark: str | None = None, mode: str = "600") -> None:
        """``mode``: the socket's; ``666`` when jails run as another user (its folder is still
        the sandbox's alone: a jail reaches the socket only through its own bind)."""
        self.socket_path = socket_path
        self._mark = mark
        self._mode = mode
        self._forward: Forward | None = None
        self._target: tuple[str, int] | None = None
        self._lock = threading.Lock()

    def ensure(self, host: str, port: int) -> None:
        """Listen on the socket, forwarding to ``host:port`` (restarted if the target moved)."""
        with self._lock:
            if self._forward is not None and self._target != (host, port):
                self._forward.close()
                self._forward = None
            if self._forward is None:
                listen = f"UNIX-LISTEN:{self.socket_path},fork,mode={self._mode},unlink-early"
                self._forward = Forward(listen, f"TCP:{host}:{port}", self._mark)
                self._target = (host, port)
            self._forward.start()
        deadline = time.monotonic() + 5.0  # a jail binds the socket: it must exist first
        while not self.socket_path.exists() and time.monotonic() < deadline:
            time.sleep(0.01)

    def close(self) -> None:
        """Stop the ``socat``."""
        with self._lock:
            if self._forward is not None:
                self._forward.close()
            self._forward = None


class _UnixConnection(http.client.HTTPConnection):
    """``http.client`` over a Unix socket."""

    def __init__(self, path: Path, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = str(path)

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def answers(app_socket: Path, timeout: float = 2.0) -> bool:
    """Whether the app answers HTTP (any status) on 8080 through its door, as a kube probe."""
    if not app_socket.exists():
        return False
    connection = _UnixConnection(app_socket, timeout)
    try:
        connection.request("GET", "/", headers={"User-Agent": PROBE_USER_AGENT})
        connection.getresponse().read(0)
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()
    return True


def page_status(
    app_socket: Path, path: str, headers: list[tuple[str, str]], timeout: float = 5.0
) -> int | None:
    """The HTTP status the app's page answers through its door (None: no answer)."""
    return status_of(_UnixConnection(app_socket, timeout), path, headers)


def status_of(
    connection: http.client.HTTPConnection, path: str, headers: list[tuple[str, str]]
) -> int | None:
    """The status ``GET path`` answers on ``connection``, which it closes (None: no answer)."""
    try:
        connection.request("GET", path, headers=dict(headers))
        response = connection.getresponse()
        response.read(0)
        return response.status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()


def listeners(pid: int) -> set[tuple[str, int]]:
    """(address as the kernel writes it, port) of the TCP sockets listening in the process's
    own network namespace (``/proc/<pid>/net/tcp``; psutil reads the caller's)."""
    found: set[tuple[str, int]] = set()
    for table in ("tcp", "tcp6"):
        try:
            rows = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) > 3 and fields[3] == "0A":  # TCP_LISTEN
                address, _, hex_port = fields[1].partition(":")
                found.add((address, int(hex_port, 16)))
    return found


def loopback_only(pid: int, port: int = APP_PORT) -> bool | None:
    """Whether the process's network listens on ``port`` on 127.0.0.1/::1 only (None: not at
    all, or unknown)."""
    addresses = {address for address, bound in listeners(pid) if bound == port}
    if not addresses:
        return None
    return addresses <= {"0100007F", "00000000000000000000000001000000"}


class Networks:
    """The network side of one sandbox's runs: own namespaces (with doors), or the PORT mode."""

    def __init__(
        self,
        pid_prefix: Sequence[str],
        force_port: bool = False,
        mark: str | None = None,
        jailed: bool = False,
    ) -> None:
        """``mark``: the runs' mark prefix of this sandbox, given to its ``socat`` doors too;
        ``jailed``: runs are jailed (bwrap makes their network: no ``unshare`` needed)."""
        if force_port:
            reason: str | None = "--isolation port asks for it"
        elif jailed:
            reason = None if requested_mode() != _PORT else unavailable_reason(pid_prefix)
        else:
            reason = unavailable_reason(pid_prefix)
        self.reason = reason  # why runs use the PORT mode; None: each has its own network
        self.mark = None if mark is None else f"{mark}doors/"
        self.jailed = jailed and reason is None
        self._folder = DoorFolder(mark or "") if reason is None else None
        mode = "666" if self.jailed and os.geteuid() == 0 else "600"
        self._api = (
            None if self._folder is None else ApiDoor(self._folder.api_socket, self.mark, mode)
        )

    @property
    def isolated(self) -> bool:
        """Whether each run gets a network namespace of its own."""
        return self._folder is not None

    def note(self) -> str:
        """One line for the start-up message and each build log."""
        if self.reason is None:
            return (
                f"Network: the application runs in a network of its own and listens on port "
                f"{APP_PORT} (PORT={APP_PORT}); the sandbox reaches it through a Unix socket."
            )
        return (
            f"Network: PORT mode ({self.reason}): the application listens on $PORT on 127.0.0.1 "
            "and shares the machine's network."
        )

    def doors(
        self, app_id: str, run_id: str, endpoint: str | None, python: str | None = None
    ) -> Doors | None:
        """The doors of a new run (None in the PORT mode); the door to the sandbox is opened.

        ``python`` runs a jailed run's relay (see :data:`JAIL_DOORS_SCRIPT`)."""
        if self._folder is None or self._api is None:
            return None
        target = _host_port(endpoint)
        if target is not None:
            self._api.ensure(*target)
        port = None if target is None else target[1]
        if self.jailed:
            return Doors.for_jail(self._folder, app_id, run_id, port, python or sys.executable)
        return Doors.for_run(self._folder, app_id, run_id, port)

    @property
    def api_socket(self) -> Path | None:
        """The sandbox's door (a jailed run sees it read-only), when runs have doors."""
        return None if self._folder is None else self._folder.api_socket

    def close(self) -> None:
        """Stop the door to the sandbox and remove the doors' folder."""
        if self._api is not None:
            self._api.close()
        if self._folder is not None:
            self._folder.close()


def _host_port(endpoint: str | None) -> tuple[str, int] | None:
    """(host, port) of ``DATAROBOT_ENDPOINT``, when it is a local HTTP address."""
    if not endpoint:
        return None
    parts = urlsplit(endpoint)
    if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "localhost"):
        return None
    return "127.0.0.1", parts.port or 80
