"""Build applications' Python environments with uv, as DataRobot builds their images.

An environment is a virtual environment keyed by (execution environment, Python, requirements
content): the execution environment's base packages first (installed from a lock of the base,
so every key shares the same base versions), then the version's ``requirements.txt`` on top,
as pip would install it over an image. Environments live in the sandbox's own data folder
(``<database>-envs/``) and are shared by every application that needs the same key; a second
build of a key runs no uv at all. Concurrent builds of one key happen once (a lock per key in
this process, a file lock across processes). Nothing is ever installed into the sandbox's own
environment: every uv call names the target interpreter.

Offline (``offline=True``, or when no package index answers), a key that is not built yet
falls back to checking the requirements against the sandbox's own installed packages, and the
build log says so.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import posixpath
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import requests
from packaging.utils import canonicalize_name

from dr_notebook.sandbox.runtime import dependencies, isolation
from dr_notebook.sandbox.runtime.environment import INHERITED_PREFIXES, MARKER
from dr_notebook.sandbox.runtime.jail import Bind, Jail, python_binds
from dr_notebook.sandbox.runtime.pipfile import (
    REQUIREMENTS,
    decode,
    logical_lines,
    read_requirements,
)
from dr_notebook.sandbox.runtime.requirements import check_requirements, describe

BUILD_SCRIPT = "build-app.sh"
READY = ".ready"  # written last: a folder without it is a build that did not finish
BASE_LOCK = "base.lock"
BUILD_TIMEOUT_S = 1800.0
INDEX_PROBE_TIMEOUT_S = 3.0
DEFAULT_INDEX = "https://pypi.org/simple/"
ERROR_LINES = 40

Log = Callable[[str], None]


class BaseEnvironment(Protocol):
    """What an execution environment gives every application: a Python and base packages."""

    @property
    def id(self) -> str: ...
    @property
    def python(self) -> str: ...  # an interpreter path on this machine
    @property
    def python_version(self) -> str: ...  # "3.11"
    @property
    def packages(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class Built:
    """A ready environment: run the application with ``bin`` first on ``PATH``."""

    key: str
    python: Path
    bin: Path
    prefix: Path | None  # the venv (``VIRTUAL_ENV``); None when offline fell back
    reused: bool  # True: an earlier build of this key, nothing was run
    offline: bool = False


class BuildError(Exception):
    """A build that failed: uv's own message and, when known, the failing requirement line."""

    def __init__(self, message: str, line: str | None = None) -> None:
        self.message = message
        self.line = line
        super().__init__(f"{line}\n{message}" if line else message)


