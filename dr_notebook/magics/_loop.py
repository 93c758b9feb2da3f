"""The developer's loop in a cell: ``%dr_app NAME --follow`` and ``--sync FOLDER [--watch]``.

Both run until done or until the kernel is interrupted; an interrupt ends them with one line,
never a traceback. Log lines keep their colours (notebooks and terminals draw SGR codes) and
lose every other control sequence.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from dr_notebook.ansi import colours_only

if TYPE_CHECKING:
    from dr_notebook.client import Client
    from dr_notebook.models import Application
    from dr_notebook.resources.sync import SyncResult

__all__ = ["follow", "print_lines", "sync"]


def print_lines(lines: list[str]) -> None:
    """Log lines as output: colours kept, other control sequences removed."""
    for line in lines:
        print(colours_only(line), flush=True)


def follow(client: Client, app: Application, timeout: float | None = None) -> int:
    """Print the application's new lines until it ends (or the interrupt); how many."""
    count = 0
    stop = threading.Event()
    lines = client.applications.follow_logs(app, timeout=timeout, stop=stop)
    print(f"Following the logs of {app.name or app.id} (interrupt the kernel to stop).")
    try:
        for line in lines:
            print_lines([line])
            count += 1
    except KeyboardInterrupt:
        stop.set()
        print(f"Stopped following {app.name or app.id} ({count} lines).")
        return count
    why = "it ended" if timeout is None else f"it ended, or {timeout:g} s passed"
    print(f"{app.name or app.id}: no more lines to follow ({why}; {count} shown).")
    return count


def sync(
    client: Client, app: Application, folder: str, *, watch: bool
) -> SyncResult | list[SyncResult]:
    """Sync the folder into the app once (one printed line), or on every save until the
    interrupt (one line per roll)."""
    where = Path(folder).expanduser()
    if not watch:
        result = client.applications.sync(app, where)
        print(result)
        return result
    rolled = client.applications.sync(
        app,
        where,
        watch=True,
        on_sync=print,
        on_watching=lambda: print(
            f"Watching {where} for {app.name or app.id} (interrupt the kernel to stop)."
        ),
    )
    print(f"Stopped watching {where} ({len(rolled)} synced).")
    return rolled
