"""``TemplateGallery``: browse, read and start custom templates in an ipywidgets card gallery.

The gallery composes its views (``browser``: search, filters, cards, pager; ``detail``: the
selected template with its create and launch buttons; ``applications``: "My applications") and
runs the catalogue queries between them.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import ipywidgets as widgets
import numpy as np
import pandas as pd
import traitlets
from traitlets import Bool, Enum, Float, Instance, Int, Unicode, observe, validate

from dr_notebook import errors
from dr_notebook.enums import TEMPLATE_TYPE_LABELS, expand_template_type
from dr_notebook.gallery import html
from dr_notebook.gallery.applications import ApplicationsView
from dr_notebook.gallery.browser import ALL, TemplateBrowser, TemplateCard
from dr_notebook.gallery.catalogue import (
    FILTER_FIELDS,
    SORT_ORDERS,
    Catalogue,
    Query,
    page_count,
    page_rows,
)
from dr_notebook.gallery.detail import DetailPane
from dr_notebook.gallery.loader import CatalogueLoader, LoadReport
from dr_notebook.gallery.ui import USER_ERRORS, UiGuard, one_line, walk
from dr_notebook.models import Application, ApplicationSource

if TYPE_CHECKING:
    from dr_notebook.client import Client

__all__ = ["TemplateCard", "TemplateGallery"]

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])
_walk = walk  # the name the tests and fixtures know


def _under_ui_lock(method: F) -> F:
    """Run the method holding the gallery's lock: the loader thread updates the same widgets."""

    @functools.wraps(method)
    def locked(self: TemplateGallery, *args: Any, **kwargs: Any) -> Any:
        with self._ui_lock:
            return method(self, *args, **kwargs)

    return locked  # type: ignore[return-value]


