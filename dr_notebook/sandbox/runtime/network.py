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

The doors live in a private folder under the temporary directory (``mkdtemp``, 0700): a Unix
socket path may not exceed 107 bytes, which a run folder beside a database often does.
Where namespaces or ``socat`` are missing, or ``DR_NOTEBOOK_ISOLATION=port`` (``--isolation
port``) forces it, runs fall back to the ``PORT`` mode: a free port on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

APP_PORT = 8080
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
    """The private folder of one sandbox's doors (removed on :meth:`close`)."""

    def __init__(self) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="drn-"))  # 0700, a random name

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


@dataclass(frozen=True)
class Doors:
    """A run's doors: argv to put before the app's, and the socket the sandbox connects to."""

    app_socket: Path
    prefix: tuple[str, ...]  # `--net` and the doors script, to follow the PID namespace prefix

    @classmethod
    def for_run(cls, folder: DoorFolder, app_id: str, run_id: str, api_port: int | None) -> Doors:
        """The doors of one run; ``api_port`` is the sandbox's port (None: no door to it)."""
        app_socket = folder.app_socket(app_id, run_id)
        socat = shutil.which("socat") or "socat"
        prefix = (
            "--net", "sh", "-c", DOORS_SCRIPT, "dr-notebook-doors", sys.executable, socat,
            str(app_socket), "" if api_port is None else str(api_port), str(folder.api_socket),
        )  # fmt: skip
        return cls(app_socket, prefix)

    @staticmethod
    def environment() -> dict[str, str]:
        """What the doors script needs in the run's environment (it removes it for the app)."""
        return {"DR_NOTEBOOK_LO_UP": LO_UP}


class ApiDoor:
    """The one ``socat`` outside the namespaces that carries apps' calls to the sandbox."""

    def __init__(self, socket_path: Path) -> None:
        self.socket_path = socket_path
        self._process: subprocess.Popen[bytes] | None = None
        self._target: tuple[str, int] | None = None
        self._lock = threading.Lock()

    def ensure(self, host: str, port: int) -> None:
        """Listen on the socket, forwarding to ``host:port`` (restarted if the target moved)."""
        with self._lock:
            alive = self._process is not None and self._process.poll() is None
            if alive and self._target == (host, port):
                return
            self._stop_locked()
            self._process = subprocess.Popen(
                [
                    shutil.which("socat") or "socat",
                    f"UNIX-LISTEN:{self.socket_path},fork,mode=600,unlink-early",
                    f"TCP:{host}:{port}",
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            self._target = (host, port)

    def close(self) -> None:
        """Stop the ``socat``."""
        with self._lock:
            self._stop_locked()

    def _stop_locked(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None


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


def loopback_only(pid: int, port: int = APP_PORT) -> bool | None:
    """Whether the process's network listens on ``port`` on 127.0.0.1/::1 only (None: unknown).

    Reads the kernel's table of the process's own network namespace (``/proc/<pid>/net/tcp``).
    """
    listening: set[str] = set()
    for table in ("tcp", "tcp6"):
        try:
            rows = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) > 3 and fields[3] == "0A":  # TCP_LISTEN
                address, _, hex_port = fields[1].partition(":")
                if int(hex_port, 16) == port:
                    listening.add(address)
    if not listening:
        return None
    loopback = {"0100007F", "00000000000000000000000001000000"}
    return listening <= loopback
