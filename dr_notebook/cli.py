"""The ``dr-notebook`` command line."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence


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
    from dr_notebook.sandbox.server import add_arguments, serve, settings_from_args

    add_arguments(sandbox)
    args = parser.parse_args(argv)
    if args.command != "sandbox":
        parser.print_help()
        return 2
    return serve(settings_from_args(args))


if __name__ == "__main__":
    raise SystemExit(main())
