"""The progress bar the resources share: tqdm.auto, shown only when the work takes a while."""

from __future__ import annotations

import threading
from typing import Any

PROGRESS_DELAY = 0.5


def progress_bar(enabled: bool, **kwargs: Any) -> Any:
    """A tqdm.auto bar that shows once the work lasts longer than a moment, else None.

    Never made off the main thread: a bar drawn from a worker thread lands in whichever notebook
    cell happens to be running. Code in a thread reports through ``on_status`` callbacks.
    """
    if not enabled or threading.current_thread() is not threading.main_thread():
        return None
    from tqdm.auto import tqdm

    return tqdm(delay=PROGRESS_DELAY, leave=False, **kwargs)
