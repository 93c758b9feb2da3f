"""The progress bar the resources share: tqdm.auto, shown only when the work takes a while."""

from __future__ import annotations

import sys
import threading
from typing import Any

PROGRESS_DELAY = 0.5


def progress_bar(enabled: bool, *, stages: bool = False, **kwargs: Any) -> Any:
    """A tqdm.auto bar that shows once the work lasts longer than a moment, else None.

    Never made off the main thread: a bar drawn from a worker thread lands in whichever notebook
    cell happens to be running. Code in a thread reports through ``on_status`` callbacks.

    Where nothing can be updated in place (a script's output in a file or a pipe), a bar of
    ``stages`` (its description says the stage) prints one line per stage instead, and a
    counting bar shows nothing: no carriage returns, and the next output starts on its own line.
    """
    if not enabled or threading.current_thread() is not threading.main_thread():
        return None
    if not _in_kernel() and not _is_terminal(sys.stderr):
        return StageLines() if stages else None
    from tqdm.auto import tqdm

    return tqdm(delay=PROGRESS_DELAY, leave=False, **kwargs)


class StageLines:
    """The part of tqdm's interface a stage bar uses, printing each new stage on its own line."""

    def __init__(self) -> None:
        self._last = ""

    def set_description_str(self, text: str) -> None:
        """Print ``text`` unless it repeats the last stage (a status in brackets aside)."""
        stage = text.split(" (", 1)[0]
        if stage != self._last:
            self._last = stage
            print(text, file=sys.stderr, flush=True)

    def close(self) -> None:
        """Nothing to clear."""


def _in_kernel() -> bool:
    shell = sys.modules.get("IPython") and sys.modules["IPython"].get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
