"""Unpack uploaded template content (a zip, a tar/tar.gz, or a single file) safely."""

from __future__ import annotations

import gzip
import io
import posixpath
import stat
import tarfile
import unicodedata
import zipfile
import zlib
from collections.abc import Iterable

MAX_UPLOAD_BYTES = 32 * 1024 * 1024
MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_TOTAL_BYTES = 64 * 1024 * 1024
MAX_FILES = 1000
MAX_NAME_PART_BYTES = 255  # what Linux and macOS file systems allow for one name
_IGNORED_PREFIXES = ("__MACOSX/",)
# What reading a damaged zip entry raises (RuntimeError: an encrypted entry).
_ZIP_READ_ERRORS = (
    zipfile.BadZipFile, OSError, ValueError, NotImplementedError, EOFError,
    RuntimeError, zlib.error,
)  # fmt: skip


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
    problem = clash([name for name, _ in files])
    if problem:
        raise UploadError(problem)
    return files


def clash(paths: Iterable[str]) -> str | None:
    """Why these paths cannot all be files of one folder (a file named like a folder), or None."""
    files = set(paths)
    for path in sorted(files):
        parts = path.split("/")
        for end in range(1, len(parts)):
            folder = "/".join(parts[:end])
            if folder in files:
                return f"archive entry {path!r} needs a folder {folder!r}, which is also a file"
    return None


def _unzip(content: bytes) -> list[tuple[str, bytes]]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        infos = archive.infolist()
    except UnicodeDecodeError as exc:  # a name flagged UTF-8 that is not
        raise UploadError(f"archive entry {exc.object!r} has a name that is not UTF-8") from None
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise UploadError(f"not a readable zip archive ({exc})") from None
    files: list[tuple[str, bytes]] = []
    budget = _Budget()
    for info in infos:
        budget.admit(info.filename, info.file_size)
        if info.is_dir():
            continue
        name = _safe_name(info.filename)
        if name is None:
            continue
        if stat.S_ISLNK(info.external_attr >> 16):
            raise UploadError(f"archive entry {name!r} is a symbolic link: upload the file itself")
        if info.flag_bits & 0x1:
            raise UploadError(
                f"archive entry {name!r} is encrypted: upload an archive without a password"
            )
        try:
            with archive.open(info) as stream:
                data = stream.read(MAX_FILE_BYTES + 1)
        except _ZIP_READ_ERRORS as exc:
            raise UploadError(f"cannot read {name!r} from the zip archive ({exc})") from None
        budget.check_read(name, data)
        files.append((name, data))
    return files


def _is_plain_tar(content: bytes) -> bool:
    return len(content) > 262 and content[257:262] == b"ustar"


def _untar(content: bytes, filename: str | None) -> list[tuple[str, bytes]]:
    gzipped = content[:2] == b"\x1f\x8b"
    raw = gzip.GzipFile(fileobj=io.BytesIO(content)) if gzipped else io.BytesIO(content)
    # Stream mode reads forward only, and every decompressed byte (skipped members, long-name
    # and pax headers included) goes through the cap.
    stream = _CappedReader(raw, _tar_stream_limit())
    try:
        archive = tarfile.open(fileobj=stream, mode="r|")  # noqa: SIM115
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        if gzipped:
            # gzip of something that is not a tar: keep it as one file.
            return [(_single_name(filename), content)]
        raise UploadError(f"not a readable tar archive ({exc})") from None
    with archive:
        return _tar_members(archive)


def _tar_stream_limit() -> int:
    """Decompressed bytes a tar may hold: the files plus room for each entry's headers."""
    return MAX_TOTAL_BYTES + (MAX_FILES + 1) * 2048 + 2 * tarfile.RECORDSIZE


class _CappedReader(io.RawIOBase):
    """A file-like reader that refuses to deliver more than ``limit`` bytes in all."""

    def __init__(self, raw: io.BufferedIOBase, limit: int) -> None:
        super().__init__()
        self._raw = raw
        self._limit = limit
        self._seen = 0

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self._seen += len(data)
        if self._seen > self._limit:
            raise UploadError(f"the tar archive decompresses to more than {self._limit} bytes")
        return data

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._raw.close()
        super().close()


def _tar_members(archive: tarfile.TarFile) -> list[tuple[str, bytes]]:
    files: list[tuple[str, bytes]] = []
    budget = _Budget()
    try:
        # Members one at a time: nothing past the entry cap is ever read.
        member = archive.next()
        while member is not None:
            # Every entry counts, directories and skipped metadata too.
            budget.admit(member.name, member.size)
            if not member.isdir():
                data = _tar_file(archive, member, budget)
                if data is not None:
                    files.append(data)
            member = archive.next()
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise UploadError(f"cannot read the tar archive ({exc})") from None
    return files


def _tar_file(
    archive: tarfile.TarFile, member: tarfile.TarInfo, budget: _Budget
) -> tuple[str, bytes] | None:
    if not member.isfile():
        raise UploadError(f"archive entry {member.name!r} is not a regular file")
    name = _safe_name(member.name)
    if name is None:
        return None
    stream = archive.extractfile(member)
    data = stream.read(MAX_FILE_BYTES + 1) if stream else b""
    budget.check_read(name, data)
    return name, data


class _Budget:
    """Caps on entry count and sizes, so a small archive cannot expand without bound."""

    def __init__(self) -> None:
        self.count = 0
        self.total = 0

    def admit(self, name: str, declared_size: int) -> None:
        """Count one entry (of any kind, kept or skipped) and check its declared size."""
        self.count += 1
        if self.count > MAX_FILES:
            raise UploadError(
                f"the archive holds more than {MAX_FILES} entries (files and directories)"
            )
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
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # tarfile keeps undecodable bytes as surrogates
        shown = raw.encode("utf-8", errors="surrogateescape")
        raise UploadError(f"archive entry {shown!r} has a name that is not UTF-8") from None
    if any(unicodedata.category(char) == "Cc" for char in name):
        raise UploadError(f"archive entry {raw!r} has a control character in its name")
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
    for part in parts:
        if len(part.encode("utf-8")) > MAX_NAME_PART_BYTES:
            raise UploadError(
                f"archive entry {clean[:60]!r}... has a name part longer than "
                f"{MAX_NAME_PART_BYTES} bytes"
            )
    return clean


def safe_path(raw: str) -> str:
    """A file path sent with a file, normalized; raise :class:`UploadError` if it is unsafe."""
    if not raw or not raw.strip():
        raise UploadError("a file path must not be empty")
    name = _safe_name(raw)
    if name is None:
        raise UploadError(f"{raw!r} does not name a file that can be kept")
    return name


def _single_name(filename: str | None) -> str:
    base = posixpath.basename((filename or "").replace("\\", "/")).strip()
    if base in ("", ".", "..") or "\x00" in base:
        return "file"
    return base[:255]
