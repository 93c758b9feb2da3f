"""Unpacking uploaded template content: formats, path traversal, links and size caps."""

from __future__ import annotations

import gzip
import io
import tarfile
import threading
import time
import zipfile
import zlib
from collections.abc import Iterable

import pytest
import requests
from archives import tar_of, zip_of

from dr_notebook.sandbox.service import uploads
from dr_notebook.sandbox.service.uploads import UploadError, unpack

ENV = '{"environmentId": "a", "environmentVersionId": "b"}'
FIELDS = {
    "name": "n", "description": "d", "templateType": "customApplicationTemplate",
    "templateSubType": "s", "defaultEnvironment": ENV,
}  # fmt: skip


def test_zip_entries_become_files_with_relative_paths():
    content = zip_of({"app.py": b"x", "static/css/site.css": b"y", "./README.md": b"# r"})
    assert unpack(content, "t.zip") == [
        ("app.py", b"x"),
        ("static/css/site.css", b"y"),
        ("README.md", b"# r"),
    ]


def test_zip_skips_directories_and_macos_metadata():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("src/", b"")
        archive.writestr("src/main.py", b"1")
        archive.writestr("__MACOSX/src/._main.py", b"junk")
        archive.writestr("src/.DS_Store", b"junk")
    assert unpack(buf.getvalue(), None) == [("src/main.py", b"1")]


@pytest.mark.parametrize("mode", ["w:gz", "w"])
def test_tar_and_tar_gz(mode):
    content = tar_of({"a/b.txt": b"hello", "c.txt": b""}, mode=mode)
    assert unpack(content, "x.tar.gz") == [("a/b.txt", b"hello"), ("c.txt", b"")]


def test_a_single_file_keeps_its_name():
    assert unpack(b"print('x')\n", "main.py") == [("main.py", b"print('x')\n")]
    assert unpack(b"data", None) == [("file", b"data")]
    assert unpack(b"data", "../../etc/passwd") == [("passwd", b"data")]


def test_gzip_that_is_not_a_tar_is_one_file():
    content = gzip.compress(b"just text")
    assert unpack(content, "notes.txt.gz") == [("notes.txt.gz", content)]


@pytest.mark.parametrize(
    "name", ["../evil.py", "a/../../evil.py", "/etc/passwd", "C:/x.py", "..\\x.py"]
)
def test_path_traversal_is_rejected(name):
    with pytest.raises(UploadError, match="outside"):
        unpack(zip_of({"ok.py": b"1", name: b"2"}), None)
    with pytest.raises(UploadError, match="outside"):
        unpack(tar_of({name: b"2"}), None)


def test_links_in_tars_are_rejected():
    with pytest.raises(UploadError, match="not a regular file"):
        unpack(tar_of({"ok.py": b"1"}, link="passwd"), None)


def test_empty_uploads_and_empty_archives_are_rejected():
    with pytest.raises(UploadError, match="empty"):
        unpack(b"", "x")
    with pytest.raises(UploadError, match="no files"):
        unpack(zip_of({}), None)


def test_corrupt_zip_is_rejected():
    content = zip_of({"a.py": b"1" * 1000})
    with pytest.raises(UploadError):
        unpack(content[:60] + b"\x00" * 40 + content[100:], None)


def test_zip_bomb_is_stopped_by_the_per_file_cap(monkeypatch):
    monkeypatch.setattr(uploads, "MAX_FILE_BYTES", 1000)
    bomb = zip_of({"bomb.bin": b"\0" * 100_000})
    assert len(bomb) < 1000
    with pytest.raises(UploadError, match="larger than"):
        unpack(bomb, None)


def test_total_expansion_and_entry_count_are_capped(monkeypatch):
    monkeypatch.setattr(uploads, "MAX_TOTAL_BYTES", 5000)
    with pytest.raises(UploadError, match="expands"):
        unpack(zip_of({f"f{i}": b"\0" * 1000 for i in range(10)}), None)
    monkeypatch.setattr(uploads, "MAX_FILES", 5)
    with pytest.raises(UploadError, match="more than 5 entries"):
        unpack(zip_of({f"f{i}": b"" for i in range(6)}), None)


def test_bad_uploads_over_http_are_422_naming_file(sandbox_factory):
    sb = sandbox_factory(demo=False)
    env = '{"environmentId": "a", "environmentVersionId": "b"}'
    fields = {
        "name": "n", "description": "d", "templateType": "customApplicationTemplate",
        "templateSubType": "s", "defaultEnvironment": env,
    }  # fmt: skip
    for content in [zip_of({"../../x.py": b"1"}), b"", tar_of({"a": b"1"}, link="l")]:
        response = sb.api("POST", "customTemplates/", data=fields, files={"file": ("f", content)})
        assert response.status_code == 422
        assert list(response.json()["errors"]) == ["file"]
    big = zip_of({"bomb.bin": b"\0" * (9 * 1024 * 1024)})
    response = sb.api("POST", "customTemplates/", data=fields, files={"file": ("b.zip", big)})
    assert response.status_code == 422 and "larger than" in response.json()["errors"]["file"]
    good = sb.api(
        "POST", "customTemplates/", data=fields, files={"file": ("t.tgz", tar_of({"a": b"1"}))}
    )
    assert good.status_code == 201
    assert sb.api("GET", "customTemplates/").json()["totalCount"] == 1


