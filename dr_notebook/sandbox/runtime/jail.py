"""The one jail for everything an application runs: uv's install, ``build-app.sh``, the app.

A jailed process runs under bubblewrap (``bwrap``) with user, mount, PID, IPC and UTS
namespaces of its own, and a network of its own: none but its loopback for a run (the doors of
:mod:`network` cross it), or pasta's (``passt``) for a build, which reaches package indexes
but not the machine's loopback. Its file system is a fresh root with the system folders
(``/usr``, the ``/lib`` links, a few files of ``/etc``) read-only, the binds it is given (its
own folder read-write, its environment and Python read-only) and a private ``/tmp``; nothing
else of the machine (no database, no other application, no home folder, no other doors).

When the sandbox runs as root, the jail is entered as an unprivileged user (``setpriv``,
uid :data:`DEFAULT_UID` unless ``DR_NOTEBOOK_JAIL_UID`` says otherwise): root inside its user
namespace, nobody outside, no capabilities on the machine. That user cannot reach the binds'
sources through the sandbox's private folders, so a short root step first binds each source
into a staging tmpfs, in a mount namespace of its own (``unshare --mount``), from which bwrap
takes them. As an unprivileged sandbox the jail maps the sandbox's own user to root inside.

Where bwrap or user namespaces are missing (or ``DR_NOTEBOOK_JAIL=off``), :func:`find` says
why and the runtime falls back to :mod:`isolation`'s PID namespace.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

JAIL_ENV = "DR_NOTEBOOK_JAIL"  # "off": no jail (the PID-namespace fallback)
UID_ENV = "DR_NOTEBOOK_JAIL_UID"
DEFAULT_UID = 65534  # nobody
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_FILES = (
    "alternatives", "ca-certificates", "ca-certificates.conf", "debian_version", "fonts",
    "gai.conf", "group", "host.conf", "hostname", "hosts", "ld.so.cache", "ld.so.conf",
    "ld.so.conf.d", "localtime", "mime.types", "nsswitch.conf", "os-release", "passwd", "pki",
    "protocols", "resolv.conf", "services", "ssl",
)  # fmt: skip
# Root's step, in a mount namespace of its own: each source bound into a fresh tmpfs that the
# unprivileged user may traverse. Arguments: the staging folder, then (name, source) pairs, "--".
STAGE_SCRIPT = """set -e
stage=$1; shift
mount -t tmpfs -o mode=755,size=64k drn-stage "$stage"
while [ "$1" != "--" ]; do
  if [ -d "$2" ]; then mkdir "$stage/$1"; else : > "$stage/$1"; fi
  mount --bind "$2" "$stage/$1"
  shift 2
done
shift
exec "$@"
"""


@dataclass(frozen=True)
class Bind:
    """A folder or file of the machine, seen at the same path (or ``dest``) inside the jail."""

    source: Path
    writable: bool = False
    dest: Path | None = None


@dataclass(frozen=True)
class Jail:
    """How this machine jails a build or a run (see :func:`find`)."""

    bwrap: str
    uid: int | None  # the uid entered as when the sandbox is root; None: the sandbox's own
    pasta: str | None  # a build's network; None: builds share the machine's network
    stage: Path | None  # root's staging mount point (when ``uid`` is set)

    def argv(
        self,
        command: Sequence[str],
        binds: Sequence[Bind],
        chdir: Path,
        *,
        build: bool = False,
        own_network: bool = True,
    ) -> list[str]:
        """``command`` jailed, seeing only the system folders, ``binds`` and a private /tmp.

        A run (``build=False``) has a network of its own and ``command`` is process 1 of its
        PID namespace (it forwards signals: :data:`isolation.INIT_SCRIPT`). A build has pasta's
        network and bwrap's own process 1, so whatever the build leaves behind ends with it,
        and with the sandbox (``--die-with-parent``). ``own_network`` False: a run shares the
        machine's network (the ``PORT`` mode).
        """
        staged: list[str] = []
        inside: list[str] = []
        for index, bind in enumerate(binds):
            source = str(bind.source)
            if self.uid is not None and self.stage is not None:
                staged += [f"b{index}", source]
                source = str(self.stage / f"b{index}")
            flag = "--bind" if bind.writable else "--ro-bind"
            inside += [flag, source, str(bind.dest or bind.source)]
        namespaces = self._namespaces(not build and own_network)
        bwrap = [self.bwrap, *namespaces, *_system(), "--proc", "/proc",
                 "--dev", "/dev", "--tmpfs", "/tmp", *inside, "--chdir", str(chdir),
                 "--setenv", "HOME", "/tmp", "--setenv", "TMPDIR", "/tmp"]  # fmt: skip
        if build:
            bwrap.append("--die-with-parent")
            if self.pasta is not None:
                bwrap = [*_pasta(self.pasta), *bwrap]
        else:
            bwrap.append("--as-pid-1")
        argv = [*bwrap, "--", *command]
        if self.uid is None or self.stage is None:
            return argv
        drop = ["setpriv", f"--reuid={self.uid}", f"--regid={self.uid}", "--clear-groups",
                "--inh-caps=-all", "--bounding-set=-all", "--"]  # fmt: skip
        return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", STAGE_SCRIPT,
                "drn-stage", str(self.stage), *staged, "--", *drop, *argv]  # fmt: skip

    @staticmethod
    def _namespaces(own_network: bool) -> list[str]:
        flags = ["--unshare-user", "--uid", "0", "--gid", "0", "--unshare-pid", "--unshare-ipc",
                 "--unshare-uts", "--unshare-cgroup-try", "--hostname", "app"]  # fmt: skip
        if own_network:
            flags.append("--unshare-net")
        return flags

    def own(self, path: Path, files: bool = True) -> None:
        """Give ``path`` (and what it holds) to the jail's user, so that the jail may write it.

        ``files`` False gives only the folders: the jail may add, replace and remove files but
        never write into one of the sandbox's (a hard link into uv's cache stays read-only)."""
        if self.uid is not None:
            _chown_tree(path, self.uid, files=files)

    def disown(self, path: Path) -> None:
        """Take ``path`` back from the jail's user (the sandbox's again: read-only to jails)."""
        if self.uid is not None:
            _chown_tree(path, os.getuid(), os.getgid())

    def note(self) -> str:
        """One line for build logs."""
        who = f"uid {self.uid} outside" if self.uid is not None else "the sandbox's user outside"
        network = "pasta's network (no loopback of the machine)" if self.pasta else "its network"
        return (
            f"Jail: bubblewrap (root inside, {who}); builds use {network}; the application sees "
            "only its folder, its environment (read-only) and the system's folders."
        )


def _chown_tree(path: Path, uid: int, gid: int | None = None, files: bool = True) -> None:
    gid = uid if gid is None else gid
    with contextlib.suppress(FileNotFoundError):
        os.chown(path, uid, gid, follow_symlinks=False)
    for folder, dirs, names in os.walk(path):
        for name in (*dirs, *(names if files else ())):
            with contextlib.suppress(FileNotFoundError):
                os.chown(os.path.join(folder, name), uid, gid, follow_symlinks=False)


def _system() -> list[str]:
    """The system's folders (read-only; the /lib links as links) and a few files of /etc."""
    flags: list[str] = []
    for name in SYSTEM_DIRS:
        path = Path(name)
        if path.is_symlink():
            flags += ["--symlink", os.readlink(path), name]
        elif path.is_dir():
            flags += ["--ro-bind", name, name]
    for name in ETC_FILES:
        flags += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    return flags


