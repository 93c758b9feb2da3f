"""``TemplateGallery``: browse, read and start custom templates in an ipywidgets card gallery."""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import ipywidgets as widgets
import numpy as np
import pandas as pd
import traitlets
from traitlets import Bool, Enum, Instance, Int, Unicode, observe, validate

from dr_notebook import errors
from dr_notebook.enums import TEMPLATE_TYPE_LABELS, expand_template_type
from dr_notebook.gallery import html
from dr_notebook.gallery.catalogue import (
    FILTER_FIELDS,
    SORT_ORDERS,
    Catalogue,
    Query,
    page_count,
    page_rows,
)
from dr_notebook.gallery.loader import CatalogueLoader, LoadReport
from dr_notebook.models import ApplicationSource, AsyncStatus

if TYPE_CHECKING:
    from dr_notebook.client import Client

__all__ = ["TemplateCard", "TemplateGallery"]

log = logging.getLogger(__name__)

_BORDER = "2px solid var(--jp-border-color2, rgba(128,128,128,.35))"
_SELECTED_BORDER = "2px solid var(--jp-brand-color1, #1976d2)"
_FILTER_LABELS = {
    "template_type": "Type",
    "template_sub_type": "Sub-type",
    "tag": "Tag",
    "publisher": "Publisher",
    "category": "Category",
}
_ALL = ""
# Errors a user can act on, shown as one line instead of a traceback.
# (Transport turns every requests exception into a DataRobotError.)
_USER_ERRORS = (errors.DataRobotError,)

F = TypeVar("F", bound=Callable[..., Any])


def _under_ui_lock(method: F) -> F:
    """Run the method holding the gallery's lock: the loader thread updates the same widgets."""

    @functools.wraps(method)
    def locked(self: TemplateGallery, *args: Any, **kwargs: Any) -> Any:
        with self._ui_lock:
            return method(self, *args, **kwargs)

    return locked  # type: ignore[return-value]


def _button(description: str, icon: str, tooltip: str, **kwargs: Any) -> widgets.Button:
    return widgets.Button(
        description=description,
        icon=icon,
        tooltip=tooltip,
        layout=widgets.Layout(width="auto"),
        **kwargs,
    )


def _one_line(err: BaseException) -> str:
    if isinstance(err, errors.DataRobotError):
        return str(err)
    text = " ".join(str(err).split()) or type(err).__name__
    return f"{type(err).__name__}: {text}"


class TemplateCard(widgets.VBox):
    """One card of the grid. Its widgets are reused for whichever template the page shows."""

    def __init__(self) -> None:
        self.template_id: str | None = None
        # display: block, not the Label's flex: text-overflow (its ellipsis) needs a block box.
        self.title = widgets.Label(
            value="",
            style={"font_weight": "bold"},
            layout=widgets.Layout(width="100%", display="block"),
        )
        # Badges, tags and the description excerpt in one HTML widget: one update per card.
        self.body = widgets.HTML(value="", layout=widgets.Layout(flex="1 1 auto"))
        self.open_button = widgets.Button(
            description="Details",
            icon="book",
            tooltip="Show this template's README, files and the create button",
            layout=widgets.Layout(width="auto", align_self="flex-end"),
        )
        self._selected = False
        super().__init__(
            children=[self.title, self.body, self.open_button],
            layout=widgets.Layout(
                border=_BORDER, padding="6px 8px", min_height="150px", display="none"
            ),
        )

    @property
    def visible(self) -> bool:
        """Whether the card currently shows a template."""
        return self.layout.display != "none"

    def show(self, view: html.CardView, selected: bool) -> None:
        """Fill the card with one template's values (only changed values reach the frontend)."""
        if self.template_id != view.id:
            self.template_id = view.id
            self.title.value = view.name
            self.title.tooltip = view.name
            self.body.value = view.body
        if not self.visible:
            self.layout.display = None
        self.mark(selected)

    def hide(self) -> None:
        """Hide the card (a page with fewer templates than cards); its values stay for reuse."""
        if self.visible:
            self.layout.display = "none"

    def mark(self, selected: bool) -> None:
        """Highlight the card when its template is the selected one."""
        if selected != self._selected:
            self._selected = selected
            self.layout.border = _SELECTED_BORDER if selected else _BORDER


