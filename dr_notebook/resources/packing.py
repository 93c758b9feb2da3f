"""Content packing for uploads: a folder's files (zipped or listed), ``{path: content}``
mappings and template files as bytes, and the upload's media type. Bad input raises
``InvalidArgumentError`` with a message that names the fix.
"""

from __future__ import annotations

import fnmatch
import io
import os
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import BinaryIO, Union

from dr_notebook.errors import InvalidArgumentError
from dr_notebook.resources.checks import check_source_path

MAX_FILES = 1000
#: The file whose patterns drapps (and sync, and the folder check) leave out of an upload.
IGNORE_FILE = ".dr_apps_ignore"
SKIPPED_NAMES = frozenset({".git", "__pycache__", ".ipynb_checkpoints", ".DS_Store", ".venv"})
FileContent = Union[str, os.PathLike, bytes, bytearray, memoryview, BinaryIO]  # noqa: UP007
#: What ``new_version(files=...)`` takes: a folder, ``{path_in_source: content}`` or paths.
SourceFiles = Union[  # noqa: UP007
    str,
    os.PathLike,
    Mapping[str, Union[str, bytes, os.PathLike]],  # noqa: UP007
    Iterable[Union[str, os.PathLike]],  # noqa: UP007
]


def _skipped(name: str) -> bool:
    """Caches and ``.env`` files (which often hold the API token) never go into an upload."""
    return name in SKIPPED_NAMES or name == ".env" or name.startswith(".env.")


def folder_files(folder: Path) -> Iterator[Path]:
    """The files under ``folder`` that an upload takes, in a stable order.

    Left out: ``.git``, caches, ``.env`` / ``.env.*`` files and symbolic links (a link could
    pull a file from outside the folder, such as a credentials file, into a shared catalogue).
    At most ``MAX_FILES``.
    """
    count = 0
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not _skipped(d))
        for name in sorted(names):
            if _skipped(name):
                continue
            path = Path(root, name)
            if path.is_symlink() or not path.is_file():
                continue
            count += 1
            if count > MAX_FILES:
                raise InvalidArgumentError(
                    f"{folder} holds more than {MAX_FILES} files; an upload may have at most "
                    f"{MAX_FILES}."
                )
            yield path


def ignore_patterns(folder: Path) -> list[str]:
    """The patterns of ``folder/.dr_apps_ignore`` (none when there is no such file)."""
    path = folder / IGNORE_FILE
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def ignored(path: str, patterns: list[str]) -> bool:
    """Whether a relative path matches a pattern: the whole path, its name or a folder of it
    (``logs/`` and ``logs`` both leave out the folder ``logs``)."""
    if path == IGNORE_FILE:
        return True
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for raw in patterns:
        pattern = raw.rstrip("/").lstrip("/")
        if not pattern:
            continue
        if any(fnmatch.fnmatchcase(p, pattern) for p in prefixes):
            return True
        if "/" not in pattern and any(fnmatch.fnmatchcase(part, pattern) for part in parts):
            return True
    return False


def zip_folder(folder: Path) -> bytes:
    """The folder's files (see :func:`folder_files`) as an in-memory zip (relative paths)."""
    buffer = io.BytesIO()
    count = 0
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in folder_files(folder):
            count += 1
            archive.write(path, path.relative_to(folder).as_posix())
    if count == 0:
        raise InvalidArgumentError(f"The folder {folder} holds no files to upload.")
    return buffer.getvalue()


def _bytes_of(value: object, where: str) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, os.PathLike):
        path = Path(value).expanduser()
        if not path.is_file():
            raise InvalidArgumentError(f"{where}: {str(path)!r} is not a file.")
        return path.read_bytes()
    raise InvalidArgumentError(
        f"{where}: give the content as str (text), bytes or a pathlib.Path, "
        f"not {type(value).__name__}."
    )


def source_files(files: SourceFiles) -> list[tuple[str, bytes]]:
    """``(path_in_source, content)`` pairs for a source version upload.

    ``files`` is a folder (its files at their relative paths; see :func:`folder_files` for what
    is left out), a mapping ``{path_in_source: content}`` where content is ``str`` (text, sent
    as UTF-8), ``bytes`` or a ``pathlib.Path`` to read, or a list of paths: each file goes in
    under its own name, each folder's files at their paths relative to that folder.
    """
    pairs: list[tuple[str, bytes]] = []
    if isinstance(files, Mapping):
        for key, value in files.items():
            pairs.append((check_source_path(key), _bytes_of(value, f"files[{key!r}]")))
    else:
        entries = [files] if isinstance(files, (str, os.PathLike)) else files
        if not isinstance(entries, Iterable):
            raise InvalidArgumentError(
                "files must be a folder, a {path_in_source: content} mapping or a list of paths."
            )
        for entry in entries:
            if not isinstance(entry, (str, os.PathLike)):
                raise InvalidArgumentError(
                    f"files lists {entry!r}; a list of files holds paths (str or Path)."
                )
            path = Path(entry).expanduser()
            if path.is_dir():
                pairs += [
                    (p.relative_to(path).as_posix(), p.read_bytes()) for p in folder_files(path)
                ]
            elif path.is_file():
                pairs.append((path.name, path.read_bytes()))
            else:
                raise InvalidArgumentError(f"{str(entry)!r}: no such file or folder.")
    seen: set[str] = set()
    for name, _ in pairs:
        if name in seen:
            raise InvalidArgumentError(f"Two files would go to {name!r} in the source.")
        seen.add(name)
    if len(pairs) > MAX_FILES:
        raise InvalidArgumentError(f"{len(pairs)} files; an upload may have at most {MAX_FILES}.")
    return pairs


def read_content(file: FileContent, filename: str | None = None) -> tuple[str, bytes, Path | None]:
    """Template content as ``(filename, bytes, folder)``: a file, a folder (zipped) or bytes."""
    if isinstance(file, (bytes, bytearray, memoryview)):
        content = bytes(file)
        default = "template.zip" if content[:4] == b"PK\x03\x04" else "template"
        name, folder = filename or default, None
    elif isinstance(file, (str, os.PathLike)):
        path = Path(file).expanduser()
        if path.is_dir():
            content, folder = zip_folder(path), path
            name = filename or f"{path.resolve().name or 'template'}.zip"
        elif path.is_file():
            content, folder, name = path.read_bytes(), None, filename or path.name
        else:
            raise InvalidArgumentError(f"file={str(file)!r}: no such file or folder.")
    elif hasattr(file, "read"):
        content = file.read()
        if isinstance(content, str):
            content = content.encode("utf-8")
        name = filename or Path(getattr(file, "name", "") or "template").name
        folder = None
    else:
        raise InvalidArgumentError(
            "file must be a path to a file or folder, bytes, or a binary file object."
        )
    if not content:
        raise InvalidArgumentError("The template content is empty: give a non-empty file.")
    return name, content, folder


def content_type(content: bytes) -> str:
    """The upload's media type, from its first bytes (zip, gzip, else octet-stream)."""
    if content[:4] == b"PK\x03\x04":
        return "application/zip"
    if content[:2] == b"\x1f\x8b":
        return "application/gzip"
    return "application/octet-stream"
