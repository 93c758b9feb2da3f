"""Unpacking uploaded template content: formats, path traversal, links and size caps."""

from __future__ import annotations

import gzip
import io
import tarfile
import zipfile

import pytest

from dr_notebook.sandbox import uploads
from dr_notebook.sandbox.uploads import UploadError, unpack


def zip_of(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buf.getvalue()


def tar_of(entries: dict[str, bytes], mode: str = "w:gz", link: str | None = None) -> bytes:
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
    with pytest.raises(UploadError, match="more than 5 files"):
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
