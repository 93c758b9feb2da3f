"""The browsing view of the gallery: search box, filters, sort, the card grid and the pager."""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets as widgets

from dr_notebook.gallery import html
from dr_notebook.gallery.catalogue import SORT_ORDERS
from dr_notebook.gallery.ui import WRAP, button

__all__ = ["ALL", "FILTER_LABELS", "TemplateBrowser", "TemplateCard", "set_dropdown"]

_BORDER = "2px solid var(--jp-border-color2, rgba(128,128,128,.35))"
_SELECTED_BORDER = "2px solid var(--jp-brand-color1, #1976d2)"
FILTER_LABELS = {
    "template_type": "Type",
    "template_sub_type": "Sub-type",
    "tag": "Tag",
    "publisher": "Publisher",
    "category": "Category",
}
#: The value of a filter's "All" option.
ALL = ""


def set_dropdown(
    dropdown: widgets.Dropdown, options: list[tuple[str, str]], value: str | None
) -> None:
    """Give a filter's dropdown its options and value (a value no option has is added)."""
    value = value or ALL
    if value not in {v for _, v in options}:
        # A filter set from code to a value no template has: show it (with 0 matches).
        options = [*options, (value, value)]
    if list(dropdown.options) != options:
        dropdown.options = options
    dropdown.value = value


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


class TemplateBrowser:
    """The widgets that find a template: search and filter bars, counts, cards and pager.

    It only shows what it is given; the gallery runs the queries and wires the events.
    ``tools`` are extra widgets for the end of the search row (the view toggle).
    """

    def __init__(self, page_size: int, tools: Sequence[widgets.Widget] = ()) -> None:
        self.search_box = widgets.Text(
            value="",
            placeholder="Search names and descriptions",
            continuous_update=True,
            tooltip="Type to filter the templates by name or description",
            layout=widgets.Layout(flex="1 1 260px", min_width="200px"),
        )
        self.refresh_button = button("Refresh", "refresh", "Reload the catalogue from the server")
        self.filters: dict[str, widgets.Dropdown] = {
            field: widgets.Dropdown(
                options=[("All", ALL)],
                value=ALL,
                description=label,
                tooltip=f"Show only templates with this {label.lower()}",
                style={"description_width": "initial"},
                layout=widgets.Layout(width="auto", max_width="320px"),
            )
            for field, label in FILTER_LABELS.items()
        }
        self.sort = widgets.Dropdown(
            options=[(label, key) for key, label in SORT_ORDERS.items()],
            value="name",
            description="Sort",
            tooltip="Order of the cards",
            style={"description_width": "initial"},
            layout=widgets.Layout(width="auto"),
        )
        self.filter_bar = widgets.HBox(
            [*self.filters.values(), self.sort], layout=widgets.Layout(**WRAP)
        )
        self.top_bar = widgets.VBox(
            [
                widgets.HBox(
                    [self.search_box, self.refresh_button, *tools], layout=widgets.Layout(**WRAP)
                ),
                self.filter_bar,
            ]
        )
        self.matches_label = widgets.HTML(value="")
        self.load_status = widgets.HTML(value="")
        self.status_bar = widgets.HBox(
            [self.matches_label, self.load_status],
            layout=widgets.Layout(align_items="center", grid_gap="12px"),
        )
        self.message = widgets.HTML(value="")
        self.cards = [TemplateCard() for _ in range(page_size)]
        self.grid = widgets.GridBox(
            children=self.cards,
            layout=widgets.Layout(
                grid_template_columns="repeat(auto-fill, minmax(230px, 1fr))",
                grid_gap="8px",
                width="100%",
            ),
        )
        self.prev_button = button("Previous", "chevron-left", "Previous page")
        self.next_button = button("Next", "chevron-right", "Next page")
        self.page_label = widgets.Label(value="Page 1 of 1")
        self.pager = widgets.HBox(
            [self.prev_button, self.page_label, self.next_button],
            layout=widgets.Layout(align_items="center", grid_gap="8px", margin="6px 0"),
        )
        self.box = widgets.VBox(
            [self.grid, self.pager], layout=widgets.Layout(flex="2 1 480px", min_width="0")
        )

    @property
    def visible_cards(self) -> list[TemplateCard]:
        """The cards showing a template on the current page, in order."""
        return [card for card in self.cards if card.visible]

    def show_page(
        self, views: Sequence[html.CardView], selected_id: str | None, page: int, pages: int
    ) -> None:
        """Show ``views`` in the first cards (hiding the rest) and the pager for ``page``."""
        for i, card in enumerate(self.cards):
            if i < len(views):
                card.show(views[i], selected=views[i].id == selected_id)
            else:
                card.hide()
        self.page_label.value = f"Page {page} of {pages}"
        self.prev_button.disabled = page <= 1
        self.next_button.disabled = page >= pages
        self.pager.layout.display = None if pages > 1 else "none"

    def show_counts(self, matches: int, total: int) -> None:
        """The count line: "<b>3</b> of 37 templates match", or the total."""
        noun = "template" if total == 1 else "templates"
        self.matches_label.value = (
            f"<b>{matches}</b> of {total} {noun} match"
            if matches != total
            else f"<b>{total}</b> {noun}"
        )

    def mark(self, selected_id: str | None) -> None:
        """Highlight the card of the selected template (and only it)."""
        for card in self.visible_cards:
            card.mark(card.template_id == selected_id)
