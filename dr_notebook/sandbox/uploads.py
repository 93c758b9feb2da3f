"""Unpack uploaded template content (a zip, a tar/tar.gz, or a single file) safely."""

from __future__ import annotations

import io
import posixpath
import tarfile
import zipfile

MAX_UPLOAD_BYTES = 32 * 1024 * 1024
MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_TOTAL_BYTES = 64 * 1024 * 1024
MAX_FILES = 1000
_IGNORED_PREFIXES = ("__MACOSX/",)


class UploadError(ValueError):
    """The upload cannot become template files; the message says why."""


def unpack(content: bytes, filename: str | None) -> list[tuple[str, bytes]]:
    """The files an upload holds, as (relative path, bytes), in a stable order."""
    if not content:
        raise UploadError("the uploaded file is empty")
    if len(content) > MAX_UPLOAD_BYTES:
        raise UploadError(f"the upload is larger than {MAX_UPLOAD_BYTES} bytes")
    if content[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        files = _unzip(content)
    elif content[:2] == b"\x1f\x8b" or _is_plain_tar(content):
        files = _untar(content, filename)
    else:
        files = [(_single_name(filename), content)]
    if not files:
        raise UploadError("the archive holds no files")
    return files


def _unzip(content: bytes) -> list[tuple[str, bytes]]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise UploadError(f"not a readable zip archive ({exc})") from None
    files: list[tuple[str, bytes]] = []
    budget = _Budget()
    for info in infos:
        if info.is_dir():
            continue
        name = _safe_name(info.filename)
        if name is None:
            continue
        budget.admit(name, info.file_size)
        try:
            with archive.open(info) as stream:
                data = stream.read(MAX_FILE_BYTES + 1)
        except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, EOFError) as exc:
            raise UploadError(f"cannot read {name!r} from the zip archive ({exc})") from None
        budget.check_read(name, data)
        files.append((name, data))
    return files


def _is_plain_tar(content: bytes) -> bool:
    return len(content) > 262 and content[257:262] == b"ustar"


def _untar(content: bytes, filename: str | None) -> list[tuple[str, bytes]]:
    try:
        archive = tarfile.open(fileobj=io.BytesIO(content), mode="r:*")  # noqa: SIM115
    except (tarfile.TarError, OSError, EOFError) as exc:
        if content[:2] == b"\x1f\x8b":
            # gzip of something that is not a tar: keep it as one file.
            return [(_single_name(filename), content)]
        raise UploadError(f"not a readable tar archive ({exc})") from None
    with archive:
        return _tar_members(archive)


def _tar_members(archive: tarfile.TarFile) -> list[tuple[str, bytes]]:
    files: list[tuple[str, bytes]] = []
    budget = _Budget()
    try:
        for member in archive:
            if member.isdir():
                continue
            if not member.isfile():
                raise UploadError(f"archive entry {member.name!r} is not a regular file")
            name = _safe_name(member.name)
            if name is None:
                continue
            budget.admit(name, member.size)
            stream = archive.extractfile(member)
            data = stream.read(MAX_FILE_BYTES + 1) if stream else b""
            budget.check_read(name, data)
            files.append((name, data))
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise UploadError(f"cannot read the tar archive ({exc})") from None
    return files


class _Budget:
    """Caps on entry count and sizes, so a small archive cannot expand without bound."""

    def __init__(self) -> None:
        self.count = 0
        self.total = 0

    def admit(self, name: str, declared_size: int) -> None:
        self.count += 1
        if self.count > MAX_FILES:
            raise UploadError(f"the archive holds more than {MAX_FILES} files")
        if declared_size > MAX_FILE_BYTES:
            raise UploadError(f"archive entry {name!r} is larger than {MAX_FILE_BYTES} bytes")

    def check_read(self, name: str, data: bytes) -> None:
        if len(data) > MAX_FILE_BYTES:
            raise UploadError(f"archive entry {name!r} is larger than {MAX_FILE_BYTES} bytes")
        self.total += len(data)
        if self.total > MAX_TOTAL_BYTES:
            raise UploadError(f"the archive expands to more than {MAX_TOTAL_BYTES} bytes")


def _safe_name(raw: str) -> str | None:
    """A normalized relative path, None for entries to skip; raise on unsafe paths."""
    name = raw.replace("\\", "/")
    if "\x00" in name:
        raise UploadError(f"archive entry {raw!r} has a NUL byte in its name")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if name.startswith("/") or (parts and ":" in parts[0]) or ".." in parts:
        raise UploadError(f"archive entry {raw!r} points outside the template (absolute or '..')")
    if not parts:
        return None
    clean = posixpath.join(*parts)
    if clean.startswith(_IGNORED_PREFIXES) or parts[-1] == ".DS_Store":
        return None
    if len(clean) > 255:
        raise UploadError(f"archive entry name is longer than 255 characters: {clean[:40]!r}...")
    return clean


def _single_name(filename: str | None) -> str:
    base = posixpath.basename((filename or "").replace("\\", "/")).strip()
    if base in ("", ".", "..") or "\x00" in base:
        return "file"
    return base[:255]