@dataclass
class Builder:
    """Builds and caches environments under ``root`` (``<database>-envs/``)."""

    root: Path
    offline: bool = False
    uv: str | None = None  # the uv executable; default: the ``uv`` package's binary
    index_url: str | None = None  # probed once to decide whether builds can download
    runs: int = 0  # uv invocations so far (a cached build adds none)
    jail: Jail | None = None  # where the app's requirements and build-app.sh run (see jail.py)
    timeout_s: float = BUILD_TIMEOUT_S  # for every process a build starts, together
    _locks: dict[str, threading.Lock] = field(default_factory=dict, repr=False)
    _guard: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _index_ok: bool | None = field(default=None, repr=False)
    _active: dict[Path, set[subprocess.Popen[bytes]]] = field(default_factory=dict, repr=False)
    _cancelled: set[Path] = field(default_factory=set, repr=False)
    _background: set[subprocess.Popen[bytes]] = field(default_factory=set, repr=False)
    _to_compile: list[Path] = field(default_factory=list, repr=False)
    _compiler: threading.Thread | None = field(default=None, repr=False)
    _closed: bool = field(default=False, repr=False)

    # -- public ------------------------------------------------------------------------------
    def key(self, base: BaseEnvironment, files: Mapping[str, bytes]) -> str:
        """The cache key of an application's environment (hex digest)."""
        digest = hashlib.sha256()
        parts = [base.id, base.python_version, *base.packages]
        digest.update(json.dumps(parts).encode())
        for part in dependencies.key_inputs(files):  # uv.lock / pyproject.toml, when used
            digest.update(part + b"\0")
        if REQUIREMENTS in files:
            parsed = read_requirements(files)
            for name in parsed.files:
                digest.update(name.encode() + b"\0" + files[name] + b"\0")
            if parsed.local_paths:  # a requirement points into the app: its files count too
                for name in sorted(files):
                    digest.update(name.encode() + b"\0" + files[name] + b"\0")
        return digest.hexdigest()[:32]

    def build(
        self,
        base: BaseEnvironment,
        files: Mapping[str, bytes],
        folder: Path,
        log: Log,
        mark: str | None = None,
        variables: Mapping[str, str] | None = None,
    ) -> Built:
        """The application's environment, built (or reused), then ``build-app.sh`` in ``folder``.

        ``folder`` holds the version's files already written; ``mark`` goes into the build's
        processes' environment (the start-up sweep finds them); ``variables`` are what
        ``build-app.sh`` is given besides (``BASE_PATH`` ...). Raises :class:`BuildError`.
        """
        problem = dependencies.python_problem(
            files,
            getattr(base, "name", base.id),
            base.python_version,
            getattr(base, "missing", None),
        )
        if problem:
            raise BuildError(problem)
        outside = outside_lines(files)
        if outside:
            raise BuildError(
                "A requirement points outside the application: the sandbox installs only from "
                "the package index and the application's own files.\n" + "\n".join(outside)
            )
        key = self.key(base, files)
        target = self.root / key
        if self._ready(target):
            built = self._reuse(key, target, log, files)
        elif self._is_offline(log):
            return self._offline(key, files, log)
        else:
            built = self._build_once(key, base, files, folder, target, log, mark)
        self._build_script(built, folder, log, mark, variables or {})
        return built

    def close(self) -> None:
        """End what the builder still runs in the background (byte-compiling)."""
        with self._guard:
            self._closed = True
            self._to_compile.clear()
            background, self._background = list(self._background), set()
        for process in background:
            _kill_group(process)
            process.wait()

    def _compile_later(self, target: Path) -> None:
        """Byte-compile a new environment in the background, one environment at a time, at the
        lowest priority: read-only in every jail, it could never keep the ``.pyc`` files its
        applications' imports make, and compiling during the build would make the first launch
        wait (20 s for the base). One at a time: sixteen environments built at once (the demo
        catalogue) compiled side by side took a core from the builds and launches."""
        with self._guard:
            if self._closed:
                return
            self._to_compile.append(target)
            if self._compiler is not None and self._compiler.is_alive():
                return
            self._compiler = threading.Thread(target=self._compile_queued, daemon=True)
            self._compiler.start()

    def _compile_queued(self) -> None:
        while True:
            with self._guard:
                if self._closed or not self._to_compile:
                    self._compiler = None
                    return
                target = self._to_compile.pop(0)
                argv = ["nice", "-n", "19", str(target / "bin" / "python"), "-m", "compileall",
                        "-q", str(target / "lib")]  # fmt: skip
                try:
                    process = subprocess.Popen(
                        argv,
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                        start_new_session=True,
                    )
                except OSError:
                    continue
                self._background.add(process)
            process.wait()
            with self._guard:
                self._background.discard(process)

    def cancel(self, folder: Path) -> None:
        """End every process of the build in ``folder`` now, and any it would start."""
        with self._guard:
            self._cancelled.add(folder)
            processes = list(self._active.get(folder, ()))
        for process in processes:
            _kill_group(process)

    # -- one key ---------------------------------------------------------------------------
    def _build_once(
        self,
        key: str,
        base: BaseEnvironment,
        files: Mapping[str, bytes],
        folder: Path,
        target: Path,
        log: Log,
        mark: str | None,
    ) -> Built:
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        if lock.locked():
            log(f"Another application is building environment {key}: waiting for it.")
        with lock, self._file_lock(key, log):
            if self._ready(target):
                return self._reuse(key, target, log, files)
            started = time.monotonic()
            shutil.rmtree(target, ignore_errors=True)
            try:
                self._create(base, files, folder, target, log, mark)
            except BaseException:
                shutil.rmtree(target, ignore_errors=True)
                raise
            (target / READY).write_text(key)
            log(f"Built environment {key} in {time.monotonic() - started:.1f} s.")
            if self.jail is not None:
                self._compile_later(target)
        return self._built(key, target, reused=False)

    def _create(
        self,
        base: BaseEnvironment,
        files: Mapping[str, bytes],
        folder: Path,
        target: Path,
        log: Log,
        mark: str | None,
    ) -> None:
        log(f"Building environment {target.name}: Python {base.python_version} ({base.python}).")
        self._uv(["venv", "--quiet", "--python", base.python, str(target)], log, folder)
        python = str(target / "bin" / "python")
        if base.packages:  # the sandbox's own pins, from uv's cache
            lock = self._base_lock(base, log, folder)
            log(f"Installing the base packages of {base.id}: {', '.join(base.packages)}")
            args = ["pip", "install", *self._link_mode(), "--python", python, "-r", str(lock)]
            self._uv(args, log, folder)
        chosen = dependencies.plan(files)
        log(chosen.describe())
        # The app's own dependencies never as links into uv's cache: an unjailed build could
        # write through one into every environment.
        for args, extra in dependencies.install_commands(chosen, folder, Path(python)):
            extra = {**extra, "UV_LINK_MODE": "copy"}
            try:
                if self.jail is None:
                    self._uv(args, log, folder, extra)
                else:
                    self._jailed_uv(args, target, folder, log, mark, extra)
            except BuildError as exc:
                if chosen.kind != "requirements":
                    raise
                raise BuildError(exc.message, _failing_line(exc.message, files)) from None

    def _link_mode(self) -> list[str]:
        """Hard links into uv's cache are safe where the jail runs as another user: the cache's
        files stay the sandbox's, read-only to the jail (see :meth:`Jail.own`). Elsewhere a
        jail (or an unjailed build) could write through a link into every environment."""
        if self.jail is not None and self.jail.uid is not None:
            return []
        return ["--link-mode=copy"]

    def _jailed_uv(
        self,
        args: list[str],
        target: Path,
        folder: Path,
        log: Log,
        mark: str | None,
        extra: Mapping[str, str] | None = None,
    ) -> None:
        """uv in the app's jail: only this key's environment writable, a cache of its own."""
        assert self.jail is not None
        cache = target.with_name(f".{target.name}.uv-cache")
        shutil.rmtree(cache, ignore_errors=True)
        cache.mkdir(mode=0o700)
        uv = Path(self._uv_bin()).resolve()
        binds = [Bind(folder, writable=True), Bind(target, writable=True), Bind(cache, True),
                 Bind(uv), *python_binds(target / "bin" / "python")[1:]]  # fmt: skip
        self.jail.own(target, files=False)
        self.jail.own(cache)
        env = _allowed_env(mark)
        env.update(NO_COLOR="1", UV_NO_PROGRESS="1", UV_PYTHON_DOWNLOADS="never",
                   UV_CACHE_DIR=str(cache), **(extra or {}))  # fmt: skip
        self.runs += 1
        try:
            argv = self.jail.argv([str(uv), *args], binds, folder, build=True)
            code, lines = self._stream(argv, log, folder, env=env)
        finally:
            self.jail.disown(target)
            shutil.rmtree(cache, ignore_errors=True)
        if code != 0:
            raise BuildError(_uv_message(lines) or f"uv exited with code {code}")

    def _base_lock(self, base: BaseEnvironment, log: Log, folder: Path) -> Path:
        """Pinned versions of the base packages, resolved once per base and Python."""
        digest = hashlib.sha256(json.dumps([base.id, base.python_version, *base.packages]).encode())
        lock = self.root / "bases" / f"{digest.hexdigest()[:16]}.lock"
        if lock.exists():
            return lock
        lock.parent.mkdir(parents=True, exist_ok=True)
        wanted = lock.with_suffix(".in")
        wanted.write_text("\n".join(base.packages) + "\n")
        log(f"Resolving the base packages of {base.id} once (later builds reuse the pins).")
        partial = lock.with_suffix(f".{os.getpid()}.{threading.get_ident()}")
        self._uv(
            ["pip", "compile", "--quiet", "--python", base.python, "--python-version",
             base.python_version, "-o", str(partial), str(wanted)],
            log,
            folder,
        )  # fmt: skip
        partial.replace(lock)
        return lock

    def _build_script(
        self,
        built: Built,
        folder: Path,
        log: Log,
        mark: str | None,
        variables: Mapping[str, str],
    ) -> None:
        script = folder / BUILD_SCRIPT
        if not script.is_file():
            return
        log(f"Running {BUILD_SCRIPT}.")
        argv = ["bash", BUILD_SCRIPT]
        if self.jail is not None:
            argv = self.jail.argv(
                argv, [Bind(folder, writable=True), *python_binds(built.python)], folder, build=True
            )
        env = {**_env_of(built, mark), **variables}
        code, lines = self._stream(argv, log, folder, cwd=folder, env=env)
        if code != 0:
            tail = "\n".join(lines[-ERROR_LINES:])
            raise BuildError(f"{BUILD_SCRIPT} exited with code {code}.\n{tail}".strip())

    # -- offline ---------------------------------------------------------------------------
    def _is_offline(self, log: Log) -> bool:
        if self.offline:
            return True
        if self._index_ok is None:
            self._index_ok = _index_answers(self.index_url or _index_from_env())
            if not self._index_ok:
                log("No package index answers: building offline.")
        return not self._index_ok

    def _offline(self, key: str, files: Mapping[str, bytes], log: Log) -> Built:
        log(
            "Offline: nothing is installed; the requirements are checked against the packages "
            f"of the sandbox's own Python ({sys.executable})."
        )
        python = Path(sys.executable)
        if REQUIREMENTS in files:
            report = check_requirements(files=files)
            for line in describe(report):
                log(line)
            if not report.ok:
                raise BuildError(
                    "; ".join(describe(report)[:1] + report.unreadable[:3])
                    + " (offline: the sandbox cannot install them)"
                )
        else:
            log(f"No {REQUIREMENTS}: nothing to check.")
        return Built(key, python, python.parent, None, reused=False, offline=True)

    # -- helpers ---------------------------------------------------------------------------
    def _reuse(self, key: str, target: Path, log: Log, files: Mapping[str, bytes]) -> Built:
        # Which file decided it, as a fresh build says: the same log whoever built it first.
        log(f"Reusing environment {key} (built before): nothing to install.")
        log(dependencies.plan(files).describe())
        return self._built(key, target, reused=True)

    @staticmethod
    def _built(key: str, target: Path, reused: bool) -> Built:
        return Built(key, target / "bin" / "python", target / "bin", target, reused=reused)

    @staticmethod
    def _ready(target: Path) -> bool:
        return (target / READY).is_file()

    @contextlib.contextmanager
    def _file_lock(self, key: str, log: Log) -> Iterator[None]:
        """Across processes (two sandboxes on one data folder): one build of a key at a time."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self.root / f"{key}.lock", "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                log(f"Another process is building environment {key}: waiting for it.")
                fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _uv(
        self, args: Sequence[str], log: Log, folder: Path, extra: Mapping[str, str] | None = None
    ) -> None:
        self.runs += 1
        env = {**_uv_env(self.offline), **(extra or {})}
        code, lines = self._stream([self._uv_bin(), *args], log, folder, env=env)
        if code != 0:
            raise BuildError(_uv_message(lines) or f"uv exited with code {code}")

    def _uv_bin(self) -> str:
        if self.uv:
            return self.uv
        import uv

        return uv.find_uv_bin()

    def _stream(
        self,
        argv: Sequence[str],
        log: Log,
        folder: Path,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> tuple[int, list[str]]:
        """Run ``argv`` in a process group of its own, passing each output line to ``log`` as
        it comes; (code, lines). What it leaves behind ends when it exits; everything ends at
        the build's deadline or on :meth:`cancel`."""
        lines: list[str] = []
        with self._guard:
            if folder in self._cancelled:
                raise BuildError("The build was stopped.")
        process = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        with self._guard:
            self._active.setdefault(folder, set()).add(process)
        late = threading.Event()

        def expire() -> None:
            late.set()
            _kill_group(process)

        deadline = threading.Timer(self.timeout_s, expire)
        deadline.daemon = True
        deadline.start()
        reader = threading.Thread(target=_read_lines, args=(process, lines, log), daemon=True)
        reader.start()
        try:
            code = process.wait()
            _kill_group(process)  # a background child holding the output ends with the step
            reader.join(2.0)
            mark = (env or {}).get(MARKER)
            if reader.is_alive() and mark:  # unjailed, it left the group: found by its mark
                isolation.end(isolation.marked(mark), 0.5)
            reader.join()
        finally:
            deadline.cancel()
            with self._guard:
                self._active.get(folder, set()).discard(process)
        if folder in self._cancelled:
            raise BuildError("The build was stopped.")
        if late.is_set():
            raise BuildError(
                f"The build did not finish within {self.timeout_s:g} s: every process it "
                "started was ended."
            )
        return code, lines


