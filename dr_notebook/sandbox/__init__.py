"""A local DataRobot-compatible API server (FastAPI + SQLite) for demos and tests.

The sandbox is a separate server that happens to ship in this distribution: it imports nothing
from the client side of the package. Start it with ``dr-notebook sandbox`` or
``python -m dr_notebook.sandbox``; from Python, use
:func:`dr_notebook.sandbox.testing.start_sandbox`.
"""