def tar_gz_stream(blocks: Iterable[bytes]) -> bytes:
    """A tar.gz of raw 512-byte-aligned blocks (headers and data), compressed as they come."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: a gzip container
    out = [packer.compress(block) for block in blocks]
    out.append(packer.compress(b"\0" * 1024) + packer.flush())
    return b"".join(out)


def header(name: str, size: int = 0, kind: bytes = tarfile.REGTYPE) -> bytes:
    info = tarfile.TarInfo(name)
    info.size, info.type = size, kind
    return info.tobuf(format=tarfile.USTAR_FORMAT)


def test_tar_directories_and_skipped_names_count_against_the_entry_cap(monkeypatch):
    monkeypatch.setattr(uploads, "MAX_FILES", 5)
    dirs = tar_gz_stream([header(f"d{i}/", kind=tarfile.DIRTYPE) for i in range(6)])
    with pytest.raises(UploadError, match="more than 5 entries"):
        unpack(dirs, None)
    junk = {f"__MACOSX/._{i}": b"j" for i in range(5)} | {".DS_Store": b"j", "app.py": b"1"}
    with pytest.raises(UploadError, match="more than 5 entries"):
        unpack(tar_of(junk), None)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for i in range(6):
            archive.writestr(f"d{i}/", b"")
    with pytest.raises(UploadError, match="more than 5 entries"):
        unpack(buf.getvalue(), None)


def test_tar_stops_reading_at_the_entry_cap():
    """A small tar.gz of very many directory entries is refused after the first thousand."""
    bomb = tar_gz_stream([header("d/", kind=tarfile.DIRTYPE) * 1000] * 200)
    assert len(bomb) < 1_000_000  # 200,000 entries, 100 MB once decompressed
    # Reading on past the cap would first hit the cap on decompressed bytes (about 66 MB).
    with pytest.raises(UploadError, match="more than 1000 entries"):
        unpack(bomb, None)


def test_a_skipped_tar_member_is_still_size_checked(monkeypatch):
    monkeypatch.setattr(uploads, "MAX_FILE_BYTES", 1000)
    for name in ("__MACOSX/big", "sub/.DS_Store"):
        with pytest.raises(UploadError, match="larger than 1000"):
            unpack(tar_of({name: b"\0" * 5000, "app.py": b"1"}), None)


def test_tar_decompression_is_capped_headers_included(monkeypatch):
    monkeypatch.setattr(uploads, "MAX_TOTAL_BYTES", 5000)
    monkeypatch.setattr(uploads, "MAX_FILES", 5)
    # Skipped members under the per-file cap, together far past the total.
    skipped = {f"__MACOSX/{i}": b"\0" * 1_000_000 for i in range(4)} | {"app.py": b"1"}
    with pytest.raises(UploadError, match="decompresses to more than"):
        unpack(tar_of(skipped), None)
    # A pax header is read whole before the member it describes.
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.PAX_FORMAT) as archive:
        info = tarfile.TarInfo("app.py")
        info.pax_headers = {"comment": "x" * 1_000_000}
        archive.addfile(info, io.BytesIO(b""))
    with pytest.raises(UploadError, match="decompresses to more than"):
        unpack(buf.getvalue(), None)


def test_tar_bomb_uploads_are_422_naming_file(sandbox_factory):
    sb = sandbox_factory(demo=False)
    bombs = {
        "more than 1000 entries": [header(f"d{i}/", kind=tarfile.DIRTYPE) for i in range(5000)],
        # A 300 MB member under a skipped name; the upload is a few hundred kilobytes.
        "larger than": [header("__MACOSX/big", 300 << 20), *[b"\0" * (1 << 20)] * 300],
    }
    for problem, blocks in bombs.items():
        content = tar_gz_stream(blocks)
        assert len(content) < 400_000
        upload = {"file": ("t.tar.gz", content)}
        response = sb.api("POST", "customTemplates/", data=FIELDS, files=upload)
        assert response.status_code == 422, response.text
        assert problem in response.json()["errors"]["file"]
    assert sb.api("GET", "customTemplates/").json()["totalCount"] == 0


def encrypted_zip() -> bytes:
    """A zip whose one entry is marked encrypted (flag bit 0), as a password-protected zip is."""
    content = bytearray(zip_of({"app.py": b"print(1)"}))
    content[6] |= 0x1  # the local header's flags
    content[content.index(b"PK\x01\x02") + 8] |= 0x1  # the central directory's flags
    return bytes(content)


def test_encrypted_zip_entries_are_rejected(sandbox_factory):
    with pytest.raises(UploadError, match="encrypted"):
        unpack(encrypted_zip(), "t.zip")
    sb = sandbox_factory(demo=False)
    upload = {"file": ("t.zip", encrypted_zip())}
    response = sb.api("POST", "customTemplates/", data=FIELDS, files=upload)
    assert response.status_code == 422, response.text
    assert "encrypted" in response.json()["errors"]["file"]


@pytest.mark.slow
def test_unpacking_a_big_upload_does_not_hold_up_other_requests(sandbox_factory):
    sb = sandbox_factory(demo=False)
    # 56 MiB once unpacked (just under the caps), 60 KB on the wire: the time is all unpacking.
    big = zip_of({f"f{i}.bin": b"\0" * (uploads.MAX_FILE_BYTES - 1) for i in range(7)})
    done: dict[str, float] = {}

    def upload() -> None:
        started = time.perf_counter()
        response = requests.post(
            f"{sb.endpoint}/customTemplates/", data=FIELDS, headers=sb.auth_headers(),
            files={"file": ("big.zip", big)}, timeout=60,
        )  # fmt: skip
        done["status"] = response.status_code
        done["seconds"] = time.perf_counter() - started

    worker = threading.Thread(target=upload)
    waits: list[float] = []
    with requests.Session() as session:
        worker.start()
        while worker.is_alive():
            started = time.perf_counter()
            response = session.get(f"{sb.endpoint}/version/", headers=sb.auth_headers())
            assert response.status_code == 200
            waits.append(time.perf_counter() - started)
    worker.join()
    assert done["status"] == 201
    assert len(waits) >= 3
    # Unpacked on the event loop, a version request would wait for most of the upload.
    assert max(waits) < done["seconds"] / 2, (max(waits), done["seconds"])


def raw_tar(name: bytes) -> bytes:
    """A gzipped tar with one member whose name is these exact bytes (GNU long name)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.GNU_FORMAT) as archive:
        archive.addfile(tarfile.TarInfo("ok.py"), io.BytesIO(b""))
        info = tarfile.TarInfo(name.decode("utf-8", errors="surrogateescape"))
        info.size = 1
        archive.addfile(info, io.BytesIO(b"1"))
    return buf.getvalue()


