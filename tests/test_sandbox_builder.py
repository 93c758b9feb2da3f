"""Application environments built with uv: cache by key, failures, offline, concurrency."""

from __future__ import annotations

import stat
import subprocess
import sys
import threading
import time
from importlib import metadata
from pathlib import Path

import pytest
import uv

from dr_notebook.sandbox.runtime.builder import Builder, BuildError
from dr_notebook.sandbox.runtime.interpreters import ExecutionEnvironment, default

pytestmark = pytest.mark.slow  # they run uv against the package index

TINY = "tinydb==4.8.0"  # a small pure-Python package the sandbox itself does not have


def base(packages: tuple[str, ...] = ("six",)) -> ExecutionEnvironment:
    own = default()
    return ExecutionEnvironment(
        "e" * 24, "f" * 24, "Test Base", own.python, own.python_version, packages
    )


def quiet(line: str) -> None:
    """A build log that goes nowhere."""


class CountingUv:
    """A uv that records each invocation before running the real one."""

    def __init__(self, folder: Path) -> None:
        self.calls = folder / "uv-calls.txt"
        self.path = folder / "uv"
        self.path.write_text(
            f'#!/bin/sh\necho "$*" >> "{self.calls}"\nexec "{uv.find_uv_bin()}" "$@"\n'
        )
        self.path.chmod(self.path.stat().st_mode | stat.S_IEXEC)

    def invocations(self) -> list[str]:
        return self.calls.read_text().splitlines() if self.calls.exists() else []


def app_folder(tmp_path: Path, files: dict[str, bytes], name: str = "app") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    for path, content in files.items():
        (folder / path).write_bytes(content)
    return folder


def test_a_package_the_sandbox_lacks_is_built_once_then_reused(tmp_path, capsys):
    with pytest.raises(metadata.PackageNotFoundError):
        metadata.version("tinydb")
    counting = CountingUv(tmp_path)
    builder = Builder(tmp_path / "envs", uv=str(counting.path))
    files = {"requirements.txt": f"{TINY}\n".encode()}
    folder = app_folder(tmp_path, files)
    log: list[str] = []
    started = time.monotonic()
    built = builder.build(base(), files, folder, log.append)
    cold = time.monotonic() - started
    assert not built.reused and built.prefix == tmp_path / "envs" / built.key
    assert any("+ tinydb==4.8.0" in line for line in log), log  # uv's own output, streamed
    probe = [str(built.python), "-c", "import tinydb, six; print(tinydb.__file__)"]
    assert str(built.prefix) in subprocess.run(probe, capture_output=True, text=True).stdout
    with pytest.raises(metadata.PackageNotFoundError):  # nothing went into the sandbox's env
        metadata.version("tinydb")
    runs_after_first = len(counting.invocations())
    assert runs_after_first >= 3  # venv, base packages, requirements.txt

    again: list[str] = []
    started = time.monotonic()
    second = builder.build(base(), files, app_folder(tmp_path, files, "other"), again.append)
    warm = time.monotonic() - started
    assert second.reused and second.key == built.key
    assert len(counting.invocations()) == runs_after_first  # no uv, so no resolver, at all
    assert again == [
        f"Reusing environment {built.key} (built before): nothing to install.",
        "Installing requirements.txt on top of the base.",  # as the first build said
    ]
    with capsys.disabled():
        print(f"\ncold build {cold:.2f} s, cached build {warm * 1000:.1f} ms, "
              f"ratio {warm / cold:.4f}")  # fmt: skip


def test_the_key_follows_python_base_and_requirements_content(tmp_path):
    builder = Builder(tmp_path / "envs")
    files = {"requirements.txt": b"flask\n"}
    same = builder.key(base(), dict(files))
    assert builder.key(base(), files) == same
    assert builder.key(base(("six", "toolz")), files) != same
    assert builder.key(base(), {"requirements.txt": b"flask\nsix\n"}) != same
    included = {"requirements.txt": b"-r more.txt\n", "more.txt": b"a\n"}
    assert builder.key(base(), included) != builder.key(
        base(), {**included, "more.txt": b"b\n"}
    )  # an included file's content counts
    assert builder.key(base(), {**files, "app.py": b"1"}) == same  # other files do not


def test_an_unknown_package_fails_with_uvs_message_and_the_line(tmp_path):
    counting = CountingUv(tmp_path)
    builder = Builder(tmp_path / "envs", uv=str(counting.path))
    files = {
        "requirements.txt": b"six\n# the next one does not exist\nsurely-no-such-dist-4711==1.0\n"
    }
    with pytest.raises(BuildError) as caught:
        builder.build(base(), files, app_folder(tmp_path, files), lambda line: None)
    assert "surely-no-such-dist-4711 was not found in the package registry" in caught.value.message
    assert caught.value.line == "requirements.txt line 3: surely-no-such-dist-4711==1.0"
    leftover = [p for p in (tmp_path / "envs").iterdir() if p.is_dir() and p.name != "bases"]
    assert leftover == []  # a failed build leaves no half environment to reuse
    runs = len(counting.invocations())
    with pytest.raises(BuildError):  # and is not cached as a success
        builder.build(base(), files, app_folder(tmp_path, files, "b"), lambda line: None)
    assert len(counting.invocations()) > runs


