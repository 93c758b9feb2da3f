"""``python -m dr_notebook.sandbox``: the sandbox server (options as ``dr-notebook sandbox``)."""

import sys

if __name__ == "__main__":
    try:
        from dr_notebook.sandbox.server import main

        code = main()
    except KeyboardInterrupt:  # Ctrl-C before the sandbox handles signals (imports, options)
        print("dr-notebook sandbox: stopped.", file=sys.stderr, flush=True)
        code = 0
    raise SystemExit(code)
