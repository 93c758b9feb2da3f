"""The ``dr-notebook`` command line."""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from dr_notebook.demo_env import DEFAULT_DB, export_lines, running_demo

# What the ``sandbox`` extra installs that the sandbox imports when it starts.
_SANDBOX_MODULES = ("fastapi", "uvicorn", "psutil", "packaging")


def missing_sandbox_module() -> str | None:
    """The first module of the ``sandbox`` extra that cannot be imported, if any."""
    for module in _SANDBOX_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError:
            return module
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """``dr-notebook <command> [options]``; today the command is ``sandbox``."""
    from dr_notebook.sandbox.signals import STOPPER

    previous = STOPPER.install()  # a signal is counted from here on, even if an import hides it
    try:
        return _main(argv)
    except BaseException as exc:  # a signal before the sandbox handled it itself
        if isinstance(exc, SystemExit) or not (isinstance(exc, KeyboardInterrupt) or STOPPER.count):
            raise
        print("dr-notebook sandbox: stopped.", file=sys.stderr, flush=True)
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _main(argv: Sequence[str] | None) -> int:
    parser = argparse.ArgumentParser(
        prog="dr-notebook",
        description="DataRobot custom templates in Jupyter: tools for the command line.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    sandbox = commands.add_parser(
        "sandbox",
        help="run a local DataRobot-compatible API server",
        description="Run a local DataRobot-compatible API server for custom templates.",
    )
    env = commands.add_parser(
        "env",
        help="print the export lines for the demo running in this folder",
        description="Print the DATAROBOT_ENDPOINT and DATAROBOT_API_TOKEN export lines of the "
        'demo (make demo) running in this folder: eval "$(dr-notebook env)".',
    )
    env.add_argument(
        "--db", type=Path, default=DEFAULT_DB, help=f"the demo's database (default {DEFAULT_DB})"
    )
    from dr_notebook.sandbox.server import add_arguments, serve, settings_from_args

    add_arguments(sandbox)
    args = parser.parse_args(argv)
    if args.command == "env":
        return _print_demo_env(args.db)
    if args.command != "sandbox":
        parser.print_help()
        return 2
    missing = missing_sandbox_module()
    if missing:
        print(
            f"dr-notebook sandbox needs the 'sandbox' extra ({missing} is not installed): "
            "pip install 'dr-notebook[sandbox]'",
            file=sys.stderr,
        )
        return 2
    return serve(settings_from_args(args))


def _print_demo_env(db: Path) -> int:
    found = running_demo(db)
    if found is None:
        print(
            f"dr-notebook env: no demo is running with {db} in this folder; start one with "
            "make demo (or pass --db).",
            file=sys.stderr,
        )
        return 1
    print(export_lines(found["DATAROBOT_ENDPOINT"], found["DATAROBOT_API_TOKEN"]), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
