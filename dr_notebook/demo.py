"""``make demo``: a local sandbox with the demo catalogue and JupyterLab on the quickstart notebook.

Run ``python -m dr_notebook.demo [options]``. The sandbox keeps its database under ``.sandbox/``
in the current directory, so what you create is still there next time; JupyterLab serves copies
of the notebooks in ``.sandbox/notebooks/`` (made when missing), so the clone stays clean. Its
tokens are generated on every start and reach the notebook kernels and JupyterLab's terminals
through the environment (``DATAROBOT_ENDPOINT`` / ``DATAROBOT_API_TOKEN``); they are never
printed, and are written only to ``.sandbox/demo.env`` (mode 0600, removed on stop), which
``dr-notebook env`` reads for a shell. Ctrl-C (or SIGTERM, SIGHUP) stops JupyterLab, its kernels
and the sandbox.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import requests

try:
    import psutil
except ImportError:
    raise ImportError(
        "The demo launcher needs the lab extra: pip install 'dr-notebook[lab]' (make demo does)."
    ) from None

from dr_notebook.app_links import LINK_BASE_ENV
from dr_notebook.demo_env import env_file_for, write_env_file
from dr_notebook.sandbox.runtime.builder import Builder, BuildError
from dr_notebook.sandbox.runtime.interpreters import default
from dr_notebook.sandbox.server import TOKENS_ENV
from dr_notebook.sandbox.settings import envs_dir_for

READY_PREFIX = "dr-notebook demo ready:"
"""The line printed once the sandbox and JupyterLab both answer (tests wait for it)."""

_STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


class DemoError(RuntimeError):
    """A part of the demo could not start; the message says which and why."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago on ``host``."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The launcher's command line."""
    parser = argparse.ArgumentParser(
        prog="python -m dr_notebook.demo",
        description="Start the sandbox with the demo catalogue and JupyterLab on the notebooks.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface for both servers")
    parser.add_argument("--port", type=int, default=0, help="sandbox port (0: a free one)")
    parser.add_argument("--lab-port", type=int, default=0, help="JupyterLab port (0: a free one)")
    parser.add_argument(
        "--db", type=Path, default=Path(".sandbox/demo.db"), help="sandbox database file"
    )
    parser.add_argument(
        "--notebook-dir",
        type=Path,
        default=None,
        help="JupyterLab's root folder (default: copies of notebooks/ in the database's folder,"
        " made when missing, so the clone stays clean)",
    )
    parser.add_argument(
        "--notebook", default="quickstart.ipynb", help="notebook to open, relative to the root"
    )
    parser.add_argument("--no-browser", action="store_true", help="do not open a web browser")
    parser.add_argument(
        "--headless",
        action="store_true",
        help="test server: no JupyterLab token, no news or update checks, app exposed to scripts",
    )
    parser.add_argument(
        "--settings-dir",
        type=Path,
        default=None,
        help="JupyterLab settings and workspaces folder (default: JupyterLab's own;"
        " with --headless a temporary one)",
    )
    parser.add_argument(
        "--startup-timeout", type=float, default=120.0, help="seconds to wait for each server"
    )
    parser.add_argument(
        "--app-links",
        choices=("direct", "lab"),
        default="direct",
        help="where 'Open application' links go: the sandbox's own port (direct), or through"
        " JupyterLab's address with jupyter-server-proxy (lab: when only JupyterLab's port"
        " reaches the browser, as in a container or a remote machine)",
    )
    return parser.parse_args(argv)


def prepare_base_environment(envs: Path) -> None:
    """Build the applications' base environment once (with progress), or say it is reused.

    Applications' own environments are built on launch; with the base packages resolved and
    in uv's cache, each takes seconds instead of the first build's download.
    """
    base = default()
    builder = Builder(envs)
    started = time.monotonic()
    print(
        f"Applications' base environment: Python {base.python_version} with "
        f"{', '.join(base.packages)} in {envs}",
        flush=True,
    )

    def progress(line: str) -> None:
        if line.startswith(("Building", "Resolving", "Installing", "Resolved", "Installed")):
            print(f"  {line}", flush=True)

    with tempfile.TemporaryDirectory() as folder:
        try:
            built = builder.build(base, {}, Path(folder), progress)
        except BuildError as exc:  # the sandbox still starts; launches will say why
            print(f"  could not build it: {exc.message.splitlines()[0]}", flush=True)
            return
    if built.reused:
        print("  built before: reused.", flush=True)
    elif built.offline:
        print("  no package index answers: applications use the sandbox's packages.", flush=True)
    else:
        print(f"  ready in {time.monotonic() - started:.0f} s (once).", flush=True)


NOTEBOOKS = Path("notebooks")
"""The project's notebooks, relative to the folder ``make demo`` runs in."""


def served_notebooks(originals: Path, copies: Path) -> Path:
    """``copies``, holding a copy of every notebook of ``originals`` it does not have yet
    (the user's edits are kept; JupyterLab saving outputs never touches the clone)."""
    copies.mkdir(parents=True, exist_ok=True)
    for notebook in sorted(originals.glob("*.ipynb")):
        target = copies / notebook.name
        if not target.exists():
            shutil.copyfile(notebook, target)
    return copies


