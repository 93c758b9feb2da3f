"""Loading the gallery's catalogue in a worker thread, page by page.

The worker reads ``client.templates.pages()`` and reports through two callbacks: ``on_page``
after every page (how many templates have loaded, out of how many) and ``on_catalogue`` with a
new :class:`Catalogue` of everything loaded so far. Each template is taken and indexed once, as
its page arrives (:class:`CatalogueBuilder`); a report only adds the rows new since the last one
and sorts the whole for the cards. Reports come after the first page (the first cards), then
each time the loaded count has doubled while less than half is in, and once at the end:
together the early sorts cost no more than the final one, so loading stays linear in the
catalogue's size. The worker creates and changes no widget: it hands each report to ``post``,
which runs the callback in the face's thread, and the callbacks decide what the face shows;
:meth:`CatalogueLoader.stop` makes it end at the next page and report nothing more.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from contextlib import closing
from typing import TYPE_CHECKING

from dr_notebook import errors
from dr_notebook.gallery.catalogue import Catalogue, CatalogueBuilder

if TYPE_CHECKING:
    from dr_notebook.client import Client

__all__ = ["CatalogueLoader", "LoadReport"]

log = logging.getLogger(__name__)

#: ``on_page(loaded, total)``: ``total`` is None when the server does not say.
PageCallback = Callable[[int, "int | None"], None]


class LoadReport:
    """What a catalogue callback gets: the catalogue so far, whether it is all, any error."""

    __slots__ = ("catalogue", "done", "error", "total")

    def __init__(
        self, catalogue: Catalogue, total: int | None, *, done: bool, error: str = ""
    ) -> None:
        self.catalogue = catalogue
        self.total = total
        self.done = done
        #: One line saying why loading stopped early ("" when it did not).
        self.error = error

    def message(self) -> str:
        """The error as the gallery shows it, with how much loaded ("" when none)."""
        loaded = len(self.catalogue)
        if self.error and loaded:
            of = f" of {self.total:,}" if self.total is not None else ""
            return f"Could not load all the templates ({loaded:,}{of} loaded): {self.error}"
        if self.error and not self.error.startswith("Could not load"):
            return f"Could not load the templates: {self.error}"
        return self.error


class CatalogueLoader:
    """Loads every template of ``client`` in a daemon thread (see the module's docstring)."""

    def __init__(
        self,
        client: Client,
        on_page: PageCallback,
        on_catalogue: Callable[[LoadReport], None],
        post: Callable[[Callable[[], object]], object],
    ) -> None:
        self._client = client
        self._post = post
        self._on_page = on_page
        self._on_catalogue = on_catalogue
        self._stopped = threading.Event()
        self._finished = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dr-gallery-loader", daemon=True)

    def start(self) -> CatalogueLoader:
        """Start loading in the worker thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Make the worker end at the next page, reporting nothing more (does not wait)."""
        self._stopped.set()

    @property
    def running(self) -> bool:
        """Whether the worker is still loading or reporting."""
        return not self._finished.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the worker has ended (its last report posted); False on timeout."""
        return self._finished.wait(timeout)

    def _run(self) -> None:
        rows = CatalogueBuilder()
        total: int | None = None
        next_build = 1
        try:
            with closing(self._client.templates.pages()) as pages:
                for page in pages:
                    if self._stopped.is_set():
                        return
                    rows.add(page.items)
                    total = page.total
                    self._post(functools.partial(self._on_page, len(rows), total))
                    if len(rows) >= next_build and (total is None or 2 * len(rows) <= total):
                        self._report(rows, total, done=False)
                        next_build = 2 * len(rows)
            self._report(rows, total, done=True)
        except errors.DataRobotError as err:
            self._report(rows, total, done=True, error=str(err))
        except Exception as err:
            log.exception("Loading the gallery's catalogue failed")
            text = " ".join(str(err).split()) or type(err).__name__
            self._report(rows, total, done=True, error=f"{type(err).__name__}: {text}")
        finally:
            self._finished.set()

    def _report(
        self, rows: CatalogueBuilder, total: int | None, *, done: bool, error: str = ""
    ) -> None:
        if self._stopped.is_set():
            return
        catalogue = rows.catalogue()
        if not self._stopped.is_set():
            report = LoadReport(catalogue, total, done=done, error=error)
            self._post(functools.partial(self._on_catalogue, report))
