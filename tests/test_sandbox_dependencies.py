"""Python projects as DataRobot's templates declare them: ``pyproject.toml`` with a ``uv.lock``
(installed frozen), ``pyproject.toml`` alone (resolved), ``requirements.txt``; which one wins;
and a Python the project or its environment needs that this machine lacks."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import uv

from dr_notebook.sandbox.runtime import dependencies
from dr_notebook.sandbox.runtime.builder import Builder, BuildError
from dr_notebook.sandbox.runtime.interpreters import ExecutionEnvironment, default

pytestmark = pytest.mark.slow  # they run uv against the package index


def pyproject(dependency: str, requires: str | None = None) -> bytes:
    """A project as DataRobot's templates write it: no build system, ``package = false``."""
    requires = requires or f">={default().python_version}"
    return (
        '[project]\nname = "demo-app"\nversion = "0.1.0"\n'
        f'requires-python = "{requires}"\ndependencies = ["{dependency}"]\n\n'
        '[dependency-groups]\ndev = ["toolz"]\n\n[tool.uv]\npackage = false\n'
    ).encode()


def locked(tmp_path: Path, dependency: str) -> dict[str, bytes]:
    """``pyproject.toml`` and the ``uv.lock`` that ``uv lock`` writes for it."""
    folder = tmp_path / "lock-source"
    folder.mkdir()
    (folder / "pyproject.toml").write_bytes(pyproject(dependency))
    subprocess.run(
        [uv.find_uv_bin(), "lock", "--quiet", "--python", default().python],
        cwd=folder, check=True, capture_output=True,
    )  # fmt: skip
    return {name: (folder / name).read_bytes() for name in ("pyproject.toml", "uv.lock")}


def bare() -> ExecutionEnvironment:
    """The sandbox's own Python without base packages (quick to build)."""
    own = default()
    return ExecutionEnvironment("e" * 24, "f" * 24, "Test", own.python, own.python_version, ())


def build(tmp_path: Path, files: dict[str, bytes], name: str, base=None):
    folder = tmp_path / name
    folder.mkdir()
    for path, content in files.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_bytes(content)
    log: list[str] = []
    built = Builder(tmp_path / "envs").build(base or bare(), files, folder, log.append)
    return built, "\n".join(log)


def versions(python: Path, *names: str) -> dict[str, str | None]:
    probe = (
        "import importlib.metadata as m, json, sys\n"
        "def v(n):\n    try: return m.version(n)\n    except m.PackageNotFoundError: return None\n"
        "print(json.dumps({n: v(n) for n in sys.argv[1:]}))"
    )
    result = subprocess.run([str(python), "-c", probe, *names], capture_output=True, text=True)
    return json.loads(result.stdout)


def test_the_order_is_lock_then_pyproject_then_requirements():
    lock, project, reqs = b"version = 1\n", pyproject("six"), b"six\n"
    assert dependencies.plan({"pyproject.toml": project, "uv.lock": lock}).kind == "lock"
    assert dependencies.plan({"pyproject.toml": project, "requirements.txt": reqs}).kind == (
        "pyproject"
    )
    assert dependencies.plan({"requirements.txt": reqs, "uv.lock": lock}).kind == "requirements"
    assert dependencies.plan({"app.py": b""}).kind == "none"
    nested = {"src/start-app.sh": b"", "src/pyproject.toml": project, "src/uv.lock": lock}
    assert dependencies.plan(nested) == dependencies.Plan("lock", "src/")
    assert dependencies.requires_python({"pyproject.toml": pyproject("six", ">=3.12,<3.13")}) == (
        ">=3.12,<3.13"
    )