class TemplateGallery(widgets.VBox):
    """A card gallery of the custom templates: search, filter, page, read, create, launch.

    The catalogue loads in a background thread: the first cards show as soon as the first page
    of the listing arrives, and search, filters and paging work over what has loaded while the
    rest comes in (``loading`` is True meanwhile; ``wait()`` waits for the end). It is filtered
    locally; the ``refresh`` button (or ``refresh()``) reloads it. Drive it from code through
    its traits:
    ``search``, the filters (``template_type``, ``template_sub_type``, ``tag``, ``publisher``,
    ``category``; None means all), ``order_by``, ``page`` (1-based), ``selected_id``, ``view``
    (``templates`` or ``applications``); read ``matches``, ``last_source`` and
    ``last_application``; call ``create_app()`` or ``launch_app()``.
    """

    search = Unicode("", help="Text searched in names and descriptions (case-insensitive).")
    template_type = Unicode(
        None, allow_none=True, help="Show only this templateType (or: application, metric, job)."
    )
    template_sub_type = Unicode(None, allow_none=True, help="Show only this templateSubType.")
    tag = Unicode(None, allow_none=True, help="Show only templates with this tag.")
    publisher = Unicode(None, allow_none=True, help="Show only this publisher's templates.")
    category = Unicode(None, allow_none=True, help="Show only this category.")
    order_by = Enum(list(SORT_ORDERS), default_value="name", help="Sort order (an orderBy value).")
    page = Int(1, help="The page shown, from 1 (clamped to the pages there are).")
    selected_id = Unicode(None, allow_none=True, help="The template shown in the detail pane.")
    view = Enum(
        ["templates", "applications"],
        default_value="templates",
        help='What the gallery shows: the templates, or "My applications".',
    )
    matches = Int(0, read_only=True, help="How many templates match the search and filters.")
    loading = Bool(False, read_only=True, help="Whether the catalogue is still loading.")
    last_source = Instance(
        ApplicationSource, allow_none=True, help="The last application source created here."
    )
    last_application = Instance(
        Application, allow_none=True, help="The last application launched here."
    )
    launch_timeout = Float(
        600.0, help="Seconds the Launch button waits for the application to run."
    )

    def __init__(
        self,
        client: Client | None = None,
        *,
        template_type: str | None = None,
        page_size: int = 12,
        **kwargs: Any,
    ) -> None:
        self._executor: ThreadPoolExecutor | None = None
        self._guard = UiGuard()
        # Held by whichever thread updates widgets (the face, the loader, the workers).
        self._ui_lock = self._guard.lock
        self._loader: CatalogueLoader | None = None
        self._generation = 0  # of the load in progress: older loaders' reports are dropped
        self._shown_generation = 0
        self._owns_client = False  # True once the gallery builds a Client itself
        if not isinstance(page_size, int) or page_size < 1:
            raise errors.InvalidArgumentError(
                f"page_size must be a positive integer, not {page_size!r}"
            )
        self._client = client
        self._page_size = page_size
        self._catalogue = Catalogue()
        self._views: dict[int, html.CardView] = {}
        self._options: dict[str, list[tuple[str, str]]] = {f: [("All", ALL)] for f in FILTER_FIELDS}
        self._rows: np.ndarray = np.empty(0, dtype=np.int64)
        self._load_error = ""
        self._ready = False
        self._quiet = False
        #: The Future of the last creation started by the button (None before the first).
        self.creation: Future[ApplicationSource | None] | None = None
        #: The Future of the last launch started by the button (None before the first).
        self.launching: Future[Application | None] | None = None

        with self._ui_lock:  # the loader's reports wait for the widgets
            # The first request goes out while the widgets are built.
            error = self._start_loading()
            self._build_views()
            super().__init__(
                children=[
                    self.top_bar,
                    self.status_bar,
                    self.message,
                    self.body,
                    self.apps_view.box,
                ],
                layout=widgets.Layout(width="100%"),
                **kwargs,
            )
            self.add_class("dr-notebook-gallery")
            self._wire()
            if template_type:
                self.template_type = template_type
            self._ready = True
            self._show_loading(error)

    # --- views ---------------------------------------------------------------------------

    def _build_views(self) -> None:
        self.apps_toggle = widgets.ToggleButton(
            value=False,
            description="My applications",
            icon="list",
            tooltip="Show your applications (status, link, logs, delete)",
            layout=widgets.Layout(width="auto"),
        )
        self.browser = TemplateBrowser(self._page_size, tools=[self.apps_toggle])
        self.detail_pane = DetailPane(
            self._guard,
            client=self._require_client,
            executor=self._worker,
            name_of=self._name_of,
            blocker_of=self._blocker_of,
            on_source=lambda source: setattr(self, "last_source", source),
            on_application=lambda app: setattr(self, "last_application", app),
        )
        self.apps_view = ApplicationsView(self._require_client)
        self.body = widgets.HBox(
            [self.browser.box, self.detail_pane.box],
            layout=widgets.Layout(flex_flow="row wrap", align_items="flex-start", grid_gap="12px"),
        )
        # The views' widgets under the gallery's own names (code and tests drive them).
        b, d = self.browser, self.detail_pane
        self.search_box, self.refresh_button, self.filters, self.sort = (
            b.search_box, b.refresh_button, b.filters, b.sort)  # fmt: skip
        self.top_bar, self.status_bar, self.matches_label, self.load_status, self.message = (
            b.top_bar, b.status_bar, b.matches_label, b.load_status, b.message)  # fmt: skip
        self.cards, self.grid, self.pager, self.page_label = b.cards, b.grid, b.pager, b.page_label
        self.prev_button, self.next_button = b.prev_button, b.next_button
        self.detail, self.detail_header, self.readme, self.readme_box = (
            d.box, d.header, d.readme, d.readme_box)  # fmt: skip
        self.detail_info, self.create_button, self.launch_button = (
            d.info, d.create_button, d.launch_button)  # fmt: skip
        self.close_button, self.create_reason, self.progress, self.result = (
            d.close_button, d.reason, d.progress, d.result)  # fmt: skip

    def _wire(self) -> None:
        traitlets.link((self.search_box, "value"), (self, "search"))
        traitlets.link((self.sort, "value"), (self, "order_by"))
        for field, dropdown in self.filters.items():
            dropdown.observe(self._filter_picked(field), names="value")
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.prev_button.on_click(lambda _b: self._step(-1))
        self.next_button.on_click(lambda _b: self._step(+1))
        self.close_button.on_click(lambda _b: setattr(self, "selected_id", None))
        self.create_button.on_click(lambda _b: self._start_creation())
        self.launch_button.on_click(lambda _b: self._start_launch())
        self.apps_toggle.observe(
            lambda change: setattr(self, "view", "applications" if change["new"] else "templates"),
            names="value",
        )
        for card in self.cards:
            card.open_button.on_click(self._card_opened(card))

    def _filter_picked(self, field: str) -> Any:
        def picked(change: dict[str, Any]) -> None:
            with self._ui_lock:
                if not self._quiet:
                    setattr(self, field, change["new"] or None)

        return picked

    def _card_opened(self, card: TemplateCard) -> Any:
        def opened(_button: widgets.Button) -> None:
            if card.template_id is not None:
                self.selected_id = card.template_id

        return opened

    @contextmanager
    def _quietly(self) -> Iterator[None]:
        """Change widgets and traits without their observers re-running the query."""
        was, self._quiet = self._quiet, True
        try:
            yield
        finally:
            self._quiet = was

    def _worker(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dr-gallery")
        return self._executor

    @observe("view")
    @_under_ui_lock
    def _on_view(self, change: dict[str, Any]) -> None:
        """Switch between the templates and "My applications" (loaded afresh when shown)."""
        apps = change["new"] == "applications"
        self.apps_toggle.value = apps
        for box in (self.browser.filter_bar, self.status_bar, self.message, self.body):
            box.layout.display = "none" if apps else None
        self.apps_view.box.layout.display = None if apps else "none"
        if apps:
            self.apps_view.refresh()

    # --- data ----------------------------------------------------------------------------

    @property
    def client(self) -> Client | None:
        """The client the gallery loads from (None until one could be configured)."""
        return self._client

    def _require_client(self) -> Client:
        if self._client is None:
            from dr_notebook.client import Client

            self._client = Client()
            self._owns_client = True
        return self._client

    @property
    def frame(self) -> pd.DataFrame:
        """The loaded catalogue, one row per template (the columns of ``templates.frame()``)."""
        return self._catalogue.frame

    @property
    def matching(self) -> pd.DataFrame:
        """The templates matching the current search and filters, in the current order."""
        return self._catalogue.frame.iloc[self._rows]

    @property
    def page_size(self) -> int:
        """How many cards a page holds."""
        return self._page_size

    @property
    def page_count(self) -> int:
        """How many pages the matching templates fill (at least 1)."""
        return page_count(len(self._rows), self._page_size)

    @property
    def visible_cards(self) -> list[TemplateCard]:
        """The cards showing a template on the current page, in order."""
        return [card for card in self.cards if card.visible]

    def refresh(self) -> None:
        """Reload the catalogue from the server in the background (returns at once).

        Search, filters and sort stay as they are; the cards show the new catalogue from its
        first page on. A load still running is abandoned.
        """
        with self._ui_lock:
            self._show_loading(self._start_loading())

    def _start_loading(self) -> str:
        """Abandon any load in progress and start one; "" or why none could start."""
        if self._loader is not None:
            self._loader.stop()
            self._loader = None
        self._generation += 1
        generation = self._generation
        try:
            client = self._require_client()
        except USER_ERRORS as err:
            return f"Could not load the templates: {one_line(err)}"
        self.set_trait("loading", True)
        self._loader = CatalogueLoader(
            client,
            on_page=lambda loaded, total: self._page_loaded(generation, loaded, total),
            on_catalogue=lambda report: self._catalogue_loaded(generation, report),
        ).start()
        return ""

    def _show_loading(self, error: str) -> None:
        if error:
            self._show_catalogue(LoadReport(Catalogue(), None, done=True, error=error))
        else:
            self.load_status.value = html.progress_html("Loading the templates…")

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the catalogue has loaded (or failed to); False when ``timeout`` s passed."""
        loader = self._loader
        return True if loader is None else loader.wait(timeout)

    def _current(self, generation: int) -> bool:
        return not self._guard.closed and generation == self._generation

    def _page_loaded(self, generation: int, loaded: int, total: int | None) -> None:
        """The loader's report after each page (from its thread)."""
        with self._ui_lock:
            if self._current(generation) and loaded != total:
                of = f" of {total:,}" if total is not None else ""
                self.load_status.value = html.progress_html(f"Loading {loaded:,}{of} templates…")

    def _catalogue_loaded(self, generation: int, report: LoadReport) -> None:
        """The loader's report with a new catalogue (from its thread)."""
        with self._ui_lock:
            if self._current(generation):
                self._show_catalogue(report)

    @_under_ui_lock
    def _show_catalogue(self, report: LoadReport) -> None:
        previous, self._catalogue = self._catalogue, report.catalogue
        fresh = self._shown_generation != self._generation
        self._shown_generation = self._generation
        if fresh:
            self._views.clear()
            for card in self.cards:
                card.template_id = None  # same ids may now have new values
        loaded = len(report.catalogue)
        if report.error and loaded:
            of = f" of {report.total:,}" if report.total is not None else ""
            self._load_error = (
                f"Could not load all the templates ({loaded:,}{of} loaded): {report.error}"
            )
        elif report.error:
            self._load_error = report.error
            if not report.error.startswith("Could not load"):
                self._load_error = f"Could not load the templates: {report.error}"
        else:
            self._load_error = ""
        if report.done:
            self.set_trait("loading", False)
            self.load_status.value = ""
        self._update_options()
        self._apply_query(keep_page=True)
        if fresh or previous.position(self.selected_id) is None:
            self._show_detail()

    def _update_options(self) -> None:
        with self._quietly():
            for field, dropdown in self.filters.items():
                values = self._catalogue.options(field)
                labels = TEMPLATE_TYPE_LABELS if field == "template_type" else {}
                options = [("All", ALL)] + [(labels.get(v, v), v) for v in values]
                self._options[field] = options
                self._set_dropdown(dropdown, options, getattr(self, field))

    @staticmethod
    def _set_dropdown(
        dropdown: widgets.Dropdown, options: list[tuple[str, str]], value: str | None
    ) -> None:
        value = value or ALL
        if value not in {v for _, v in options}:
            # A filter set from code to a value no template has: show it (with 0 matches).
            options = [*options, (value, value)]
        if list(dropdown.options) != options:
            dropdown.options = options
        dropdown.value = value

    def _query(self) -> Query:
        return Query(
            search=self.search,
            template_type=self.template_type,
            template_sub_type=self.template_sub_type,
            tag=self.tag,
            publisher=self.publisher,
            category=self.category,
            order_by=self.order_by,
        )

    # --- reacting to traits --------------------------------------------------------------

    @observe(*FILTER_FIELDS)
    @_under_ui_lock
    def _on_filter(self, change: dict[str, Any]) -> None:
        field = change["name"]
        if change["new"] == "":
            self.set_trait(field, None)
            return
        dropdown = self.filters[field]
        with self._quietly():
            self._set_dropdown(dropdown, self._options[field], change["new"])
        if self._ready:
            self._apply_query(keep_page=False)

    @observe("search", "order_by")
    @_under_ui_lock
    def _on_search_or_sort(self, _change: dict[str, Any]) -> None:
        if self._ready:
            self._apply_query(keep_page=False)

    @validate("template_type")
    def _full_type(self, proposal: dict[str, Any]) -> str | None:
        return expand_template_type(proposal["value"])  # "application" -> its templateType

    @validate("page")
    def _valid_page(self, proposal: dict[str, Any]) -> int:
        return min(max(1, int(proposal["value"])), self.page_count)

    @observe("page")
    @_under_ui_lock
    def _on_page(self, _change: dict[str, Any]) -> None:
        if self._ready and not self._quiet:
            self._show_page()

    @observe("selected_id")
    @_under_ui_lock
    def _on_selected(self, change: dict[str, Any]) -> None:
        self.browser.mark(change["new"])
        if self._ready:
            self._show_detail()

    def _step(self, delta: int) -> None:
        self.page = self.page + delta

    @_under_ui_lock
    def _apply_query(self, keep_page: bool) -> None:
        """Re-run the search and filters over the catalogue and show the (first) page."""
        self._rows = self._catalogue.select(self._query())
        self.set_trait("matches", len(self._rows))
        with self._quietly():
            self.page = self.page if keep_page else 1
        self._show_page()

    @_under_ui_lock
    def _show_page(self) -> None:
        rows = page_rows(self._rows, self.page, self._page_size)
        views = [self._card_view(int(row)) for row in rows]
        self.browser.show_page(views, self.selected_id, self.page, self.page_count)
        self.browser.show_counts(self.matches, len(self._catalogue))
        self.message.value = self._notice()

    def _card_view(self, position: int) -> html.CardView:
        view = self._views.get(position)
        if view is None:
            row = self._catalogue.record(position, html.CARD_COLUMNS)
            view = self._views[position] = html.card_view(row)
        return view

    def _notice(self) -> str:
        if self._load_error:
            return html.message_html(self._load_error, "error")
        if len(self._catalogue) == 0:
            if self.loading:
                return ""
            where = f" on {self._client.endpoint}" if self._client is not None else ""
            return html.message_html(
                f"The catalogue is empty: there are no custom templates{where} yet.", "warn"
            )
        if self.matches == 0:
            return html.message_html(
                "No template matches the search and filters: clear some of them.", "info"
            )
        return ""

    # --- detail pane ---------------------------------------------------------------------

    def _selected_row(self) -> dict[str, Any] | None:
        position = self._catalogue.position(self.selected_id)
        return None if position is None else self._catalogue.record(position)

    @_under_ui_lock
    def _show_detail(self) -> None:
        from dr_notebook.render import render_markdown

        row = self._selected_row() if self.selected_id is not None else None
        readme = ""
        if row is not None:
            readme = render_markdown(row.get("readme") or "", images=self._readme_images(row))
        self.detail_pane.show(self.selected_id, row, readme)

    def _readme_images(self, row: dict[str, Any]) -> dict[str, bytes]:
        """The template's own images its README shows (none if it names none, or on errors)."""
        from dr_notebook.readme_images import readme_images, wanted_image_files

        if self._client is None or not wanted_image_files(row.get("readme"), row["files"] or []):
            return {}
        try:
            return readme_images(self._client, self._client.templates.get(row["id"]))
        except errors.DataRobotError:
            return {}

    def _name_of(self, template_id: str) -> str:
        position = self._catalogue.position(template_id)
        if position is None:
            return template_id
        return self._catalogue.record(position)["name"] or template_id

    def _blocker_of(self, template_id: str | None) -> str:
        """Why no application can be made from this template ("" when it can, or is unknown)."""
        position = self._catalogue.position(template_id)
        return "" if position is None else html.create_blocker(self._catalogue.record(position))

    # --- creating application sources and launching applications ------------------------

    def _chosen(self, template_id: str | None) -> str:
        template_id = template_id or self.selected_id
        if not template_id:
            raise errors.InvalidArgumentError(
                "No template selected: pass template_id= or open a template in the gallery"
            )
        if template_id != self.selected_id:
            self.selected_id = template_id
        return template_id

    def create_app(self, template_id: str | None = None) -> ApplicationSource:
        """Create an application source from ``template_id`` (default: the selected template).

        Waits for the server, shows the source (or the error's one line) in the detail pane and
        returns the ``ApplicationSource``; errors are raised after being shown.
        """
        chosen = self._chosen(template_id)
        pane = self.detail_pane
        return pane.run(chosen, pane.creating(chosen), lambda: pane.create(chosen))

    def launch_app(
        self,
        template_id: str | None = None,
        *,
        name: str | None = None,
        timeout: float | None = None,
    ) -> Application:
        """Launch ``template_id`` (default: the selected template): its source, then a running
        application named ``name`` (default: the template's name), as ``client.launch`` does.

        Waits (at most ``timeout`` s, default ``launch_timeout``) while the pane's progress line
        follows the stages, then shows the application's card with its link and returns the
        ``Application``; errors (a name in use, a failed build, a timeout) are shown as one line,
        then raised.
        """
        chosen = self._chosen(template_id)
        pane = self.detail_pane
        wait = self.launch_timeout if timeout is None else timeout
        return pane.run(
            chosen, pane.launching(chosen, name), lambda: pane.launch(chosen, name, wait)
        )

    def _start_creation(self) -> Future[ApplicationSource | None] | None:
        """The button: create the selected template's source in a worker thread."""
        chosen, pane = self.selected_id, self.detail_pane
        if not chosen:
            return None
        future = pane.submit(chosen, pane.creating(chosen), lambda: pane.create(chosen))
        if future is not None:
            self.creation = future
        return future

    def _start_launch(self) -> Future[Application | None] | None:
        """The button: launch the selected template in a worker thread (name from the box)."""
        chosen, pane = self.selected_id, self.detail_pane
        if not chosen:
            return None
        name = pane.app_name.value.strip() or None
        wait = self.launch_timeout
        future = pane.submit(
            chosen, pane.launching(chosen, name), lambda: pane.launch(chosen, name, wait)
        )
        if future is not None:
            self.launching = future
        return future

    def close(self) -> None:
        """Close the gallery and every widget in it, and stop its worker thread.

        A client the gallery built itself is closed too; one passed in stays open.
        """
        with self._ui_lock:
            self._guard.closed = True  # the workers touch no widget from here on
            if self._loader is not None:
                self._loader.stop()
        if self._executor is not None:
            self._executor.shutdown(wait=False)
        if self._owns_client and self._client is not None:
            self._client.close()
            self._owns_client = False
        for widget in _walk(self):
            if widget is not self:
                widget.close()
        super().close()
