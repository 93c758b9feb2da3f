"""Server-given paths never write outside the download folder."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from dr_notebook import errors as drn_errors
from dr_notebook.downloads import (
    UnsafePathError,
    content_bytes,
    download_files,
    plan_writes,
    target_path,
    write_file,
)
from dr_notebook.errors import DataRobotError, ExistingFileError

HOSTILE = [
    "/etc/passwd",
    "\\\\server\\share\\x",
    "C:\\Windows\\x.txt",
    "c:relative.txt",
    "../outside.txt",
    "a/../../outside.txt",
    "a\\..\\..\\outside.txt",
    "",
    "   ",
    ".",
    "a/\x00b",
]


@pytest.mark.parametrize("server_path", HOSTILE)
def test_hostile_paths_are_refused(tmp_path: Path, server_path: str) -> None:
    with pytest.raises(UnsafePathError):
        target_path(tmp_path / "dl", server_path)


@pytest.mark.parametrize(
    ("server_path", "expected"),
    [("app.py", "app.py"), ("./src/app.py", "src/app.py"), ("src\\ui\\x.css", "src/ui/x.css")],
)
def test_ordinary_paths_land_inside(tmp_path: Path, server_path: str, expected: str) -> None:
    assert target_path(tmp_path, server_path) == tmp_path / expected


def test_a_symbolic_link_on_the_way_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "dl"
    root.mkdir()
    (root / "src").symlink_to(outside, target_is_directory=True)
    with pytest.raises(UnsafePathError, match="symbolic link"):
        target_path(root, "src/app.py")
    # Positive control: the same path without the link is accepted.
    (root / "src").unlink()
    assert target_path(root, "src/app.py") == root / "src" / "app.py"


def test_a_symbolic_link_as_the_file_is_refused(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    root = tmp_path / "dl"
    root.mkdir()
    (root / "app.py").symlink_to(victim)
    with pytest.raises(UnsafePathError):
        plan_writes(root, ["app.py"], overwrite=True)
    assert victim.read_text() == "keep"


def test_existing_files_are_kept_unless_overwrite(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("mine")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        plan_writes(tmp_path, ["new.py", "app.py"])
    plan = plan_writes(tmp_path, ["new.py", "app.py"], overwrite=True)
    for local in plan.values():
        write_file(local, b"theirs", root=tmp_path)
    assert (tmp_path / "app.py").read_bytes() == b"theirs"
    assert sorted(os.listdir(tmp_path)) == ["app.py", "new.py"]


def test_two_server_paths_for_one_file_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UnsafePathError, match="two files"):
        plan_writes(tmp_path, ["a/b.txt", "a\\b.txt"])


def test_a_file_where_the_folder_should_be(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match="choose another folder"):
        plan_writes(tmp_path / "file", ["a.txt"])


# all or nothing


def fetch_from(files: dict[str, dict[str, str]]) -> Callable[[str], bytes]:
    """A fetch over ``{path: JSON body}``, as the resources' fetches read them."""
    return lambda path: content_bytes(files[path])


def test_paths_equal_but_for_case_clash(tmp_path: Path) -> None:
    with pytest.raises(UnsafePathError, match="two files"):
        plan_writes(tmp_path, ["README.md", "readme.md"])


def test_a_file_where_a_folder_is_needed_clashes(tmp_path: Path) -> None:
    with pytest.raises(UnsafePathError, match="both as a file and as the folder"):
        plan_writes(tmp_path, ["src", "src/app.py"])
    with pytest.raises(UnsafePathError, match="both as a file and as the folder"):
        plan_writes(tmp_path, ["SRC/app.py", "src"])
    (tmp_path / "lib").write_text("a file on disk")
    with pytest.raises(UnsafePathError, match="is a file, not a folder"):
        plan_writes(tmp_path, ["lib/x.py"], overwrite=True)


def test_the_existing_file_error_is_both_kinds(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("mine")
    with pytest.raises(ExistingFileError) as info:
        plan_writes(tmp_path, ["app.py"])
    assert isinstance(info.value, FileExistsError) and isinstance(info.value, DataRobotError)
    assert drn_errors.UnsafePathError is UnsafePathError


@pytest.mark.parametrize("exists", [True, False], ids=["into-a-folder", "new-folder"])
def test_a_missing_content_leaves_the_target_as_it_was(tmp_path: Path, exists: bool) -> None:
    target = tmp_path / "dl"
    if exists:
        target.mkdir()
        (target / "keep.txt").write_text("mine")
    files: dict[str, dict[str, str]] = {
        "a.txt": {"content": "one"},
        "b/c.txt": {"filePath": "b/c.txt"},
    }
    with pytest.raises(DataRobotError, match=r"no content for the file b/c\.txt"):
        download_files(target, files, fetch_from(files))
    assert sorted(p.name for p in tmp_path.rglob("*")) == (["dl", "keep.txt"] if exists else [])
    # Positive control: with the content, every file lands, and no temporary folder is left.
    files["b/c.txt"]["content"] = "two"
    written = download_files(target, files, fetch_from(files))
    assert [p.read_text() for p in written] == ["one", "two"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dl"]