def test_a_lock_is_installed_frozen_without_dev_dependencies(tmp_path):
    files = locked(tmp_path, "tinydb==4.8.0")
    # pyproject.toml changed after locking: frozen means the lock is what gets installed
    files["pyproject.toml"] = pyproject("tinydb==4.7.1")
    files["requirements.txt"] = b"six\n"  # a stale leftover: the lock wins
    built, log = build(tmp_path, files, "locked")
    assert "Installing from uv.lock (frozen, without dev dependencies)." in log
    assert versions(built.python, "tinydb", "toolz", "six", "demo-app") == {
        "tinydb": "4.8.0", "toolz": None, "six": None, "demo-app": None,
    }  # fmt: skip
    again, log = build(tmp_path, files, "again")
    assert again.reused and again.key == built.key


def test_locks_of_the_same_packages_share_one_environment_whatever_the_project(tmp_path):
    files = locked(tmp_path, "tinydb==4.8.0")
    renamed = {
        name: content.replace(b'"demo-app"', b'"another-app"') for name, content in files.items()
    }
    assert renamed != files
    builder = Builder(tmp_path / "envs")
    installed = dependencies.locked_packages(files["uv.lock"])
    assert installed is not None and [p[:2] for p in installed if p[0] != "marker"] == [
        ["tinydb", "4.8.0"]
    ]
    assert builder.key(bare(), renamed) == builder.key(bare(), files)
    (tmp_path / "lock-source").rename(tmp_path / "first")
    other = locked(tmp_path, "tinydb==4.7.1")  # control: other packages, another environment
    assert builder.key(bare(), other) != builder.key(bare(), files)
    assert dependencies.locked_packages(b"not = [toml") is None
    circle = b"""
[[package]]
name = "p"
version = "0"
source = { virtual = "." }
dependencies = [{ name = "a", extra = ["x"] }]

[[package]]
name = "a"
version = "1"
source = { registry = "https://pypi.org/simple" }

[package.optional-dependencies]
x = [{ name = "a", extra = ["y"] }]
y = [{ name = "a", extra = ["x"] }, { name = "b" }]

[[package]]
name = "b"
version = "2"
source = { registry = "https://pypi.org/simple" }
"""  # extras naming each other: followed once
    reached = dependencies.locked_packages(circle) or []
    assert [p[:2] for p in reached if p[0] != "marker"] == [["a", "1"], ["b", "2"]]


def test_a_pyproject_alone_is_resolved_and_keys_differ(tmp_path):
    files = {"pyproject.toml": pyproject("tinydb==4.7.1")}
    built, log = build(tmp_path, files, "resolved")
    assert "Resolving pyproject.toml's dependencies (no uv.lock given)." in log
    assert versions(built.python, "tinydb", "toolz") == {"tinydb": "4.7.1", "toolz": None}
    builder = Builder(tmp_path / "envs")
    other = {"pyproject.toml": pyproject("tinydb==4.8.0")}
    assert builder.key(bare(), other) != built.key
    assert builder.key(bare(), {**files, "app.py": b"x"}) == built.key
    assert builder.key(bare(), {"requirements.txt": b"tinydb==4.7.1\n"}) != built.key


def test_requires_python_the_environment_cannot_meet_fails_saying_how(tmp_path):
    own = default().python_version
    wanted = "3.12" if own != "3.12" else "3.11"
    files = {"pyproject.toml": pyproject("six", f"=={wanted}.*")}
    with pytest.raises(BuildError) as caught:
        build(tmp_path, files, "wrong-python")
    message = caught.value.message
    assert f"requires Python =={wanted}.*" in message and f"has Python {own}" in message
    assert f"uv python install {wanted}" in message
    assert f"[DataRobot] Python {wanted} Applications Base" in message
    assert not (tmp_path / "envs").exists()  # nothing was built


def test_an_environment_whose_python_is_missing_fails_saying_how(tmp_path):
    missing = ExecutionEnvironment(
        "a" * 24, "b" * 24, "[DataRobot] Python 3.99 Applications Base", "", "3.99", ()
    )
    assert missing.to_json()["description"].endswith("Python 3.99 is not installed here.")
    with pytest.raises(BuildError) as caught:
        build(tmp_path, {"requirements.txt": b"six\n"}, "missing", missing)
    assert "needs Python 3.99" in caught.value.message
    assert "uv python install 3.99" in caught.value.message
