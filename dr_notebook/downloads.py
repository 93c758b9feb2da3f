"""Writing server-given files into a local folder, safely.

File paths in a download come from the server, so they are untrusted: a path that is absolute,
names a drive, climbs with ``..`` or passes through a symbolic link could write anywhere on the
user's disk. Every path is checked before anything is written, and existing files are only
replaced when the caller says so.

A download is all or nothing: the plan refuses clashes (two paths equal but for case, a file
where another path needs a folder), every file is fetched, then written into a temporary folder
beside the target, and only then moved into place.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath

from dr_notebook.errors import DataRobotError, ExistingFileError, UnsafePathError

__all__ = [
    "UnsafePathError",
    "content_bytes",
    "download_files",
    "plan_writes",
    "target_path",
    "write_file",
]

_DRIVE = re.compile(r"^[A-Za-z]:")


def _parts(server_path: str) -> list[str]:
    if not isinstance(server_path, str) or not server_path.strip():
        raise UnsafePathError(f"The server sent an empty file path ({server_path!r}).")
    if "\x00" in server_path:
        raise UnsafePathError(f"The server sent a file path with a NUL byte: {server_path!r}.")
    text = server_path.replace("\\", "/")
    if text.startswith("/") or _DRIVE.match(text):
        raise UnsafePathError(f"Refusing the absolute file path {server_path!r} from the server.")
    parts = [p for p in PurePosixPath(text).parts if p not in ("", ".")]
    if ".." in parts:
        raise UnsafePathError(f"Refusing the file path {server_path!r}: it climbs out with '..'.")
    if not parts:
        raise UnsafePathError(f"The server sent an empty file path ({server_path!r}).")
    return parts


def target_path(folder: Path, server_path: str) -> Path:
    """Where ``server_path`` lands inside ``folder``; raises :class:`UnsafePathError` otherwise.

    Refused: empty and absolute paths, drive letters, ``..``, and any symbolic link between
    ``folder`` and the file (the file itself included).
    """
    root = Path(folder)
    target = root
    for part in _parts(server_path):
        target = target / part
        if target.is_symlink():
            raise UnsafePathError(
                f"Refusing to write {server_path!r}: {target} is a symbolic link."
            )
    resolved_root = root.resolve()
    if not target.resolve().is_relative_to(resolved_root):
        raise UnsafePathError(f"Refusing to write {server_path!r}: it lands outside {root}.")
    return target


def plan_writes(
    folder: str | os.PathLike[str], paths: Iterable[str], *, overwrite: bool = False
) -> dict[str, Path]:
    """Check every path before anything is written: ``{server_path: local_path}``.

    Raises :class:`UnsafePathError` for a path outside the folder or a clash (two paths equal
    but for case, as on a case-insensitive disk; a file where another path needs a folder, on
    the server or on disk), :class:`ExistingFileError` (a ``FileExistsError``) for an existing
    file unless ``overwrite``, and ``NotADirectoryError`` if ``folder`` is a file.
    """
    root = Path(folder).expanduser()
    if root.exists() and not root.is_dir():
        raise NotADirectoryError(f"{root} exists and is not a folder; choose another folder.")
    plan: dict[str, Path] = {}
    seen: dict[str, str] = {}  # case-folded relative path -> the server path
    folders: dict[str, str] = {}  # case-folded folder -> a server path inside it
    existing: list[str] = []
    for server_path in paths:
        local = target_path(root, server_path)
        relative = local.relative_to(root).as_posix()
        key = relative.casefold()
        if key in seen:
            raise UnsafePathError(
                f"The server sent two files for one path: {seen[key]!r} and {server_path!r}."
            )
        seen[key] = server_path
        parents = list(PurePosixPath(key).parents)[:-1]  # without "."
        for parent in (p.as_posix() for p in parents):
            folders.setdefault(parent, server_path)
        for parent in local.parents:
            if parent == root:
                break
            if parent.exists() and not parent.is_dir():
                raise UnsafePathError(
                    f"Cannot write {server_path!r}: {parent} is a file, not a folder."
                )
        if local.exists() and (not overwrite or local.is_dir()):
            existing.append(str(local))
        plan[server_path] = local
    for key, server_path in seen.items():
        if key in folders:
            raise UnsafePathError(
                f"The server sent {server_path!r} both as a file and as the folder of "
                f"{folders[key]!r}."
            )
    if existing:
        shown = ", ".join(existing[:3]) + (
            f" and {len(existing) - 3} more" if len(existing) > 3 else ""
        )
        raise ExistingFileError(
            f"{len(existing)} file(s) already exist ({shown}); pass overwrite=True to replace "
            "them, or choose an empty folder."
        )
    return plan


def write_file(local: Path, content: bytes, *, root: Path) -> None:
    """Write one planned file, checking again that no link appeared on the way since planning."""
    local.parent.mkdir(parents=True, exist_ok=True)
    relative = local.relative_to(root)
    target_path(root, relative.as_posix())
    temporary = local.with_name(f".{local.name}.dr-notebook-partial")
    temporary.write_bytes(content)
    os.replace(temporary, local)


def content_bytes(body: object) -> bytes:
    """A fetched file's bytes from its JSON body: ``content`` as UTF-8 text, or base64-decoded
    when the body says ``"encoding": "base64"`` (how servers send binary files)."""
    if not isinstance(body, Mapping) or not isinstance(body.get("content"), str):
        name = body.get("filePath") or body.get("fileName") if isinstance(body, Mapping) else None
        raise DataRobotError(
            f"The server sent no content for the file {name or '(unnamed)'}; nothing was written."
        )
    content: str = body["content"]
    if str(body.get("encoding", "")).lower() != "base64":
        return content.encode("utf-8")
    try:
        return base64.b64decode(content, validate=True)
    except (binascii.Error, ValueError):
        raise DataRobotError("The server sent a file whose base64 content is invalid.") from None


def download_files(
    folder: str | os.PathLike[str],
    paths: Iterable[str],
    fetch: Callable[[str], bytes],
    *,
    overwrite: bool = False,
    max_workers: int = 8,
) -> list[Path]:
    """Write the files at server-given ``paths`` into ``folder``; the local paths, in order.

    Every path is checked first (:func:`plan_writes`); then ``fetch(path)`` reads the contents,
    up to ``max_workers`` at once; only when all arrived are they written, into a temporary
    folder beside ``folder``, then moved into place: a failure leaves the folder as it was. The
    folder is created if needed.
    """
    root = Path(folder).expanduser()
    plan = plan_writes(root, paths, overwrite=overwrite)
    if not plan:
        return []
    with ThreadPoolExecutor(
        max_workers=max(1, min(max_workers, len(plan))), thread_name_prefix="dr-notebook-download"
    ) as executor:
        contents = list(executor.map(fetch, plan))
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.", suffix=".partial", dir=root.parent))
    try:
        for local, content in zip(plan.values(), contents, strict=True):
            staged = staging / local.relative_to(root)
            staged.parent.mkdir(parents=True, exist_ok=True)
            staged.write_bytes(content)
        if not root.exists():
            os.replace(staging, root)  # a new folder appears whole
        else:
            for local in plan.values():
                target_path(root, local.relative_to(root).as_posix())  # no link appeared since
                local.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staging / local.relative_to(root), local)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return list(plan.values())