def utf8_flagged_zip(name: bytes) -> bytes:
    """A zip whose one entry says its name is UTF-8 (flag 0x800) while it is not."""
    placeholder = b"x" * len(name)
    content = bytearray(zip_of({placeholder.decode(): b"1"}))
    for marker, flag_offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = content.index(marker)
        content[at + flag_offset + 1] |= 0x08  # bit 11 of the general purpose flags
    return bytes(content).replace(placeholder, name)


BAD_NAMES = {
    "not UTF-8": (b"caf\xe9.py", "b'caf\\xe9.py'"),
    "control character": (b"bell\x07.py", "'bell\\x07.py'"),
    "name part longer than 255 bytes": ("é".encode() * 130 + b".py", "'ééé"),
}


@pytest.mark.parametrize("problem", list(BAD_NAMES))
def test_names_that_cannot_become_files_are_refused_naming_the_entry(problem):
    name, shown = BAD_NAMES[problem]
    with pytest.raises(UploadError, match=problem) as caught:
        unpack(raw_tar(name), "t.tar.gz")
    assert shown in str(caught.value)


def test_a_zip_name_flagged_utf8_that_is_not_is_refused_naming_it():
    with pytest.raises(UploadError, match="not UTF-8") as caught:
        unpack(utf8_flagged_zip(b"caf\xe9.py"), "t.zip")
    assert "caf\\xe9.py" in str(caught.value)


def test_a_file_named_like_a_folder_is_refused():
    with pytest.raises(UploadError, match="'lib', which is also a file"):
        unpack(zip_of({"lib": b"1", "lib/x.py": b"2"}), None)
    assert unpack(zip_of({"lib.py": b"1", "lib/x.py": b"2"}), None)  # positive control


@pytest.mark.parametrize("problem", list(BAD_NAMES))
def test_bad_names_are_422_at_upload_naming_the_entry(sandbox_factory, problem):
    sb = sandbox_factory(demo=False)
    name, shown = BAD_NAMES[problem]
    response = sb.api(
        "POST", "customTemplates/", data=FIELDS, files={"file": ("t.tar.gz", raw_tar(name))}
    )
    assert response.status_code == 422, response.text
    message = response.json()["errors"]["file"]
    assert problem in message and shown in message
    assert sb.api("GET", "customTemplates/").json()["totalCount"] == 0


def test_a_file_folder_clash_across_uploads_of_a_version_is_422(sandbox_factory):
    sb = sandbox_factory(demo=False)
    source = sb.api("POST", "customApplicationSources/", json={"name": "s"}).json()
    url = f"customApplicationSources/{source['id']}/versions/{source['latestVersion']['id']}/"

    def send(path: str) -> requests.Response:
        return sb.api("PATCH", url, files=[("file", ("f", b"1"))], data=[("filePath", path)])

    assert send("lib").status_code == 200
    response = send("lib/x.py")
    assert response.status_code == 422, response.text
    assert "'lib', which is also a file" in response.json()["errors"]["filePath"]
    items = sb.api("GET", url).json()["items"]
    assert [item["filePath"] for item in items] == ["lib"]  # nothing of the refused change
