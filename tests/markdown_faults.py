"""A Python-Markdown extension that is slow or too deep on demand, for the render fallbacks.

Run as a script it is the README helper process with the extension added, so the fallbacks are
tested without relying on a weakness of some Markdown version.
"""

from __future__ import annotations

import threading

import markdown
from markdown.preprocessors import Preprocessor

SLOW = "<<slow>>"
"""A line that makes conversion block until the helper process is killed."""
DEEP = "<<deep>>"
"""A line that makes conversion recurse past the recursion limit."""


def _recurse(depth: int) -> int:
    return _recurse(depth + 1) + 1


class _Faults(Preprocessor):
    def run(self, lines: list[str]) -> list[str]:
        if SLOW in lines:
            threading.Event().wait()  # until the parent gives up and kills this process
        if DEEP in lines:
            _recurse(0)
        return lines


class FaultExtension(markdown.Extension):
    """Adds the SLOW and DEEP lines' behaviour to a Markdown instance."""

    def extendMarkdown(self, md: markdown.Markdown) -> None:
        md.preprocessors.register(_Faults(md), "dr-notebook-faults", 100)


if __name__ == "__main__":
    from dr_notebook import markdown_process

    markdown_process.EXTENSIONS.append(FaultExtension())
    markdown_process.serve()
