"""Installed like any package: the built wheel in a fresh virtual environment, used from there.

``uv build`` makes the sdist and, from it, the wheel, each in an isolated build environment;
``twine check`` reads both. The wheel is then installed with its ``sandbox`` extra into a new
venv (no system site-packages, so its own dependencies have to install; uv resolves the same
metadata pip does, from its cache), and that venv's ``dr-notebook sandbox``, ``drn.Client`` and
IPython magics are used against each other. Every test shares that one build and one venv.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import venv
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from uv import find_uv_bin

import dr_notebook

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
CATALOGUE = ROOT / "dr_notebook" / "sandbox" / "catalogue"
EXPORT = re.compile(r"^export (DATAROBOT_ENDPOINT|DATAROBOT_API_TOKEN)=(\S+)$")


@dataclass
class Built:
    sdist: Path
    wheel: Path


def run(*argv: str | Path, timeout: float = 300, **kwargs: Any) -> str:
    result = subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, timeout=timeout, **kwargs
    )
    assert result.returncode == 0, f"{argv}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """``uv build``: the sdist, then the wheel built from the sdist (isolated builds)."""
    out = tmp_path_factory.mktemp("dist")
    run(find_uv_bin(), "build", "-q", "--out-dir", out, ROOT, cwd=ROOT)
    (sdist,) = out.glob("dr_notebook-*.tar.gz")
    (wheel,) = out.glob("dr_notebook-*.whl")
    return Built(sdist, wheel)


@pytest.fixture(scope="module")
def fresh_venv(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A new venv with only the wheel and what it depends on (``[sandbox]`` extra)."""
    home = tmp_path_factory.mktemp("venv") / "env"
    venv.create(home, with_pip=False, system_site_packages=False)
    started = time.monotonic()
    run(find_uv_bin(), "pip", "install", "-q", "--python", home / "bin" / "python",
        f"{built.wheel}[sandbox]", timeout=900)  # fmt: skip
    took = time.monotonic() - started
    print(f"\nthe wheel and its dependencies installed into a fresh venv in {took:.1f} s")
    yield home


def test_twine_accepts_both_distributions(built: Built) -> None:
    out = run(sys.executable, "-m", "twine", "check", "--strict", built.sdist, built.wheel)
    assert out.count("PASSED") == 2, out


def test_wheel_carries_the_whole_catalogue_and_py_typed(built: Built) -> None:
    names = set(zipfile.ZipFile(built.wheel).namelist())
    assert "dr_notebook/py.typed" in names
    source_files = {
        p.relative_to(ROOT).as_posix()
        for p in CATALOGUE.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert source_files <= names, sorted(source_files - names)
    assert any("/.streamlit/" in name for name in source_files)  # dot-folders count too
    assert sum(name.endswith("/files/docs/screenshot.png") for name in names) == 37


def test_one_version_in_code_wheel_and_user_agent(built: Built, fresh_venv: Path) -> None:
    metadata = (
        zipfile.ZipFile(built.wheel)
        .read(f"dr_notebook-{dr_notebook.__version__}.dist-info/METADATA")
        .decode()
    )
    assert f"\nVersion: {dr_notebook.__version__}\n" in metadata
    installed = run(fresh_venv / "bin" / "python", "-c",
                    "import dr_notebook; print(dr_notebook.__version__)").strip()  # fmt: skip
    assert installed == dr_notebook.__version__
    with installed_sandbox(fresh_venv) as env:
        run(fresh_venv / "bin" / "python", "-c",
            "import dr_notebook as drn; drn.Client().check_connection()", env=env)  # fmt: skip
        stats = requests.get(
            env["DATAROBOT_ENDPOINT"].removesuffix("/api/v2") + "/_sandbox/stats/",
            headers={"Authorization": f"Bearer {env['DATAROBOT_API_TOKEN']}"},
            timeout=10,
        ).json()
    agents = {r["user_agent"] for r in stats["requests"]}
    assert agents == {f"dr-notebook/{dr_notebook.__version__}"}, agents


def test_installed_wheel_lists_templates_and_runs_the_magics(
    fresh_venv: Path, tmp_path: Path
) -> None:
    python = fresh_venv / "bin" / "python"
    with installed_sandbox(fresh_venv) as env:
        out = run(python, "-c", "import dr_notebook as drn, pathlib; "
                  "print(len(drn.Client().templates.list()), pathlib.Path(drn.__file__).parent)",
                  env=env, cwd=tmp_path)  # fmt: skip
        count, where = out.split()
        assert int(count) == 37
        assert Path(where).is_relative_to(fresh_venv), where  # not this checkout
        script = tmp_path / "magics.ipy"
        script.write_text(
            "%load_ext dr_notebook\n"
            "frame = %dr_templates --type customApplicationTemplate\n"
            "print('rows', len(frame))\n"
            "%dr_templates --help\n"
        )
        out = run(fresh_venv / "bin" / "ipython", "--quick", "--no-banner", "--colors=nocolor",
                  script, env=env, cwd=tmp_path)  # fmt: skip
    assert "rows 25" in out, out
    assert "usage: %dr_templates" in out, out


@contextmanager
def installed_sandbox(home: Path) -> Iterator[dict[str, str]]:
    """``dr-notebook sandbox --port 0`` from the venv; yields the environment to reach it."""
    db = home.parent / f"sandbox-{time.monotonic_ns()}.db"
    proc = subprocess.Popen(
        [str(home / "bin" / "dr-notebook"), "sandbox", "--port", "0", "--db", str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        found = {}
        for _ in range(2):
            line = proc.stdout.readline().strip() if proc.stdout else ""
            match = EXPORT.match(line)
            assert match, line
            found[match.group(1)] = match.group(2)
        keep = ("PATH", "HOME", "LANG", "TMPDIR")
        yield {k: v for k, v in os.environ.items() if k in keep} | found
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