def wait_until_ready(
    url: str, process: subprocess.Popen[bytes], timeout: float, headers: dict[str, str]
) -> None:
    """Poll ``url`` until it answers 200; fail early if ``process`` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DemoError(f"{url} did not come up: its process exited ({process.returncode})")
        try:
            if requests.get(url, headers=headers, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise DemoError(f"{url} did not answer within {timeout:.0f} s")


@dataclass
class Demo:
    """The two server processes of the demo and how to stop them."""

    args: argparse.Namespace
    tokens: dict[str, str] = field(
        default_factory=lambda: {role: secrets.token_hex(20) for role in ("admin", "user")}
    )
    lab_token: str = field(default_factory=lambda: secrets.token_hex(24))
    sandbox: subprocess.Popen[bytes] | None = None
    lab: subprocess.Popen[bytes] | None = None
    _scratch: tempfile.TemporaryDirectory[str] | None = None

    @property
    def endpoint(self) -> str:
        """Where the kernels find the sandbox's API."""
        return f"http://{self.args.host}:{self.args.port}/api/v2"

    @property
    def lab_url(self) -> str:
        """JupyterLab's URL for the opening notebook (no token in it)."""
        notebook = self.args.notebook.lstrip("/")
        return f"http://{self.args.host}:{self.args.lab_port}/lab/tree/{notebook}"

    def start(self) -> None:
        """Start the sandbox, then JupyterLab; return once both answer."""
        args = self.args
        if args.notebook_dir is None:
            args.notebook_dir = served_notebooks(NOTEBOOKS, args.db.parent / "notebooks")
        if not (args.notebook_dir / args.notebook).is_file():
            raise DemoError(f"no notebook {args.notebook_dir / args.notebook}: run from the repo")
        args.port = args.port or free_port(args.host)
        args.lab_port = args.lab_port or free_port(args.host)
        prepare_base_environment(envs_dir_for(args.db))
        self._start_sandbox()
        self._start_lab()

    def _start_sandbox(self) -> None:
        args = self.args
        args.db.parent.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            "-m",
            "dr_notebook.sandbox",
            "--host",
            args.host,
            "--port",
            str(args.port),
            "--db",
            str(args.db),
            "--run-apps",  # applications built in the demo really run, on this machine
        ]
        # Tokens through the environment: a command line is visible to every local user.
        env = dict(os.environ)
        env[TOKENS_ENV] = ",".join(f"{role}={token}" for role, token in self.tokens.items())
        log_path = args.db.with_suffix(".log")
        with open(log_path, "ab") as log:
            # stdout carries the token lines meant for a terminal user: not wanted here.
            self.sandbox = subprocess.Popen(
                command,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,
            )
        print(f"Sandbox: {self.endpoint} (database {args.db}, log {log_path})", flush=True)
        wait_until_ready(
            f"{self.endpoint}/version/",
            self.sandbox,
            args.startup_timeout,
            {"Authorization": f"Bearer {self.tokens['admin']}"},
        )
        write_env_file(args.db, self.endpoint, self.tokens["admin"])

    def _lab_command(self) -> list[str]:
        args = self.args
        command = [
            sys.executable,
            "-m",
            "jupyterlab",
            f"--ServerApp.ip={args.host}",
            f"--ServerApp.port={args.lab_port}",
            "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={args.notebook_dir.resolve()}",
            f"--LabApp.default_url=/lab/tree/{args.notebook.lstrip('/')}",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.append("--allow-root")  # containers often run as root
        if args.no_browser or args.headless:
            command.append("--no-browser")
        terminal = self._terminal_shell()
        if terminal:
            command.append(f"--ServerApp.terminado_settings=shell_command={shlex.join(terminal)}")
        if args.settings_dir is not None:
            command += [
                f"--LabApp.user_settings_dir={args.settings_dir / 'user-settings'}",
                f"--LabApp.workspaces_dir={args.settings_dir / 'workspaces'}",
            ]
        if args.headless:
            command += [
                "--IdentityProvider.token=",
                "--ServerApp.password=",
                "--LabApp.news_url=None",
                "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                "--LabApp.expose_app_in_browser=True",
                # The same server answers Notebook 7's /tree and /notebooks/ pages.
                "--JupyterNotebookApp.expose_app_in_browser=True",
            ]
        return command

    def _terminal_shell(self) -> list[str]:
        """The shell JupyterLab's terminals start: for bash, one that reads the user's own
        start-up files as a login shell does, then puts this Python's tools first on
        ``PATH`` (start-up files such as pyenv's would otherwise put theirs first)."""
        shell = os.environ.get("SHELL") or shutil.which("bash") or ""
        if Path(shell).name != "bash":
            return []  # other shells get the PATH of the environment only
        scripts = shlex.quote(str(Path(sys.executable).parent))
        rc = self.args.db.parent / "terminal.bashrc"
        rc.parent.mkdir(parents=True, exist_ok=True)
        rc.write_text(
            "# make demo's terminals: the user's start-up files, then the demo's Python first\n"
            "[ -r /etc/profile ] && . /etc/profile\n"
            "for f in ~/.bash_profile ~/.bash_login ~/.profile; do\n"
            '  if [ -r "$f" ]; then . "$f"; break; fi\n'
            "done\n"
            f'export PATH={scripts}:"$PATH"\n'
        )
        return [shell, "--rcfile", str(rc.resolve()), "-i"]

    def _write_headless_settings(self) -> None:
        """A settings folder of its own in which JupyterLab asks nothing (news, updates)."""
        if self.args.settings_dir is None:
            self._scratch = tempfile.TemporaryDirectory(prefix="dr-notebook-lab-")
            self.args.settings_dir = Path(self._scratch.name)
        notification = (
            self.args.settings_dir
            / "user-settings"
            / "@jupyterlab"
            / "apputils-extension"
            / "notification.jupyterlab-settings"
        )
        notification.parent.mkdir(parents=True, exist_ok=True)
        notification.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))

    def _lab_environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env["DATAROBOT_ENDPOINT"] = self.endpoint
        env["DATAROBOT_API_TOKEN"] = self.tokens["admin"]
        # JupyterLab's terminals start from this environment: this Python's ipython and
        # dr-notebook come first, not whatever the shell would find.
        scripts = str(Path(sys.executable).parent)
        env["PATH"] = os.pathsep.join([scripts, *env.get("PATH", "").split(os.pathsep)])
        # A config file or a stale variable must not override the sandbox for the kernels.
        env.pop("DATAROBOT_CONFIG_FILE", None)
        if not self.args.headless:
            env["JUPYTER_TOKEN"] = self.lab_token
        # jupyter-server-proxy (the lab extra) serves the sandbox at /proxy/<port>/ on
        # JupyterLab's own address; the kernels' cards link there when asked.
        if self.args.app_links == "lab":
            env[LINK_BASE_ENV] = f"/proxy/{self.args.port}"
        else:
            env.pop(LINK_BASE_ENV, None)
        return env

    def _start_lab(self) -> None:
        args = self.args
        if args.headless:
            self._write_headless_settings()
        self.lab = subprocess.Popen(
            self._lab_command(),
            env=self._lab_environment(),
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        headers = {} if args.headless else {"Authorization": f"token {self.lab_token}"}
        wait_until_ready(
            f"http://{args.host}:{args.lab_port}/api/status",
            self.lab,
            args.startup_timeout,
            headers,
        )

    def stop(self) -> None:
        """Stop JupyterLab (and every kernel it started), then the sandbox."""
        if self.lab is not None:
            _stop_tree(self.lab, grace=15.0)
            self.lab = None
        if self.sandbox is not None:
            _stop_tree(self.sandbox, grace=5.0)
            self.sandbox = None
            env_file_for(self.args.db).unlink(missing_ok=True)
        if self._scratch is not None:
            self._scratch.cleanup()
            self._scratch = None


def _stop_tree(process: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM a process; after ``grace`` seconds SIGKILL it and every descendant still alive."""
    # Kernels run in sessions of their own, so killing the process group would miss them:
    # remember the whole tree before asking the parent to stop.
    try:
        descendants = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        descendants = []
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    _gone, alive = psutil.wait_procs(descendants, timeout=min(grace, 5.0))
    for proc in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    psutil.wait_procs(alive, timeout=5.0)


class _Stop(Exception):
    """Raised from a signal handler to leave the wait loop."""


def _raise_stop(signum: int, _frame: object) -> None:
    raise _Stop(signal.Signals(signum).name)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo until Ctrl-C or a stop signal; return the exit status."""
    args = parse_args(argv)
    previous = {sig: signal.signal(sig, _raise_stop) for sig in _STOP_SIGNALS}
    demo = Demo(args)
    try:
        demo.start()
        print(f"{READY_PREFIX} {demo.lab_url}", flush=True)
        if not args.headless:
            print(
                f"Open {demo.lab_url}?token={demo.lab_token} if no browser window opened."
                " Press Ctrl-C to stop.",
                flush=True,
            )
        while True:
            for name, process in (("JupyterLab", demo.lab), ("sandbox", demo.sandbox)):
                if process is not None and process.poll() is not None:
                    print(f"The {name} exited ({process.returncode}); stopping.", flush=True)
                    return 1
            time.sleep(0.5)
    except _Stop as stop:
        print(f"\nStopping ({stop}).", flush=True)
        return 0
    except KeyboardInterrupt:
        return 0
    except DemoError as err:
        print(f"dr-notebook demo: {err}", file=sys.stderr, flush=True)
        return 1
    finally:
        # A second Ctrl-C must not interrupt the cleanup half-way.
        for sig in _STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        demo.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


if __name__ == "__main__":
    sys.exit(main())