def _read_lines(process: subprocess.Popen[bytes], lines: list[str], log: Log) -> None:
    assert process.stdout is not None
    with process.stdout:
        for raw in process.stdout:
            line = raw.decode("utf-8", errors="replace").rstrip()
            lines.append(line)
            log(line)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL ``process``'s group (a jail's processes end with it: a PID namespace of their
    own, ``--die-with-parent``)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def _uv_message(lines: list[str]) -> str:
    """uv's error: from its first ``error:`` or ``×`` line to the end, bounded."""
    for index, line in enumerate(lines):
        if line.lstrip().startswith(("error:", "×", "x ")):
            return "\n".join(lines[index:][:ERROR_LINES]).strip()
    return "\n".join(lines[-ERROR_LINES:]).strip()


def _failing_line(message: str, files: Mapping[str, bytes]) -> str | None:
    """The requirements line naming a package that uv's message names: "<file> line 3: foo"."""
    words = {canonicalize_name(word) for word in re.split(r"[^\w.-]+", message) if word}
    for entry in read_requirements(files).entries:
        if entry.requirement is not None and canonicalize_name(entry.requirement.name) in words:
            return f"{entry.where}: {entry.text}"
    return None


# What a build's processes get of the sandbox's environment: where the package index is and
# the locale; never a token, a cloud key or an agent socket (DataRobot's builds have none).
BUILD_INHERITED = ("PATH", "LANG", "TZ", "TERM", "UV_INDEX_URL", "UV_EXTRA_INDEX_URL",
                   "UV_DEFAULT_INDEX", "UV_INDEX", "UV_FIND_LINKS", "PIP_INDEX_URL",
                   "PIP_EXTRA_INDEX_URL", "SSL_CERT_FILE", "SSL_CERT_DIR", "UV_NATIVE_TLS",
                   "HOME", "UV_CACHE_DIR")  # fmt: skip


