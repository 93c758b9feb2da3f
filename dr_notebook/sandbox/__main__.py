"""``python -m dr_notebook.sandbox``: the sandbox server (options as ``dr-notebook sandbox``)."""

import sys


def _signalled() -> bool:
    signals = sys.modules.get("dr_notebook.sandbox.signals")
    return bool(signals is not None and signals.STOPPER.count)


if __name__ == "__main__":
    try:
        from dr_notebook.sandbox.signals import STOPPER

        STOPPER.install()  # from here on a signal is counted, even if an import swallows it
        from dr_notebook.sandbox.server import main

        code = main()
    except BaseException as exc:  # a signal before the sandbox handled it itself
        if isinstance(exc, SystemExit) or not (isinstance(exc, KeyboardInterrupt) or _signalled()):
            raise
        print("dr-notebook sandbox: stopped.", file=sys.stderr, flush=True)
        code = 0
    raise SystemExit(code)
