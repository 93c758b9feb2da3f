"""A run's environment, assembled in one place from an allow-list (nothing else leaks in)."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

# What an application gets from the sandbox's own environment; nothing else (no cloud keys,
# agent sockets, proxies or the sandbox's tokens).
INHERITED = ("PATH", "HOME", "LANG", "TZ", "TMPDIR", "TERM")
INHERITED_PREFIXES = ("LC_",)
# What the application may be given by the sandbox itself (see RunSpec.env).
GIVEN_PREFIXES = ("DATAROBOT_", "MLOPS_RUNTIME_PARAM_")
GIVEN_NAMES = ("APPLICATION_ID", "SCRIPT_NAME", "DR_CUSTOM_APP_EXTERNAL_URL", "BASE_PATH")
# What a build (``build-app.sh``) is given of them, as DataRobot gives its image builds.
BUILD_NAMES = ("BASE_PATH", "APPLICATION_ID", "DATAROBOT_ENDPOINT")


def build_variables(given: Mapping[str, str]) -> dict[str, str]:
    """The variables ``build-app.sh`` gets from a run's ``given`` ones (not the token)."""
    found = {name: given[name] for name in BUILD_NAMES if name in given}
    return {**found, "PYTHONUNBUFFERED": "1"}


MARKER = "DR_NOTEBOOK_SANDBOX_RUN"  # the run's mark, read from /proc/<pid>/environ


def run_environment(
    given: Mapping[str, str],
    port: int | None,
    marker: str,
    source: Mapping[str, str] | None = None,
    python_bin: Path | None = None,
    bind_address: str | None = "127.0.0.1",
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The complete environment of a run.

    ``given`` holds the DataRobot variables and runtime parameters (other names are dropped);
    ``source`` is the sandbox's own environment (``os.environ`` by default), of which only
    :data:`INHERITED` and ``LC_*`` pass. ``PATH`` starts with ``python_bin`` (the built
    environment's ``bin``; the sandbox's Python by default). ``bind_address`` None leaves
    ``BIND_ADDRESS`` unset (an app in its own network binds where it likes, as on DataRobot);
    ``extra`` is set last (``VIRTUAL_ENV``, what the network's doors need).
    """
    source = os.environ if source is None else source
    env = {k: v for k, v in source.items() if k in INHERITED or k.startswith(INHERITED_PREFIXES)}
    env["PATH"] = os.pathsep.join(
        p
        for p in (str(python_bin or Path(sys.executable).parent), env.get("PATH", os.defpath))
        if p
    )
    env.update({k: v for k, v in given.items() if k.startswith(GIVEN_PREFIXES) or k in GIVEN_NAMES})
    if port is not None:
        env["PORT"] = str(port)
    if bind_address is not None:
        env["BIND_ADDRESS"] = bind_address
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    env[MARKER] = marker
    return env
