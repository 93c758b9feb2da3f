"""Python-Markdown conversion, in-process for short text and in a killable helper for long text.

Python-Markdown's inline patterns are super-linear on some hostile input (2,000 "[" take a
second, 5,000 take several) and deep nesting hits the recursion limit, so a README must not be
able to freeze the kernel. Long text goes to a helper process (``python -m`` this module) that
is killed when it runs past the timeout and started again for the next text. A plain
subprocess, not ``multiprocessing``: spawning would re-run the top level of a user's script.

The HTML returned here is NOT sanitized; ``dr_notebook.render`` does that.
"""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from typing import IO

import markdown

IN_PROCESS_CHARS = 1024
"""Text up to this many characters is converted in the calling process."""

EXTENSIONS: list[str | markdown.Extension] = ["fenced_code", "tables"]
"""Python-Markdown's extensions for README text (a helper process may add its own)."""

_local = threading.local()


def _markdown() -> markdown.Markdown:
    md = getattr(_local, "md", None)
    if md is None:
        md = markdown.Markdown(
            extensions=EXTENSIONS,
            extension_configs={"tables": {"use_align_attribute": True}},
            output_format="html",
        )
        _local.md = md
    return md


def convert(text: str) -> str | None:
    """Python-Markdown's HTML for ``text`` (unsanitized); None when the input nests too deeply."""
    md = _markdown()
    try:
        return md.reset().convert(text)
    except RecursionError:
        # The block parser's state stack is left half-unwound: the next text would come out
        # as raw markdown. A fresh instance for the next text.
        _local.md = None
        return None
    finally:
        md.reset()


class Converter:
    """Converts long text in a helper process; a conversion past its timeout kills the helper."""

    def __init__(self, command: Sequence[str] | None = None) -> None:
        """``command`` starts the helper; by default this module run by this Python."""
        self._command = list(command or [sys.executable, "-m", __name__])
        self._lock = threading.Lock()
        self._process: subprocess.Popen[str] | None = None
        self._answers: queue.Queue[str] = queue.Queue()

    def convert(self, text: str, timeout: float) -> str | None:
        """The HTML for ``text``, or None if it took longer than ``timeout`` seconds."""
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                try:
                    self._start()
                except OSError:  # no child processes here: convert in place
                    return convert(text)
            assert self._process is not None and self._process.stdin is not None
            try:
                self._process.stdin.write(json.dumps(text) + "\n")
                self._process.stdin.flush()
                answer = self._answers.get(timeout=timeout)
            except (OSError, ValueError, queue.Empty):
                self.stop()
                return None
            except BaseException:  # e.g. KeyboardInterrupt: never leave a stale answer behind
                self.stop()
                raise
            return json.loads(answer)

    def _start(self) -> None:
        self._answers = answers = queue.Queue()
        process = subprocess.Popen(
            self._command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            encoding="utf-8",
        )
        assert process.stdout is not None
        threading.Thread(
            target=_pump, args=(process.stdout, answers), name="dr-notebook-markdown", daemon=True
        ).start()
        self._process = process

    def stop(self) -> None:
        """Kill the helper process (a new one starts on the next long text)."""
        process, self._process = self._process, None
        if process is not None:
            process.kill()
            process.wait()
            for stream in (process.stdin, process.stdout):
                if stream is not None:
                    stream.close()


def _pump(stream: IO[str], answers: queue.Queue[str]) -> None:
    """Move the helper's answer lines into the queue until it exits."""
    try:
        for line in stream:
            answers.put(line)
    except (OSError, ValueError):
        pass


def serve() -> None:
    """The helper process: one JSON string in per line, its HTML (or null) out per line."""
    # Interrupting the kernel signals the whole process group; the parent decides when this ends.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for line in sys.stdin:
        sys.stdout.write(json.dumps(convert(json.loads(line))) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    serve()