def test_offline_falls_back_to_the_installed_packages_and_says_so(tmp_path):
    builder = Builder(tmp_path / "envs", offline=True, uv="/nonexistent/uv")
    log: list[str] = []
    ok = {"requirements.txt": b"six\n./vendored/pkg\n"}
    built = builder.build(base(), ok, app_folder(tmp_path, ok), log.append)
    assert built.offline and built.python == Path(sys.executable) and built.prefix is None
    assert log[0].startswith("Offline: nothing is installed")
    assert any("cannot be checked offline" in line for line in log)
    missing = {"requirements.txt": f"{TINY}\n".encode()}
    with pytest.raises(BuildError, match="Missing Python distributions: tinydb"):
        builder.build(base(), missing, app_folder(tmp_path, missing, "m"), log.append)


def test_an_environment_built_online_is_reused_offline(tmp_path):
    files = {"requirements.txt": b"six\n"}
    online = Builder(tmp_path / "envs").build(base(()), files, app_folder(tmp_path, files), quiet)
    offline = Builder(tmp_path / "envs", offline=True, uv="/nonexistent/uv")
    again = offline.build(base(()), files, app_folder(tmp_path, files, "b"), quiet)
    assert again.reused and not again.offline and again.python == online.python


def test_no_package_index_answering_means_offline(tmp_path):
    builder = Builder(tmp_path / "envs", index_url="http://127.0.0.1:9/simple/", uv="/nonexistent")
    log: list[str] = []
    built = builder.build(base(), {}, app_folder(tmp_path, {}), log.append)
    assert built.offline
    assert log[0] == "No package index answers: building offline."


def test_concurrent_builds_of_one_key_happen_once(tmp_path):
    counting = CountingUv(tmp_path)
    builder = Builder(tmp_path / "envs", uv=str(counting.path))
    files = {"requirements.txt": f"{TINY}\n".encode()}
    results: list[object] = []
    logs: list[list[str]] = [[] for _ in range(4)]

    def build(index: int) -> None:
        folder = app_folder(tmp_path, files, f"app{index}")
        results.append(builder.build(base(), files, folder, logs[index].append))

    threads = [threading.Thread(target=build, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert len(results) == 4 and len({r.key for r in results}) == 1  # type: ignore[attr-defined]
    venvs = [call for call in counting.invocations() if call.startswith("venv")]
    assert len(venvs) == 1
    assert sum(not r.reused for r in results) == 1  # type: ignore[attr-defined]
    assert sum(any("waiting for it" in line for line in log) for log in logs) >= 1


def test_build_app_sh_runs_after_the_install_with_the_environment_first(tmp_path):
    files = {
        "requirements.txt": b"six\n",
        "build-app.sh": b'echo "built with $(command -v python)"\npython -c "import six"\n',
    }
    log: list[str] = []
    built = Builder(tmp_path / "envs").build(
        base(()), files, app_folder(tmp_path, files), log.append
    )
    script_line = log.index("Running build-app.sh.")
    assert any("+ six==" in line for line in log[:script_line])
    assert log[script_line + 1] == f"built with {built.bin / 'python'}"
    failing = {"build-app.sh": b"echo about to fail\nexit 3\n"}
    with pytest.raises(BuildError, match=r"build-app\.sh exited with code 3") as caught:
        Builder(tmp_path / "envs").build(
            base(()), failing, app_folder(tmp_path, failing, "f"), quiet
        )
    assert "about to fail" in caught.value.message


def fake_environment(folder: Path, modules: int = 40) -> Path:
    """A folder laid out as an environment: ``bin/python`` and some modules under ``lib``."""
    (folder / "bin").mkdir(parents=True)
    (folder / "bin" / "python").symlink_to(sys.executable)
    lib = folder / "lib"
    lib.mkdir()
    for number in range(modules):
        (lib / f"module_{number}.py").write_text(f"VALUE = {number}\n" * 200)
    return folder


def compiled(folder: Path) -> int:
    return len(list((folder / "lib" / "__pycache__").glob("*.pyc")))


def test_new_environments_are_compiled_in_the_background_one_at_a_time(tmp_path):
    builder = Builder(tmp_path / "envs")
    targets = [fake_environment(tmp_path / f"env{n}") for n in range(3)]
    seen: list[int] = []
    for target in targets:
        builder._compile_later(target)
    deadline = time.monotonic() + 120  # a hang, not slowness
    while any(compiled(t) < 40 for t in targets) and time.monotonic() < deadline:
        seen.append(len(builder._background))
        time.sleep(0.01)
    assert [compiled(t) for t in targets] == [40, 40, 40]
    assert max(seen) == 1  # never two compiling side by side
    builder.close()


def test_closing_the_builder_ends_its_background_compiling(tmp_path):
    builder = Builder(tmp_path / "envs")
    targets = [fake_environment(tmp_path / f"env{n}", modules=400) for n in range(3)]
    for target in targets:
        builder._compile_later(target)
    deadline = time.monotonic() + 60
    while not builder._background and time.monotonic() < deadline:
        time.sleep(0.01)
    running = list(builder._background)
    assert running  # positive control: it was compiling
    builder.close()
    assert all(process.poll() is not None for process in running)
    assert compiled(targets[-1]) == 0  # the queue was dropped
    builder._compile_later(targets[-1])  # a closed builder starts nothing
    assert builder._background == set()
