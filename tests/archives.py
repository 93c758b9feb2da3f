"""Archives for upload tests: zip and tar bytes, optionally with a symbolic link to /etc/passwd."""

from __future__ import annotations

import io
import tarfile
import zipfile
from typing import Literal


def zip_of(entries: dict[str, bytes], link: str | None = None) -> bytes:
    """A deflated zip of ``entries``; ``link`` adds a symbolic link of that name."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
        if link:
            info = zipfile.ZipInfo(link)
            info.external_attr = 0o120777 << 16  # a symbolic link, as zip -y stores it
            archive.writestr(info, "/etc/passwd")
    return buf.getvalue()


def tar_of(
    entries: dict[str, bytes], mode: Literal["w", "w:gz"] = "w:gz", link: str | None = None
) -> bytes:
    """A tar of ``entries`` (gzipped by default); ``link`` adds a symbolic link of that name."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as archive:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        if link:
            info = tarfile.TarInfo(link)
            info.type = tarfile.SYMTYPE
            info.linkname = "/etc/passwd"
            archive.addfile(info)
    return buf.getvalue()
