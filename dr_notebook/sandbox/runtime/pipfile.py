"""Read a ``requirements.txt`` the way pip reads it, from the files of a version.

pip's own steps (``pip/_internal/req/req_file.py``): decode with a BOM, join ``\\`` continuation
lines, drop comments (``#`` at the start or after whitespace), split a line into the
requirement and its options, follow ``-r``/``-c`` files. The requirement itself is parsed by
``packaging``; URLs and paths are kept aside as "cannot be checked offline".
"""

from __future__ import annotations

import codecs
import posixpath
import re
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from packaging.requirements import InvalidRequirement, Requirement

REQUIREMENTS = "requirements.txt"
_COMMENT = re.compile(r"(^|\s+)#.*$")
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_INCLUDE = {"-r": "requirement", "--requirement": "requirement", "-c": "constraint",
            "--constraint": "constraint"}  # fmt: skip
_EDITABLE = ("-e", "--editable")
_ARCHIVES = (".whl", ".tar.gz", ".tgz", ".tar.bz2", ".zip", ".tar")


@dataclass(frozen=True)
class Entry:
    """One requirement line: where it is, and what it asks for."""

    where: str  # "requirements.txt line 3"
    text: str
    requirement: Requirement | None = None  # None: a URL or path, see ``unchecked``
    unchecked: str | None = None  # why it cannot be checked offline
    constraint: bool = False


@dataclass
class RequirementsFile:
    """What a requirements file (and the files it includes) asks for."""

    entries: list[Entry] = field(default_factory=list)
    options: list[str] = field(default_factory=list)  # "line 2: --index-url ..."
    errors: list[str] = field(default_factory=list)  # "line 4: ..."
    files: list[str] = field(default_factory=list)  # the files read, the first one first

    @property
    def local_paths(self) -> bool:
        """Whether a requirement points into the application's own files (a path)."""
        return any(e.unchecked and "path" in e.unchecked for e in self.entries)


def decode(content: bytes) -> str:
    """Text of a requirements file, honouring a byte-order mark as pip does."""
    for bom, encoding in _BOMS:
        if content.startswith(bom):
            return content[len(bom) :].decode(encoding, errors="replace")
    return content.decode("utf-8", errors="replace")


def logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """(first line number, line) after pip's ``join_lines`` and ``ignore_comments``."""
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        comment = _COMMENT.match(raw) is not None
        if raw.endswith("\\") and not comment:
            if not pending:
                start = number
            pending.append(raw.strip("\\"))
            continue
        line = " " + raw if comment else raw  # so the comment is always removed below
        if pending:
            pending.append(line)
            yield start, _COMMENT.sub("", "".join(pending)).strip()
            pending = []
        else:
            yield number, _COMMENT.sub("", line).strip()
    if pending:
        yield start, _COMMENT.sub("", "".join(pending)).strip()


def read_requirements(files: Mapping[str, bytes], name: str = REQUIREMENTS) -> RequirementsFile:
    """Read ``name`` from the version's files, following ``-r``/``-c`` inside the version."""
    result = RequirementsFile()
    _read(files, name, result, constraint=False, seen=set())
    return result


def _read(
    files: Mapping[str, bytes], name: str, out: RequirementsFile, constraint: bool, seen: set[str]
) -> None:
    seen.add(name)
    out.files.append(name)
    for number, line in logical_lines(decode(files[name])):
        if not line:
            continue
        where = f"{name} line {number}"
        args, options = _split(line)
        if args:
            entry = _entry(where, args, options, constraint)
            if isinstance(entry, str):
                out.errors.append(entry)
            else:
                out.entries.append(entry)
            continue
        try:
            tokens = shlex.split(options)
        except ValueError as exc:
            out.errors.append(f"{where}: {exc}")
            continue
        flag, value = _flag(tokens)
        if flag in _INCLUDE and value:
            _include(files, name, value, where, out, _INCLUDE[flag] == "constraint", seen)
        elif flag in _EDITABLE and value:
            reason = f"an editable {_kind(value)}: cannot be checked offline"
            out.entries.append(Entry(where, line, unchecked=reason))
        else:
            out.options.append(f"{where}: {line[:80]}")


def _split(line: str) -> tuple[str, str]:
    """pip's ``break_args_options``: the requirement, then the options from the first ``-``."""
    tokens = line.split(" ")
    args: list[str] = []
    while tokens and not tokens[0].startswith("-"):
        args.append(tokens.pop(0))
    return " ".join(args).strip(), " ".join(tokens).strip()


def _flag(tokens: list[str]) -> tuple[str, str]:
    if not tokens:
        return "", ""
    head = tokens[0]
    if head.startswith("--") and "=" in head:
        flag, value = head.split("=", 1)
        return flag, value
    if head.startswith("-") and not head.startswith("--") and len(head) > 2:
        return head[:2], head[2:]  # "-rother.txt"
    return head, tokens[1] if len(tokens) > 1 else ""


def _include(
    files: Mapping[str, bytes],
    parent: str,
    target: str,
    where: str,
    out: RequirementsFile,
    constraint: bool,
    seen: set[str],
) -> None:
    if "://" in target:
        out.errors.append(f"{where}: {target} is a URL: cannot be checked offline")
        return
    path = posixpath.normpath(posixpath.join(posixpath.dirname(parent), target))
    if path.startswith(("../", "/")) or path == "..":
        out.errors.append(f"{where}: {target} is outside the application")
    elif path not in files:
        out.errors.append(f"{where}: the application has no file {path}")
    elif path not in seen:
        _read(files, path, out, constraint, seen)


def _entry(where: str, args: str, options: str, constraint: bool) -> Entry | str:
    """The requirement of a line (its options, ``--hash`` and the like, ride along); or why not."""
    text = f"{args} {options}".strip()
    location = args if _is_location(args) else None
    if location is None:
        try:
            requirement = Requirement(args)
        except InvalidRequirement as exc:
            return f"{where}: {str(exc).splitlines()[0][:120]}"
        if not requirement.url:
            return Entry(where, text, requirement=requirement, constraint=constraint)
        location = requirement.url
    reason = f"a {_kind(location)}: cannot be checked offline"
    return Entry(where, text, unchecked=reason, constraint=constraint)


def _is_location(args: str) -> bool:
    lowered = args.lower()
    return (
        "://" in args
        or lowered.startswith(("file:", ".", "/", "~", "git+", "hg+", "svn+", "bzr+"))
        or lowered.endswith(_ARCHIVES)
    )


def _kind(location: str) -> str:
    remote = "://" in location and not location.lower().startswith("file:")
    return "URL" if remote or location.startswith(("git+", "hg+", "svn+", "bzr+")) else "path"
