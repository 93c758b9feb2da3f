"""``python -m dr_notebook.sandbox``: the sandbox server (options as ``dr-notebook sandbox``)."""

from dr_notebook.sandbox.server import main

if __name__ == "__main__":
    raise SystemExit(main())
