"""The ``dr-notebook`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """``dr-notebook <command> [options]``; today the command is ``sandbox``."""
    try:
        return _main(argv)
    except KeyboardInterrupt:  # Ctrl-C before the sandbox handles signals (imports, options)
        print("dr-notebook sandbox: stopped.", file=sys.stderr, flush=True)
        return 0


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
