"""A sandbox started as nobody (uid 65534, ``setpriv``), for tests of what holds when the
sandbox itself is an unprivileged user. Needs root (CI runs as root)."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dr_notebook.sandbox.testing import SandboxServer, start_sandbox

NOBODY = 65534
REPO = Path(__file__).resolve().parents[1]  # the checkout (and its .venv) the sandbox runs from

# Runs the sandbox's Python as nobody. A Python under a private home (/root/.pyenv) is shown
# alone there, in a mount namespace of the test's own, so that nobody can run it.
UNPRIVILEGED = """set -e
repo=$1; py=$2; shift 2
prefix=$(dirname "$(dirname "$(readlink -f "$py")")")
first_closed() {  # the first folder above $1 that others cannot enter, if any
  dir=; rest=${1#/}
  while [ -n "$rest" ]; do
    dir=$dir/${rest%%/*}
    case $rest in */*) rest=${rest#*/};; *) rest=;; esac
    [ "$dir" = "$1" ] && return 0
    if [ $(( $(stat -c %a "$dir") % 2 )) -eq 0 ]; then echo "$dir"; return 0; fi
  done
}
closed=$( { first_closed "$prefix"; first_closed "$repo"; } | sort -u)
if [ -n "$closed" ]; then
  keep_py=$(mktemp -d); mount --bind "$prefix" "$keep_py"
  keep_repo=$(mktemp -d); mount --bind "$repo" "$keep_repo"
  covered=
  for dir in $closed; do
    skip=
    for c in $covered; do case "$dir/" in "$c"/*) skip=1;; esac; done
    if [ -z "$skip" ]; then mount -t tmpfs -o mode=755 drn-test "$dir"; covered="$covered $dir"; fi
  done
  mkdir -p "$prefix" "$repo"
  mount --bind "$keep_py" "$prefix"
  mount --bind "$keep_repo" "$repo"
fi
exec setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all -- "$py" "$@"
"""


@contextlib.contextmanager
def sandbox_as_nobody(**settings: Any) -> Iterator[SandboxServer]:
    """A sandbox (``start_sandbox(**settings)``) whose process runs as nobody, with its
    database and environments in a folder of nobody's own."""
    helpers = Path(tempfile.mkdtemp(prefix="drn-as-nobody-"))
    data = Path(tempfile.mkdtemp(prefix="drn-nobody-"))
    os.chown(data, NOBODY, NOBODY)
    (helpers / "as-nobody.sh").write_text(UNPRIVILEGED)
    wrapper = helpers / "python-as-nobody"
    wrapper.write_text(
        f"#!/bin/sh\nexec unshare --mount --propagation private -- sh {helpers}/as-nobody.sh "
        f'"{REPO}" "{sys.executable}" "$@"\n'
    )
    wrapper.chmod(0o755)
    python = sys.executable
    sys.executable = str(wrapper)
    try:
        # nobody's own home and uv cache (root's are closed to it)
        environ = {"HOME": str(data), "UV_CACHE_DIR": str(data / "uv-cache")}
        with start_sandbox(
            db_path=data / "s.db", envs_dir=data / "envs", environ=environ, **settings
        ) as server:
            sys.executable = python
            yield server
    finally:
        sys.executable = python
        shutil.rmtree(data, ignore_errors=True)
        shutil.rmtree(helpers, ignore_errors=True)