def _pasta(pasta: str) -> list[str]:
    """A network of its own that reaches the internet only: no port forwarded either way, and
    the gateway not mapped to the machine (so the machine's loopback is out of reach)."""
    return [pasta, "--config-net", "--no-map-gw", "--quiet", "-t", "none", "-u", "none",
            "-T", "none", "-U", "none", "--"]  # fmt: skip


def python_binds(python: Path) -> list[Bind]:
    """What a Python needs inside a jail (read-only): its virtual environment, if it is one,
    and the installation it was made from."""
    binds: list[Bind] = []
    prefix = python.parent.parent
    config = prefix / "pyvenv.cfg"
    if config.is_file():
        binds.append(Bind(prefix))
        for line in config.read_text(errors="replace").splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "home" and value.strip():
                binds.append(Bind(Path(value.strip()).resolve().parent))
    real = python.resolve()
    binds.append(Bind(real.parent.parent))
    unique: dict[Path, Bind] = {}
    for bind in binds:
        if not _is_system(bind.source):
            unique.setdefault(bind.source, bind)
    return list(unique.values())


def _is_system(path: Path) -> bool:
    return any(str(path) == d or str(path).startswith(d + "/") for d in SYSTEM_DIRS)


def requested() -> bool:
    """Whether ``DR_NOTEBOOK_JAIL`` leaves the jail on (anything but ``off``/``0``/``no``)."""
    return os.environ.get(JAIL_ENV, "").strip().lower() not in ("off", "0", "no", "false")


@functools.lru_cache(maxsize=1)
def find() -> tuple[Jail | None, str | None]:
    """(the jail this machine gives, None) or (None, why there is none)."""
    if not requested():
        return None, f"{JAIL_ENV}=off asks for none"
    if not sys.platform.startswith("linux"):
        return None, "bubblewrap needs Linux"
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return None, "bubblewrap is not installed (apt-get install bubblewrap)"
    root = os.geteuid() == 0
    if root and not (shutil.which("setpriv") and shutil.which("unshare")):
        return None, "util-linux setpriv/unshare are missing"
    uid = int(os.environ.get(UID_ENV, DEFAULT_UID)) if root else None
    stage = _stage_folder() if root else None
    jail = Jail(bwrap, uid, shutil.which("pasta"), stage)
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        probe = subprocess.run(
            jail.argv(["true"], [], Path("/")),
            capture_output=True,
            timeout=20,
            stdin=subprocess.DEVNULL,
        )
        if probe.returncode == 0:
            return jail, None
        reason = probe.stderr.decode(errors="replace").strip().splitlines()[-1:]
        return None, f"bubblewrap cannot make namespaces here ({' '.join(reason)[:200]})"
    return None, "bubblewrap did not answer"


def _stage_folder() -> Path:
    """An empty folder of root's to mount the staging tmpfs on (only inside a jail's mount
    namespace: the machine never sees that mount)."""
    path = Path(tempfile.gettempdir()) / "drn-jail-stage"
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o755)
    info = path.lstat()
    if not path.is_dir() or path.is_symlink() or info.st_uid != 0 or info.st_mode & 0o022:
        return Path(tempfile.mkdtemp(prefix="drn-jail-stage-"))
    return path