def _allowed_env(mark: str | None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k in BUILD_INHERITED or k.startswith(INHERITED_PREFIXES)
    }
    env.setdefault("PATH", os.defpath)
    if mark is not None:
        env[MARKER] = mark
    return env


def _uv_env(offline: bool) -> dict[str, str]:
    """uv run by the sandbox itself (the venv, the base packages): no app code runs there."""
    env = _allowed_env(None)
    env.update(NO_COLOR="1", UV_NO_PROGRESS="1", UV_PYTHON_DOWNLOADS="never")
    if offline:
        env["UV_OFFLINE"] = "1"
    return env


def _env_of(built: Built, mark: str | None) -> dict[str, str]:
    """The environment ``build-app.sh`` sees: the built venv first on ``PATH``, no token."""
    env = _allowed_env(mark)
    env.pop("UV_CACHE_DIR", None)
    env["PATH"] = os.pathsep.join([str(built.bin), env["PATH"]])
    if built.prefix is not None:
        env["VIRTUAL_ENV"] = str(built.prefix)
    return env


def _index_from_env() -> str:
    return os.environ.get("UV_INDEX_URL") or os.environ.get("PIP_INDEX_URL") or DEFAULT_INDEX


def _index_answers(url: str) -> bool:
    """Whether the package index answers at all (any HTTP status counts as an answer)."""
    try:
        requests.head(url.rstrip("/") + "/pip/", timeout=INDEX_PROBE_TIMEOUT_S)
    except (requests.RequestException, ValueError):
        return False
    return True


