"""``TemplateGallery``: browse, read and start custom templates in an ipywidgets card gallery.

The gallery composes its views (``browser``: search, filters, cards, pager; ``detail``: the
selected template with its create and launch buttons; ``applications``: "My applications") and
runs the catalogue queries between them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import numpy as np
import pandas as pd
import traitlets
from traitlets import Bool, Enum, Float, Instance, Int, Unicode, observe, validate

from dr_notebook import errors
from dr_notebook.enums import TEMPLATE_TYPE_LABELS, expand_template_type
from dr_notebook.gallery import html
from dr_notebook.gallery.applications import ApplicationsView
from dr_notebook.gallery.browser import ALL, TemplateBrowser, TemplateCard, set_dropdown
from dr_notebook.gallery.catalogue import (
    FILTER_FIELDS,
    SORT_ORDERS,
    Catalogue,
    Query,
    page_count,
    page_rows,
)
from dr_notebook.gallery.detail import DetailPane, fetch_readme_images
from dr_notebook.gallery.loader import CatalogueLoader, LoadReport
from dr_notebook.gallery.ui import USER_ERRORS, UiGuard, one_line, under_ui_lock, walk
from dr_notebook.models import Application, ApplicationSource

if TYPE_CHECKING:
    from dr_notebook.client import Client

__all__ = ["TemplateGallery"]

log = logging.getLogger(__name__)


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

    # The views (built by _build_views).
    apps_toggle: widgets.ToggleButton
    browser: TemplateBrowser
    detail_pane: DetailPane
    apps_view: ApplicationsView
    body: widgets.HBox

    def __init__(
        self,
        client: Client | None = None,
        *,
        template_type: str | None = None,
        page_size: int = 12,
        **kwargs: Any,
    ) -> None:
        self._executor: ThreadPoolExecutor | None = None
        self._guard = UiGuard()  # workers post widget updates to it; this thread applies them
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

        with self._ui_lock:  # the first request goes out while the widgets are built
            error = self._start_loading()
            self._build_views()
            super().__init__(
                children=[
                    self.browser.top_bar,
                    self.browser.status_bar,
                    self.browser.message,
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
        """The views: the browser, the detail pane, "My applications" and its toggle."""
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
        self.apps_view = ApplicationsView(self._require_client, self._guard)
        self.body = widgets.HBox(
            [self.browser.box, self.detail_pane.box],
            layout=widgets.Layout(flex_flow="row wrap", align_items="flex-start", grid_gap="12px"),
        )

    def _name_of(self, template_id: str) -> str:
        position = self._catalogue.position(template_id)
        if position is None:
            return template_id
        return self._catalogue.record(position)["name"] or template_id

    def _blocker_of(self, template_id: str | None, launch: bool) -> str:
        """Why no application can be made from this template ("" when it can, or is unknown)."""
        position = self._catalogue.position(template_id)
        if position is None:
            return ""
        return html.create_blocker(self._catalogue.record(position), launch=launch)

    def _wire(self) -> None:
        """Link the views' widgets to the gallery's traits and methods."""
        traitlets.link((self.browser.search_box, "value"), (self, "search"))
        traitlets.link((self.browser.sort, "value"), (self, "order_by"))
        for field, dropdown in self.browser.filters.items():
            dropdown.observe(self._filter_picked(field), names="value")
        self.browser.refresh_button.on_click(lambda _b: self.refresh())
        self.browser.prev_button.on_click(lambda _b: self._step(-1))
        self.browser.next_button.on_click(lambda _b: self._step(+1))
        self.detail_pane.close_button.on_click(lambda _b: setattr(self, "selected_id", None))
        self.detail_pane.create_button.on_click(lambda _b: self._start_creation())
        self.detail_pane.launch_button.on_click(lambda _b: self._start_launch())
        self.apps_toggle.observe(
            lambda change: setattr(self, "view", "applications" if change["new"] else "templates"),
            names="value",
        )
        for card in self.browser.cards:
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
    def _on_view(self, change: dict[str, Any]) -> None:
        """Switch views; "My applications" loads afresh, outside the UI lock (no network in it)."""
        apps = change["new"] == "applications"
        with self._ui_lock:
            self.apps_toggle.value = apps
            for box in (  # one Refresh: the applications view has its own
                self.browser.search_box,
                self.browser.refresh_button,
                self.browser.filter_bar,
                self.browser.status_bar,
                self.browser.message,
                self.body,
            ):
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
        return self.browser.visible_cards

    def refresh(self) -> None:
        """Reload the catalogue from the server in the background (returns at once); search,
        filters and sort stay; the new catalogue shows from its first page on."""
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
            post=lambda update: self._guard.post(update, always=True),
        ).start()
        return ""

    def _show_loading(self, error: str) -> None:
        if error:  # an empty catalogue (no README image to load under the lock)
            self._show_catalogue(LoadReport(Catalogue(), None, done=True, error=error))
            self._show_detail()
        else:
            self.browser.load_status.value = html.progress_html("Loading the templates…")

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the catalogue has loaded (or failed to); False when ``timeout`` s passed."""
        loader = self._loader
        return self._guard.wait_until(lambda: loader is None or not loader.running, timeout)

    def apply_updates(self) -> None:
        """Show the workers' updates now (outside a kernel; in one, its event loop does)."""
        self._guard.drain()

    def _current(self, generation: int) -> bool:
        return not self._guard.closed and generation == self._generation

    @under_ui_lock
    def _page_loaded(self, generation: int, loaded: int, total: int | None) -> None:
        """The loader's report after each page (posted to the face's thread)."""
        if self._current(generation) and loaded != total:
            of = f" of {total:,}" if total is not None else ""
            self.browser.load_status.value = html.progress_html(
                f"Loading {loaded:,}{of} templates…"
            )

    def _catalogue_loaded(self, generation: int, report: LoadReport) -> None:
        """The loader's report with a new catalogue (posted to the face's thread)."""
        if self._current(generation):
            with self._ui_lock:
                detail = self._show_catalogue(report)
            if detail:
                self._show_detail()  # its README's images load outside the lock

    @under_ui_lock
    def _show_catalogue(self, report: LoadReport) -> bool:
        """Show a new catalogue; whether the detail pane needs showing again."""
        previous, self._catalogue = self._catalogue, report.catalogue
        fresh = self._shown_generation != self._generation
        self._shown_generation = self._generation
        if fresh:
            self._views.clear()
            for card in self.browser.cards:
                card.template_id = None  # same ids may now have new values
        self._load_error = report.message()
        if report.done:
            self.set_trait("loading", False)
            self.browser.load_status.value = ""
        self._update_options()
        self._apply_query(keep_page=True)
        return fresh or previous.position(self.selected_id) is None

    def _update_options(self) -> None:
        with self._quietly():
            for field, dropdown in self.browser.filters.items():
                values = self._catalogue.options(field, template_type=self.template_type)
                labels = TEMPLATE_TYPE_LABELS if field == "template_type" else {}
                options = [("All", ALL)] + [(labels.get(v, v), v) for v in values]
                self._options[field] = options
                set_dropdown(dropdown, options, getattr(self, field))

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
    @under_ui_lock
    def _on_filter(self, change: dict[str, Any]) -> None:
        field = change["name"]
        if change["new"] == "":
            self.set_trait(field, None)
            return
        self._update_options()  # the sub-types follow the chosen type
        if self._ready:
            self._apply_query(keep_page=False)

    @observe("search", "order_by")
    @under_ui_lock
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
    @under_ui_lock
    def _on_page(self, _change: dict[str, Any]) -> None:
        if self._ready and not self._quiet:
            self._show_page()

    @observe("selected_id")
    def _on_selected(self, change: dict[str, Any]) -> None:
        with self._ui_lock:
            self.browser.mark(change["new"])
        if self._ready:
            self._show_detail()

    def _step(self, delta: int) -> None:
        self.page = self.page + delta

    @under_ui_lock
    def _apply_query(self, keep_page: bool) -> None:
        """Re-run the search and filters over the catalogue and show the (first) page."""
        self._rows = self._catalogue.select(self._query())
        self.set_trait("matches", len(self._rows))
        with self._quietly():
            self.page = self.page if keep_page else 1
        self._show_page()

    @under_ui_lock
    def _show_page(self) -> None:
        rows = page_rows(self._rows, self.page, self._page_size)
        views = [self._card_view(int(row)) for row in rows]
        self.browser.show_page(views, self.selected_id, self.page, self.page_count)
        self.browser.show_counts(self.matches, len(self._catalogue))
        self.browser.message.value = html.notice_html(
            self._load_error,
            total=len(self._catalogue),
            loading=self.loading,
            endpoint=self._client.endpoint if self._client is not None else None,
            matches=self.matches,
        )

    def _card_view(self, position: int) -> html.CardView:
        view = self._views.get(position)
        if view is None:
            row = self._catalogue.record(position, html.CARD_COLUMNS)
            view = self._views[position] = html.card_view(row)
        return view

    # --- detail pane ---------------------------------------------------------------------

    def _selected_row(self) -> dict[str, Any] | None:
        position = self._catalogue.position(self.selected_id)
        return None if position is None else self._catalogue.record(position)

    def _show_detail(self) -> None:
        from dr_notebook.render import render_markdown

        row = self._selected_row() if self.selected_id is not None else None  # no lock: images
        images = fetch_readme_images(self._client, row) if row is not None else {}
        pane, chosen = self.detail_pane, self.selected_id
        parameters = pane.read_parameters(chosen, row) if chosen != pane.selected_id else None
        with self._ui_lock:
            readme = render_markdown(row.get("readme") or "", images=images) if row else ""
            pane.show(chosen, row, readme, parameters)

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
        return pane.run(chosen, pane.creating(chosen), lambda: pane.create(chosen), launch=False)

    def launch_app(
        self,
        template_id: str | None = None,
        *,
        name: str | None = None,
        timeout: float | None = None,
        runtime_parameters: Mapping[str, Any] | None = None,
    ) -> Application:
        """Launch ``template_id`` (default: the selected template): its source, then a running
        application named ``name`` (default: the template's name), as ``client.launch`` does.

        ``runtime_parameters`` (default: the values in the pane's parameter form) are checked
        before anything is created. Waits (at most ``timeout`` s, default ``launch_timeout``)
        while the pane's progress line follows the stages, then shows the application's card
        with its link and returns the ``Application``; errors (a name in use, a parameter
        missing, a failed build, a timeout) are shown as one line, then raised.
        """
        chosen = self._chosen(template_id)
        pane = self.detail_pane
        wait = self.launch_timeout if timeout is None else timeout
        return pane.run(
            chosen,
            pane.launching(chosen, name),
            lambda: pane.launch(chosen, name, wait, runtime_parameters),
            launch=True,
        )

    def _start_creation(self) -> Future[ApplicationSource | None] | None:
        """The button: create the selected template's source in a worker thread."""
        future = self.detail_pane.start_creation(self.selected_id)
        if future is not None:
            self.creation = future
        return future

    def _start_launch(self) -> Future[Application | None] | None:
        """The button: launch the selected template in a worker thread (name from the box)."""
        future = self.detail_pane.start_launch(self.selected_id, self.launch_timeout)
        if future is not None:
            self.launching = future
        return future

    def close(self) -> None:
        """Close the gallery and every widget in it, and stop its worker thread.

        A client the gallery built itself is closed too; one passed in stays open.
        """
        with self._ui_lock:
            self._guard.closed = True  # no posted update touches a widget from here on
            if self._loader is not None:
                self._loader.stop()
        view = getattr(self, "apps_view", None)  # absent when construction failed
        if view is not None:
            view.stop_following()
        if self._executor is not None:
            self._executor.shutdown(wait=False)
        if self._owns_client and self._client is not None:
            self._client.close()
            self._owns_client = False
        for widget in walk(self):
            if widget is not self:
                widget.close()
        super().close()
