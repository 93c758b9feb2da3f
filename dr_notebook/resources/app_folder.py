"""An application folder checked before it is uploaded: what would fail only after a build.

:func:`check_app_folder` reads the files an upload takes (``packing.folder_files`` less what
``.dr_apps_ignore`` lists, as drapps reads it) and returns :class:`Finding` s:

errors (an upload refuses the folder): no ``start-app.sh``; CRLF line ends or no ``#!`` line
in it; a requirements line pip cannot parse, or one that points outside the folder;
a ``metadata.yaml`` that is not YAML or not DataRobot's runtime-parameter schema; more files
or bytes than an upload may hold.

warnings: a fixed port other than 8080, or a bind to localhost only, in ``start-app.sh``'s
commands for streamlit, gunicorn, uvicorn, ``flask run`` and ``python -m http.server``.

DataRobot documents no file-count or size limit for application sources; the limits are the
sandbox's own upload limits (``MAX_FILES``, ``MAX_FILE_BYTES``, ``MAX_TOTAL_BYTES``), which
``tests/test_app_folder.py`` proves agree with the sandbox's.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shlex
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import yaml
from packaging.requirements import InvalidRequirement, Requirement

from dr_notebook.errors import AppFolderError, InvalidArgumentError
from dr_notebook.resources.packing import MAX_FILES, folder_files, ignore_patterns, ignored
from dr_notebook.resources.parameters import METADATA_FILE, parse_metadata

__all__ = [
    "MAX_FILES",
    "MAX_FILE_BYTES",
    "MAX_TOTAL_BYTES",
    "START_SCRIPT",
    "Finding",
    "check_app_folder",
    "findings_text",
    "refuse_errors",
]

START_SCRIPT = "start-app.sh"
REQUIREMENTS = "requirements.txt"
MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_TOTAL_BYTES = 64 * 1024 * 1024
PORT = 8080
PARAMETER_TYPES = ("string", "boolean", "numeric", "credential", "deployment")
_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
# pip options that take a value, and whether the value is a local path (checked for escapes)
_PATH_OPTIONS = (
    "-r",
    "--requirement",
    "-c",
    "--constraint",
    "-e",
    "--editable",
    "-f",
    "--find-links",
)
_OTHER_OPTIONS = (
    "-i",
    "--index-url",
    "--extra-index-url",
    "--trusted-host",
    "--no-binary",
    "--only-binary",
)
_VALUE_OPTIONS: dict[str, bool] = {
    **{name: True for name in _PATH_OPTIONS},
    **{name: False for name in _OTHER_OPTIONS},
}
_FLAG_OPTIONS = ("--pre", "--no-index", "--prefer-binary", "--require-hashes", "--use-feature")


@dataclasses.dataclass(frozen=True)
class Finding:
    """One thing :func:`check_app_folder` found: ``level`` ``"error"`` (an upload refuses
    it) or ``"warning"``; ``path`` in the folder (``"."`` for the folder itself), ``line``
    (1-based, None when the finding is about the whole file) and ``message``."""

    level: Literal["error", "warning"]
    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{self.level}: {where}: {self.message}"


def check_app_folder(folder: str | os.PathLike[str]) -> list[Finding]:
    """What in ``folder`` would make an application fail to build or start on DataRobot (see
    the module's docstring); errors first, then warnings, each in file order.

    ``pandas.DataFrame(check_app_folder(folder))`` gives one row per finding.
    """
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise InvalidArgumentError(f"{str(folder)!r} is not a folder.")
    patterns = ignore_patterns(root)
    findings: list[Finding] = []
    files: dict[str, Path] = {}
    try:
        for path in folder_files(root):
            relative = path.relative_to(root).as_posix()
            if not ignored(relative, patterns):
                files[relative] = path
    except InvalidArgumentError:  # more than MAX_FILES before the ignore rules
        files = _all_files(root, patterns)
    findings += _sizes(files)
    findings += _start_script(files.get(START_SCRIPT))
    if REQUIREMENTS in files:
        findings += _requirements(root, REQUIREMENTS, files[REQUIREMENTS].read_bytes(), set())
    if METADATA_FILE in files:
        findings += _metadata(files[METADATA_FILE].read_bytes())
    return sorted(findings, key=lambda f: f.level != "error")


def refuse_errors(folder: str | os.PathLike[str], *, whole: bool = True) -> list[Finding]:
    """Check ``folder`` before an upload: raise :class:`~dr_notebook.errors.AppFolderError`
    naming every error (nothing is sent), else return the warnings. ``whole=False``: the
    folder goes on top of a base version that may hold ``start-app.sh``; its absence is no
    error then."""
    findings = check_app_folder(folder)
    if not whole:
        findings = [
            f
            for f in findings
            if not (f.path == START_SCRIPT and f.line is None and f.message.startswith("missing"))
        ]
    errors = [f for f in findings if f.level == "error"]
    if errors:
        named = "; ".join(f"{f.path}{f':{f.line}' if f.line else ''}: {f.message}" for f in errors)
        raise AppFolderError(
            f"{folder} was not uploaded: {len(errors)} error(s) would fail the application: "
            f"{named}. See drn.check_app_folder({str(folder)!r}).",
            findings=findings,
        )
    return findings


def findings_text(findings: list[Finding]) -> str:
    """The findings, one line each (``error: start-app.sh:1: ...``)."""
    return "\n".join(str(f) for f in findings)


def _all_files(root: Path, patterns: list[str]) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for base, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d not in (".git", "__pycache__", ".venv")]
        for name in names:
            path = Path(base, name)
            relative = path.relative_to(root).as_posix()
            if path.is_file() and not path.is_symlink() and not ignored(relative, patterns):
                files[relative] = path
    return files


def _sizes(files: dict[str, Path]) -> list[Finding]:
    found: list[Finding] = []
    if len(files) > MAX_FILES:
        found.append(
            Finding(
                "error",
                ".",
                None,
                f"{len(files)} files to upload; an upload "
                f"may hold at most {MAX_FILES} (list the rest in .dr_apps_ignore)",
            )
        )
    total = 0
    for relative, path in files.items():
        size = path.stat().st_size
        total += size
        if size > MAX_FILE_BYTES:
            found.append(
                Finding(
                    "error",
                    relative,
                    None,
                    f"{size} bytes; a file may have at "
                    f"most {MAX_FILE_BYTES} (list it in .dr_apps_ignore)",
                )
            )
    if total > MAX_TOTAL_BYTES:
        found.append(
            Finding(
                "error",
                ".",
                None,
                f"{total} bytes to upload; an upload may hold at most {MAX_TOTAL_BYTES}",
            )
        )
    return found


def _start_script(path: Path | None) -> list[Finding]:
    if path is None:
        return [
            Finding(
                "error",
                START_SCRIPT,
                None,
                "missing: DataRobot starts the application with this script",
            )
        ]
    data = path.read_bytes()
    found: list[Finding] = []
    if b"\r\n" in data:
        line = data[: data.index(b"\r\n")].count(b"\n") + 1
        found.append(
            Finding(
                "error",
                START_SCRIPT,
                line,
                "CRLF (Windows) line ends: the "
                "shell reads '\\r' as part of each command; save it with LF",
            )
        )
    if not data.startswith(b"#!"):
        found.append(
            Finding(
                "error",
                START_SCRIPT,
                1,
                "no shebang: the first line must be e.g. #!/usr/bin/env bash",
            )
        )
    text = data.decode("utf-8", errors="replace").replace("\r\n", "\n")
    found += _ports(text)
    return found


def _ports(text: str) -> list[Finding]:
    """Warnings for the usual servers' commands, one logical line (``\\`` joined) at a time."""
    found: list[Finding] = []
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        number, command = index + 1, lines[index]
        while command.rstrip().endswith("\\") and index + 1 < len(lines):
            index += 1
            command = command.rstrip()[:-1] + " " + lines[index]
        index += 1
        for message in _port_problems(command):
            found.append(Finding("warning", START_SCRIPT, number, message))
    return found


def _words(command: str) -> list[str]:
    try:
        words = shlex.split(command, comments=True)
    except ValueError:
        return []
    return [_default_of(w) for w in words]


def _default_of(word: str) -> str:
    """``${PORT:-8080}`` -> ``8080``; ``--port=${PORT:-8080}`` -> ``--port=8080``."""
    return re.sub(r"\$\{\w+:?-([^}]*)\}", r"\1", word)


def _option(words: list[str], *names: str) -> str | None:
    for i, word in enumerate(words):
        for name in names:
            if word == name and i + 1 < len(words):
                return words[i + 1]
            if name.startswith("--") and word.startswith(name + "="):
                return word.split("=", 1)[1]
    return None


def _port_problems(command: str) -> list[str]:
    words = _words(command)
    if not words:
        return []
    joined = " ".join(words)
    host: str | None
    if "streamlit" in words and "run" in words:
        tool, port = "streamlit", _option(words, "--server.port")
        host = _option(words, "--server.address")
    elif any(w.endswith("gunicorn") for w in words):
        bind = _option(words, "-b", "--bind")
        host, _, port = (bind or "").rpartition(":") if bind and ":" in bind else (bind, "", None)
        tool = "gunicorn"
    elif any(w.endswith("uvicorn") for w in words):
        tool = "uvicorn"
        port = _option(words, "--port") or _env(command, "UVICORN_PORT", "8000")
        host = _option(words, "--host") or _env(command, "UVICORN_HOST", "127.0.0.1")
    elif re.search(r"\bflask\b.*\brun\b", joined):
        tool = "flask run"
        port = _option(words, "-p", "--port") or _env(command, "FLASK_RUN_PORT", "5000")
        host = _option(words, "-h", "--host") or _env(command, "FLASK_RUN_HOST", "127.0.0.1")
    elif "http.server" in words:
        after = words[words.index("http.server") + 1 :]
        plain = [
            w
            for i, w in enumerate(after)
            if not w.startswith("-")
            and (i == 0 or after[i - 1] not in ("-b", "--bind", "-d", "--directory"))
        ]
        tool, port = "http.server", plain[0] if plain else "8000"
        host = _option(after, "-b", "--bind")
    else:
        return []
    problems = []
    if port and port.isdigit() and int(port) != PORT:
        problems.append(f"{tool} listens on port {port}; DataRobot sends requests to {PORT}")
    if host in _LOCAL_HOSTS:
        problems.append(
            f"{tool} binds {host} only; DataRobot reaches the app from outside (bind 0.0.0.0)"
        )
    return problems


def _env(command: str, name: str, default: str) -> str | None:
    """A default that an environment variable set on the line overrides (then: unknown)."""
    return None if name in command else default


def _requirements(root: Path, relative: str, data: bytes, seen: set[str]) -> list[Finding]:
    seen.add(relative)
    found: list[Finding] = []
    text = data.decode("utf-8", errors="replace").replace("\r\n", "\n")
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        number, line = index + 1, lines[index]
        while line.endswith("\\") and index + 1 < len(lines):
            index += 1
            line = line[:-1] + lines[index]
        index += 1
        line = re.sub(r"(^|\s)#.*$", "", line).strip()
        if not line:
            continue
        for message, nested in _requirement_problems(root, relative, line):
            if nested is not None:
                if nested not in seen:
                    found += _requirements(root, nested, (root / nested).read_bytes(), seen)
            else:
                found.append(Finding("error", relative, number, message))
    return found


def _requirement_problems(root: Path, relative: str, line: str) -> list[tuple[str, str | None]]:
    """What is wrong with one requirements line; ``(_, path)`` asks to read a nested file."""
    if line.startswith("-"):
        name, _, value = line.partition("=") if line.startswith("--") else (line, "", "")
        if not value:
            name, _, value = line.partition(" ")
        name, value = name.strip(), value.strip()
        if name in _FLAG_OPTIONS:
            return []
        if name not in _VALUE_OPTIONS and not name.startswith("-r") and not name.startswith("-c"):
            return [(f"{line!r}: pip does not know the option {name}", None)]
        if name[:2] in ("-r", "-c", "-e", "-f") and len(name) > 2:  # -rother.txt
            name, value = name[:2], name[2:]
        if not value:
            return [(f"{line!r}: {name} needs a value", None)]
        if not _VALUE_OPTIONS.get(name, True) or ("://" in value and not value.startswith("file:")):
            return []
        nested = name in ("-r", "--requirement", "-c", "--constraint")
        return _local_reference(root, relative, line, value, nested=nested)
    if line.startswith((".", "/", "file:")) or ("://" in line and "@" not in line):
        if "://" in line and not line.startswith("file:"):
            return []  # a URL pip downloads
        return _local_reference(root, relative, line, line.split(";")[0].strip(), nested=False)
    try:
        requirement = Requirement(line.split(" --hash")[0].strip())
    except InvalidRequirement as err:
        return [(f"{line!r}: pip cannot parse it ({str(err).splitlines()[0]})", None)]
    if requirement.url and requirement.url.startswith("file:"):
        return _local_reference(root, relative, line, requirement.url, nested=False)
    return []


def _local_reference(
    root: Path, relative: str, line: str, value: str, *, nested: bool
) -> list[tuple[str, str | None]]:
    path = value.removeprefix("file://").removeprefix("file:")
    if Path(path).is_absolute():
        return [
            (
                f"{line!r}: points outside the folder (an absolute path); DataRobot "
                "builds from the uploaded files only",
                None,
            )
        ]
    target = PurePosixPath(relative).parent / path
    parts: list[str] = []
    for part in target.parts:
        if part == "..":
            if not parts:
                return [
                    (
                        f"{line!r}: points outside the folder; DataRobot builds from "
                        "the uploaded files only",
                        None,
                    )
                ]
            parts.pop()
        elif part != ".":
            parts.append(part)
    inside = "/".join(parts)
    if nested:
        if not (root / inside).is_file():
            return [(f"{line!r}: {inside} is not in the folder", None)]
        return [("", inside)]
    return []


def _metadata(data: bytes) -> list[Finding]:
    try:
        parse_metadata(data)  # the client's own reading: refuses what is not YAML
    except InvalidArgumentError as err:
        at = re.search(r"line (\d+)", str(err))
        message = " ".join(str(err).split()).removeprefix(f"{METADATA_FILE} ")
        return [Finding("error", METADATA_FILE, int(at.group(1)) if at else None, message)]
    spec: Any = yaml.safe_load(data.decode("utf-8", errors="replace"))
    if spec is None:
        return []
    if not isinstance(spec, dict):
        return [Finding("error", METADATA_FILE, None, "must be a mapping (name: value lines)")]
    definitions = spec.get("runtimeParameterDefinitions")
    if definitions is None:
        return []
    if not isinstance(definitions, list):
        return [
            Finding(
                "error",
                METADATA_FILE,
                None,
                "runtimeParameterDefinitions must be a list of parameters",
            )
        ]
    found: list[Finding] = []
    for number, entry in enumerate(definitions, 1):
        where = f"runtimeParameterDefinitions[{number}]"
        if not isinstance(entry, dict):
            found.append(Finding("error", METADATA_FILE, None, f"{where} must be a mapping"))
            continue
        name, kind = entry.get("fieldName"), entry.get("type")
        if not isinstance(name, str) or not _FIELD_NAME.fullmatch(name):
            found.append(
                Finding(
                    "error",
                    METADATA_FILE,
                    None,
                    f"{where}: fieldName must be letters, digits and underscores (a variable name)",
                )
            )
        elif kind not in PARAMETER_TYPES:
            found.append(
                Finding(
                    "error",
                    METADATA_FILE,
                    None,
                    f"{where} ({name}): type must be "
                    f"one of {', '.join(PARAMETER_TYPES)}, not {kind!r}",
                )
            )
    return found
