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
import re
import shutil
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

from dr_notebook.sandbox.runtime import dependencies
from dr_notebook.sandbox.runtime.pipfile import REQUIREMENTS, read_requirements
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
    _locks: dict[str, threading.Lock] = field(default_factory=dict, repr=False)
    _guard: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _index_ok: bool | None = field(default=None, repr=False)

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
        variables: Mapping[str, str] | None = None,
    ) -> Built:
        """The application's environment, built (or reused), then ``build-app.sh`` in ``folder``.

        ``folder`` holds the version's files already written; ``variables`` are what
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
        key = self.key(base, files)
        target = self.root / key
        if self._ready(target):
            built = self._reuse(key, target, log)
        elif self._is_offline(log):
            return self._offline(key, files, log)
        else:
            built = self._build_once(key, base, files, folder, target, log)
        self._build_script(built, folder, log, variables or {})
        return built

    # -- one key ---------------------------------------------------------------------------
    def _build_once(
        self,
        key: str,
        base: BaseEnvironment,
        files: Mapping[str, bytes],
        folder: Path,
        target: Path,
        log: Log,
    ) -> Built:
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        if lock.locked():
            log(f"Another application is building environment {key}: waiting for it.")
        with lock, self._file_lock(key, log):
            if self._ready(target):
                return self._reuse(key, target, log)
            started = time.monotonic()
            shutil.rmtree(target, ignore_errors=True)
            try:
                self._create(base, files, folder, target, log)
            except BaseException:
                shutil.rmtree(target, ignore_errors=True)
                raise
            (target / READY).write_text(key)
            log(f"Built environment {key} in {time.monotonic() - started:.1f} s.")
        return self._built(key, target, reused=False)

    def _create(
        self,
        base: BaseEnvironment,
        files: Mapping[str, bytes],
        folder: Path,
        target: Path,
        log: Log,
    ) -> None:
        log(f"Building environment {target.name}: Python {base.python_version} ({base.python}).")
        self._uv(["venv", "--quiet", "--python", base.python, str(target)], log)
        python = str(target / "bin" / "python")
        if base.packages:
            lock = self._base_lock(base, log)
            log(f"Installing the base packages of {base.id}: {', '.join(base.packages)}")
            self._uv(["pip", "install", "--python", python, "-r", str(lock)], log)
        chosen = dependencies.plan(files)
        log(chosen.describe())
        if chosen.kind in ("lock", "pyproject"):
            for args, extra in dependencies.install_commands(chosen, folder, Path(python)):
                self._uv(args, log, extra)
        elif REQUIREMENTS in files:
            requirements = str(folder / REQUIREMENTS)
            try:
                self._uv(["pip", "install", "--python", python, "-r", requirements], log)
            except BuildError as exc:
                raise BuildError(exc.message, _failing_line(exc.message, files)) from None

    def _base_lock(self, base: BaseEnvironment, log: Log) -> Path:
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
        )  # fmt: skip
        partial.replace(lock)
        return lock

    def _build_script(
        self, built: Built, folder: Path, log: Log, variables: Mapping[str, str]
    ) -> None:
        script = folder / BUILD_SCRIPT
        if not script.is_file():
            return
        log(f"Running {BUILD_SCRIPT}.")
        code, lines = self._stream(
            ["bash", BUILD_SCRIPT], log, cwd=folder, env={**_env_of(built), **variables}
        )
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
    def _reuse(self, key: str, target: Path, log: Log) -> Built:
        log(f"Reusing environment {key} (built before): nothing to install.")
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

    def _uv(self, args: Sequence[str], log: Log, extra: Mapping[str, str] | None = None) -> None:
        self.runs += 1
        env = {**_uv_env(self.offline), **(extra or {})}
        code, lines = self._stream([self._uv_bin(), *args], log, env=env)
        if code != 0:
            raise BuildError(_uv_message(lines) or f"uv exited with code {code}")

    def _uv_bin(self) -> str:
        if self.uv:
            return self.uv
        import uv

        return uv.find_uv_bin()

    @staticmethod
    def _stream(
        argv: Sequence[str], log: Log, cwd: Path | None = None, env: dict[str, str] | None = None
    ) -> tuple[int, list[str]]:
        """Run ``argv``, passing each output line to ``log`` as it comes; (code, lines)."""
        lines: list[str] = []
        with subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        ) as process:
            assert process.stdout is not None
            for raw in process.stdout:
                line = raw.decode("utf-8", errors="replace").rstrip()
                lines.append(line)
                log(line)
            try:
                code = process.wait(timeout=BUILD_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                code = process.wait()
        return code, lines


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


def _uv_env(offline: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "CONDA_PREFIX")}
    env.update(NO_COLOR="1", UV_NO_PROGRESS="1", UV_PYTHON_DOWNLOADS="never")
    if offline:
        env["UV_OFFLINE"] = "1"
    return env


def _env_of(built: Built) -> dict[str, str]:
    """The environment ``build-app.sh`` sees: the built venv first on ``PATH``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATAROBOT_", "VIRTUAL_ENV"))}
    env["PATH"] = os.pathsep.join([str(built.bin), env.get("PATH", "")])
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
