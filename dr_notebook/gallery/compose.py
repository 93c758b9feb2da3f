"""Builds the gallery's views and wires their widgets to the gallery's traits and methods."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import traitlets

from dr_notebook.gallery import html
from dr_notebook.gallery.applications import ApplicationsView
from dr_notebook.gallery.browser import TemplateBrowser, TemplateCard
from dr_notebook.gallery.detail import DetailPane

if TYPE_CHECKING:
    from dr_notebook.gallery.widget import TemplateGallery

__all__ = ["build_views", "wire"]


def build_views(gallery: TemplateGallery) -> None:
    """The gallery's views: the browser, the detail pane, "My applications" and its toggle."""
    gallery.apps_toggle = widgets.ToggleButton(
        value=False,
        description="My applications",
        icon="list",
        tooltip="Show your applications (status, link, logs, delete)",
        layout=widgets.Layout(width="auto"),
    )
    gallery.browser = TemplateBrowser(gallery._page_size, tools=[gallery.apps_toggle])
    gallery.detail_pane = DetailPane(
        gallery._guard,
        client=gallery._require_client,
        executor=gallery._worker,
        name_of=lambda template_id: _name_of(gallery, template_id),
        blocker_of=lambda template_id, launch: _blocker_of(gallery, template_id, launch),
        on_source=lambda source: setattr(gallery, "last_source", source),
        on_application=lambda app: setattr(gallery, "last_application", app),
    )
    gallery.apps_view = ApplicationsView(gallery._require_client, gallery._guard)
    gallery.body = widgets.HBox(
        [gallery.browser.box, gallery.detail_pane.box],
        layout=widgets.Layout(flex_flow="row wrap", align_items="flex-start", grid_gap="12px"),
    )


def _name_of(gallery: TemplateGallery, template_id: str) -> str:
    position = gallery._catalogue.position(template_id)
    if position is None:
        return template_id
    return gallery._catalogue.record(position)["name"] or template_id


def _blocker_of(gallery: TemplateGallery, template_id: str | None, launch: bool) -> str:
    """Why no application can be made from this template ("" when it can, or is unknown)."""
    position = gallery._catalogue.position(template_id)
    if position is None:
        return ""
    return html.create_blocker(gallery._catalogue.record(position), launch=launch)


def wire(gallery: TemplateGallery) -> None:
    """Link the views' widgets to the gallery's traits and methods."""
    traitlets.link((gallery.browser.search_box, "value"), (gallery, "search"))
    traitlets.link((gallery.browser.sort, "value"), (gallery, "order_by"))
    for field, dropdown in gallery.browser.filters.items():
        dropdown.observe(_filter_picked(gallery, field), names="value")
    gallery.browser.refresh_button.on_click(lambda _b: gallery.refresh())
    gallery.browser.prev_button.on_click(lambda _b: gallery._step(-1))
    gallery.browser.next_button.on_click(lambda _b: gallery._step(+1))
    gallery.detail_pane.close_button.on_click(lambda _b: setattr(gallery, "selected_id", None))
    gallery.detail_pane.create_button.on_click(lambda _b: gallery._start_creation())
    gallery.detail_pane.launch_button.on_click(lambda _b: gallery._start_launch())
    gallery.apps_toggle.observe(
        lambda change: setattr(gallery, "view", "applications" if change["new"] else "templates"),
        names="value",
    )
    for card in gallery.browser.cards:
        card.open_button.on_click(_card_opened(gallery, card))


def _filter_picked(gallery: TemplateGallery, field: str) -> Any:
    def picked(change: dict[str, Any]) -> None:
        with gallery._ui_lock:
            if not gallery._quiet:
                setattr(gallery, field, change["new"] or None)

    return picked


def _card_opened(gallery: TemplateGallery, card: TemplateCard) -> Any:
    def opened(_button: widgets.Button) -> None:
        if card.template_id is not None:
            gallery.selected_id = card.template_id

    return opened