_OUTSIDE_FLAGS = ("-r", "--requirement", "-c", "--constraint", "-e", "--editable", "-f",
                  "--find-links", "-i", "--index-url", "--extra-index-url", "--index")  # fmt: skip


def outside_lines(files: Mapping[str, bytes]) -> list[str]:
    """The requirement lines that name a file outside the application (``-r /etc/x``,
    ``-c ../x``, ``/abs/pkg``, ``file:`` URLs, ``~``): "<file> line 3: <line>"."""
    if REQUIREMENTS not in files:
        return []
    found: list[str] = []
    for name in read_requirements(files).files:
        for number, line in logical_lines(decode(files[name])):
            with contextlib.suppress(ValueError):
                if any(_outside(name, value) for value in _locations(shlex.split(line))):
                    found.append(f"{name} line {number}: {line[:200]}")
    for error in read_requirements(files).errors:
        if "outside the application" in error and error not in found:
            found.append(error)
    return found


def _locations(tokens: list[str]) -> list[str]:
    """The values of a line that may name files: flags' values and the requirement itself."""
    values: list[str] = []
    for index, token in enumerate(tokens):
        flag, equals, value = token.partition("=")
        if flag in _OUTSIDE_FLAGS and equals:
            values.append(value)
        elif token in _OUTSIDE_FLAGS and index + 1 < len(tokens):
            values.append(tokens[index + 1])
        elif token[:2] in ("-r", "-c", "-e", "-f", "-i") and len(token) > 2 and token[1] != "-":
            values.append(token[2:])
        elif not token.startswith("-"):
            values.append(token)
    return values


def _outside(parent: str, value: str) -> bool:
    lowered = value.lower()
    if "file:" in lowered or value.startswith(("/", "~")):
        return True
    if "://" in value or not value.startswith("."):
        return False
    path = posixpath.normpath(posixpath.join(posixpath.dirname(parent), value))
    return path == ".." or path.startswith("../")
