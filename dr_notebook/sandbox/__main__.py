"""``python -m dr_notebook.sandbox``: the sandbox server (options as ``dr-notebook sandbox``)."""

import sys

if __name__ == "__main__":
    try:
        from dr_notebook.sandbox.server import main
    except KeyboardInterrupt:  # Ctrl-C while Python imports, before the sandbox handles it
        print("dr-notebook sandbox: stopped.", file=sys.stderr, flush=True)
        raise SystemExit(0) from None
    raise SystemExit(main())