class TemplateGallery(widgets.VBox):
    """A card gallery of the custom templates: search, filter, page, read, create.

    The catalogue loads in a background thread: the first cards show as soon as the first page
    of the listing arrives, and search, filters and paging work over what has loaded while the
    rest comes in (``loading`` is True meanwhile; ``wait()`` waits for the end). It is filtered
    locally; the ``refresh`` button (or ``refresh()``) reloads it. Drive it from code through
    its traits:
    ``search``, the filters (``template_type``, ``template_sub_type``, ``tag``, ``publisher``,
    ``category``; None means all), ``order_by``, ``page`` (1-based), ``selected_id``; read
    ``matches`` and ``last_source``; call ``create_app()``.
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
    matches = Int(0, read_only=True, help="How many templates match the search and filters.")
    loading = Bool(False, read_only=True, help="Whether the catalogue is still loading.")
    last_source = Instance(
        ApplicationSource, allow_none=True, help="The last application source created here."
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
        # Held by whichever thread updates widgets (the face, the loader, the creation worker);
        # close() takes it to end the workers' updates.
        self._ui_lock = threading.RLock()
        self._loader: CatalogueLoader | None = None
        self._generation = 0  # of the load in progress: older loaders' reports are dropped
        self._shown_generation = 0
        self._closed = False
        self._owns_client = False  # True once the gallery builds a Client itself
        if not isinstance(page_size, int) or page_size < 1:
            raise errors.InvalidArgumentError(
                f"page_size must be a positive integer, not {page_size!r}"
            )
        self._client = client
        self._page_size = page_size
        self._catalogue = Catalogue()
        self._views: dict[int, html.CardView] = {}
        self._options: dict[str, list[tuple[str, str]]] = {
            f: [("All", _ALL)] for f in FILTER_FIELDS
        }
        self._rows: np.ndarray = np.empty(0, dtype=np.int64)
        self._load_error = ""
        self._ready = False
        self._quiet = False
        self._busy = threading.Lock()
        self._started = time.monotonic()
        #: The Future of the last creation started by the button (None before the first).
        self.creation: Future[ApplicationSource | None] | None = None

        with self._ui_lock:  # the loader's reports wait for the widgets
            # The first request goes out while the widgets are built.
            error = self._start_loading()
            self._build_widgets()
            super().__init__(
                children=[self.top_bar, self.status_bar, self.message, self.body],
                layout=widgets.Layout(width="100%"),
                **kwargs,
            )
            self.add_class("dr-notebook-gallery")
            self._wire()
            if template_type:
                self.template_type = template_type
            self._ready = True
            self._show_loading(error)

    # --- widgets -------------------------------------------------------------------------

    def _build_widgets(self) -> None:
        self.search_box = widgets.Text(
            value="",
            placeholder="Search names and descriptions",
            continuous_update=True,
            tooltip="Type to filter the templates by name or description",
            layout=widgets.Layout(flex="1 1 260px", min_width="200px"),
        )
        self.refresh_button = _button("Refresh", "refresh", "Reload the catalogue from the server")
        self.filters: dict[str, widgets.Dropdown] = {
            field: widgets.Dropdown(
                options=[("All", _ALL)],
                value=_ALL,
                description=label,
                tooltip=f"Show only templates with this {label.lower()}",
                style={"description_width": "initial"},
                layout=widgets.Layout(width="auto", max_width="320px"),
            )
            for field, label in _FILTER_LABELS.items()
        }
        self.sort = widgets.Dropdown(
            options=[(label, key) for key, label in SORT_ORDERS.items()],
            value="name",
            description="Sort",
            tooltip="Order of the cards",
            style={"description_width": "initial"},
            layout=widgets.Layout(width="auto"),
        )
        wrap = widgets.Layout(flex_flow="row wrap", align_items="center", grid_gap="4px 12px")
        self.top_bar = widgets.VBox(
            [
                widgets.HBox([self.search_box, self.refresh_button], layout=wrap),
                widgets.HBox([*self.filters.values(), self.sort], layout=wrap),
            ]
        )
        self.matches_label = widgets.HTML(value="")
        self.load_status = widgets.HTML(value="")
        self.status_bar = widgets.HBox(
            [self.matches_label, self.load_status],
            layout=widgets.Layout(align_items="center", grid_gap="12px"),
        )
        self.message = widgets.HTML(value="")

        self.cards = [TemplateCard() for _ in range(self._page_size)]
        self.grid = widgets.GridBox(
            children=self.cards,
            layout=widgets.Layout(
                grid_template_columns="repeat(auto-fill, minmax(230px, 1fr))",
                grid_gap="8px",
                width="100%",
            ),
        )
        self.prev_button = _button("Previous", "chevron-left", "Previous page")
        self.next_button = _button("Next", "chevron-right", "Next page")
        self.page_label = widgets.Label(value="Page 1 of 1")
        self.pager = widgets.HBox(
            [self.prev_button, self.page_label, self.next_button],
            layout=widgets.Layout(align_items="center", grid_gap="8px", margin="6px 0"),
        )
        browser = widgets.VBox(
            [self.grid, self.pager], layout=widgets.Layout(flex="2 1 480px", min_width="0")
        )

        self.detail_header = widgets.HTML(value="")
        self.readme = widgets.HTML(value="")
        self.readme_box = widgets.Box(
            [self.readme],
            layout=widgets.Layout(
                max_height="420px",
                overflow="auto",
                border="1px solid var(--jp-border-color2, rgba(128,128,128,.35))",
                padding="0 8px",
            ),
        )
        self.detail_info = widgets.HTML(value="")
        self.create_button = _button(
            "Create application source",
            "rocket",
            "Create an application source from this template",
            button_style="primary",
        )
        self.close_button = _button("Close", "times", "Close the details")
        self.create_reason = widgets.HTML(value="")
        self.progress = widgets.HTML(value="")
        self.result = widgets.HTML(value="")
        self.detail = widgets.VBox(
            [
                self.detail_header,
                self.readme_box,
                self.detail_info,
                widgets.HBox([self.create_button, self.close_button], layout=wrap),
                self.create_reason,
                self.progress,
                self.result,
            ],
            layout=widgets.Layout(
                flex="1 1 360px",
                min_width="0",
                display="none",
                padding="6px 10px",
                border="1px solid var(--jp-border-color1, rgba(128,128,128,.5))",
            ),
        )
        self.body = widgets.HBox(
            [browser, self.detail],
            layout=widgets.Layout(flex_flow="row wrap", align_items="flex-start", grid_gap="12px"),
        )

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
        except _USER_ERRORS as err:
            return f"Could not load the templates: {_one_line(err)}"
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
        return not self._closed and generation == self._generation

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
                options = [("All", _ALL)] + [(labels.get(v, v), v) for v in values]
                self._options[field] = options
                self._set_dropdown(dropdown, options, getattr(self, field))

    @staticmethod
    def _set_dropdown(
        dropdown: widgets.Dropdown, options: list[tuple[str, str]], value: str | None
    ) -> None:
        value = value or _ALL
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
        for card in self.visible_cards:
            card.mark(card.template_id == change["new"])
        if self._ready:
            if not self._busy.locked():
                self.progress.value = ""
                self.result.value = ""
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
        for i, card in enumerate(self.cards):
            if i < len(rows):
                view = self._card_view(int(rows[i]))
                card.show(view, selected=view.id == self.selected_id)
            else:
                card.hide()
        pages = self.page_count
        self.page_label.value = f"Page {self.page} of {pages}"
        self.prev_button.disabled = self.page <= 1
        self.next_button.disabled = self.page >= pages
        self.pager.layout.display = None if pages > 1 else "none"
        total = len(self._catalogue)
        noun = "template" if total == 1 else "templates"
        self.matches_label.value = (
            f"<b>{self.matches}</b> of {total} {noun} match"
            if self.matches != total
            else f"<b>{total}</b> {noun}"
        )
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
        if self.selected_id is None:
            self.detail.layout.display = "none"
            return
        from dr_notebook.render import render_markdown

        self.detail.layout.display = None
        row = self._selected_row()
        if row is None:
            self.detail_header.value = html.message_html(
                f"Template {self.selected_id} is not in the loaded catalogue "
                "(refresh to reload it).",
                "warn",
            )
            self.readme.value = ""
            self.readme_box.layout.display = "none"
            self.detail_info.value = ""
            blocker = ""
        else:
            self.detail_header.value = html.detail_header_html(row)
            readme = render_markdown(row.get("readme") or "", images=self._readme_images(row))
            self.readme.value = html.readme_html(readme)
            self.readme_box.layout.display = None
            self.detail_info.value = html.detail_info_html(row)
            blocker = html.create_blocker(row)
        self._update_create_button(blocker)

    def _readme_images(self, row: dict[str, Any]) -> dict[str, bytes]:
        """The template's own images its README shows (none if it names none, or on errors)."""
        from dr_notebook.readme_images import readme_images, wanted_image_files

        if self._client is None or not wanted_image_files(row.get("readme"), row["files"] or []):
            return {}
        try:
            return readme_images(self._client, self._client.templates.get(row["id"]))
        except errors.DataRobotError:
            return {}

    def _update_create_button(self, blocker: str | None = None) -> None:
        if blocker is None:
            row = self._selected_row()
            blocker = html.create_blocker(row) if row is not None else ""
        busy = self._busy.locked()
        self.create_button.disabled = bool(blocker) or busy
        if blocker:
            self.create_button.tooltip = f"Not available: {blocker}"
        elif busy:
            self.create_button.tooltip = "An application source is being created"
        else:
            self.create_button.tooltip = "Create an application source from this template"
        self.create_reason.value = html.message_html(blocker, "warn")

    # --- creating application sources ---------------------------------------------------

    def _name_of(self, template_id: str) -> str:
        position = self._catalogue.position(template_id)
        if position is None:
            return template_id
        return self._catalogue.record(position)["name"] or template_id

    def _begin(self, template_id: str) -> None:
        """Take the creation lock and show that creation started (raises if one is running)."""
        if not self._busy.acquire(blocking=False):
            raise errors.InvalidArgumentError(
                "An application source is already being created here: wait for it to finish"
            )
        self._started = time.monotonic()
        self.result.value = ""
        self.progress.value = html.progress_html(
            f"Creating an application source from {self._name_of(template_id)}…"
        )
        self._update_create_button()

    def _end(self) -> None:
        self._busy.release()
        with self._ui_lock:
            if not self._closed:
                self._update_create_button()

    def _report(self, progress: str, result: str | None = None) -> None:
        """Show creation progress (and a result): from any thread, never after ``close()``."""
        with self._ui_lock:
            if self._closed:
                return
            self.progress.value = progress
            if result is not None:
                self.result.value = result

    def _on_status(self, status: AsyncStatus) -> None:
        elapsed = time.monotonic() - self._started
        text = f"Creating the application source: {status.status or 'waiting'} ({elapsed:.1f} s)"
        if status.message:
            text += f": {status.message}"
        self._report(html.progress_html(text))

    def _create(self, template_id: str) -> ApplicationSource:
        """Create the source (progress shown through ``on_status``) and show the result.

        Runs in the creation worker or the caller's thread: no progress bar, only the
        gallery's own progress line.
        """
        try:
            source = self._require_client().app_sources.create_from_template(
                template_id, on_status=self._on_status, progress=False
            )
        except _USER_ERRORS as err:
            self._report("", html.message_html(_one_line(err), "error"))
            raise
        except Exception as err:
            self._report("", html.message_html(f"Unexpected error: {_one_line(err)}", "error"))
            raise
        from dr_notebook.render import source_html

        elapsed = time.monotonic() - self._started
        self.last_source = source
        done = f"Created application source {source.name or source.id} in {elapsed:.1f} s."
        self._report(html.message_html(done, "ok"), source_html(source))
        return source

    def _check_creatable(self, template_id: str) -> None:
        position = self._catalogue.position(template_id)
        if position is not None:
            blocker = html.create_blocker(self._catalogue.record(position))
            if blocker:
                self.result.value = html.message_html(blocker, "warn")
                raise errors.InvalidArgumentError(blocker)

    def create_app(self, template_id: str | None = None) -> ApplicationSource:
        """Create an application source from ``template_id`` (default: the selected template).

        Waits for the server, shows the source (or the error's one line) in the detail pane and
        returns the ``ApplicationSource``; errors are raised after being shown.
        """
        template_id = template_id or self.selected_id
        if not template_id:
            raise errors.InvalidArgumentError(
                "No template selected: pass template_id= or open a template in the gallery"
            )
        if template_id != self.selected_id:
            self.selected_id = template_id
        self._check_creatable(template_id)
        self._begin(template_id)
        try:
            return self._create(template_id)
        finally:
            self._end()

    def _start_creation(self) -> Future[ApplicationSource | None] | None:
        """The button: create the selected template's source in a worker thread."""
        template_id = self.selected_id
        if not template_id:
            return None
        try:
            self._check_creatable(template_id)
            self._begin(template_id)
        except errors.InvalidArgumentError:
            return None
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dr-gallery")
        self.creation = self._executor.submit(self._create_in_worker, template_id)
        return self.creation

    def _create_in_worker(self, template_id: str) -> ApplicationSource | None:
        try:
            return self._create(template_id)
        except _USER_ERRORS:
            return None  # already shown in the pane as one line
        except Exception:
            log.exception("Creating an application source from %s failed", template_id)
            raise
        finally:
            self._end()

    def close(self) -> None:
        """Close the gallery and every widget in it, and stop its worker thread.

        A client the gallery built itself is closed too; one passed in stays open.
        """
        with self._ui_lock:
            self._closed = True  # the workers touch no widget from here on
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


def _walk(widget: widgets.Widget) -> Iterator[widgets.Widget]:
    """A widget and all its descendants (children and layout/style models), depth first."""
    yield widget
    for name in ("layout", "style"):
        child = getattr(widget, name, None)
        if isinstance(child, widgets.Widget):
            yield child
    for child in getattr(widget, "children", ()):
        yield from _walk(child)
