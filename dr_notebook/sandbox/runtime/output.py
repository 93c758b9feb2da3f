"""An application's output, bounded and redacted: lines cut, bytes capped, tokens hidden."""

from __future__ import annotations

import collections
import contextlib
import re
import threading
from collections.abc import Iterable
from typing import IO

MAX_LINE_CHARS = 4096  # a longer line is cut, with a note
MAX_KEPT_BYTES = 1024 * 1024  # output kept per application
MAX_LINES = 1000
MAX_ERROR_CHARS = 4096  # buildError
REDACTED = "[redacted]"
_CUT = " [line cut]"
_READ_CHUNK = 65536


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced (longest first, so one is never half-replaced)."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def clip(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    """``text`` cut to ``limit`` characters: its start (the reason) and its end (the latest)."""
    if len(text) <= limit:
        return text
    note = "\n[...cut...]\n"
    head = (limit - len(note)) // 4
    return text[:head] + note + text[-(limit - len(note) - head) :]


class OutputRing:
    """The last output lines of one run: at most ``max_lines`` and ``max_bytes`` of text."""

    def __init__(
        self,
        secrets: Iterable[str] = (),
        max_lines: int = MAX_LINES,
        max_bytes: int = MAX_KEPT_BYTES,
    ) -> None:
        self._secrets = tuple(s for s in secrets if s)
        self._longest = max((len(s) for s in self._secrets), default=0)
        self._lines: collections.deque[str] = collections.deque()
        self._bytes = 0
        self._max_lines = max_lines
        self._max_bytes = max_bytes
        self._lock = threading.Lock()

    def append(self, raw: bytes) -> None:
        """Add one line of raw output (redacted, then cut)."""
        text = redact(raw.decode("utf-8", errors="replace").rstrip("\r\n"), self._secrets)
        if len(text) > MAX_LINE_CHARS:
            text = text[:MAX_LINE_CHARS] + _CUT
        size = len(text.encode("utf-8", errors="replace")) + 1
        with self._lock:
            self._lines.append(text)
            self._bytes += size
            while self._lines and (
                len(self._lines) > self._max_lines or self._bytes > self._max_bytes
            ):
                self._bytes -= len(self._lines.popleft().encode("utf-8", errors="replace")) + 1

    def lines(self) -> list[str]:
        """A copy of the kept lines, oldest first."""
        with self._lock:
            return list(self._lines)

    def tail(self, count: int) -> list[str]:
        """The last ``count`` lines."""
        with self._lock:
            return list(self._lines)[-count:]

    def collect(self, stream: IO[bytes]) -> None:
        """Read ``stream`` to its end, line by line, never holding more than a cut line."""
        # Enough of a long line to redact a token that starts before the cut.
        limit = MAX_LINE_CHARS * 4 + self._longest + 1
        with contextlib.suppress(ValueError, OSError), stream:
            while True:
                line = stream.readline(limit)
                if not line:
                    return
                if not line.endswith(b"\n"):
                    while True:  # the rest of an over-long line is dropped, not kept
                        rest = stream.readline(_READ_CHUNK)
                        if not rest or rest.endswith(b"\n"):
                            break
                self.append(line)


_TRACEBACK = "Traceback (most recent call last):"
# The client's ApplicationLogs.first_error reads lines the same way (the sandbox and the client
# share no code): an exception's line, a tool's error:/fatal: prefix, a logger's level.
_ERROR_PREFIX = re.compile(
    r"^(?:[\w.]*(?:Error|Exception)\b(?::|$)|(?:error|fatal|panic)\b\s*[:!]"
    r"|failed to\b|.*\bexited with code [1-9])",
    re.IGNORECASE,
)
_ERROR_LEVEL = re.compile(r"\b(?:ERROR|CRITICAL|FATAL)\b")


def first_error_line(lines: list[str]) -> str | None:
    """The last line of the first traceback in ``lines``, else the first line that reads as
    an error; None when none does."""
    clean = [line.rstrip() for line in lines]
    for index, line in enumerate(clean):
        if line.strip() != _TRACEBACK:
            continue
        indent = len(line) - len(line.lstrip())
        for after in clean[index + 1 :]:
            if after.strip() and len(after) - len(after.lstrip()) <= indent:
                return after.strip()
        break
    for line in clean:
        text = line.strip()
        if text and (_ERROR_PREFIX.match(text) or _ERROR_LEVEL.search(text)):
            return text
    return None
