"""The gallery notebook in JupyterLab: cards, search as you type, README, one-click source."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser

SOURCE_ID = re.compile(r"\b[0-9a-f]{24}\b")


def visible_cards(gallery) -> list[str]:
    """Titles of the cards on show (hidden cards are kept for reuse, with display: none)."""
    return gallery.evaluate(
        """(root) => Array.from(root.querySelectorAll('button'))
              .filter(b => b.textContent.trim() === 'Details' && b.offsetParent !== null)
              .map(b => b.closest('.widget-vbox').querySelector('.widget-label').textContent)"""
    )


def assert_long_titles_end_in_an_ellipsis(gallery, expect_cut: bool) -> None:
    """A title too long for its card is cut by CSS that draws an ellipsis (a block box: a flex
    box, the Label's default, clips its text without one)."""
    titles = gallery.evaluate(
        """(root) => Array.from(root.querySelectorAll('button'))
              .filter(b => b.textContent.trim() === 'Details' && b.offsetParent !== null)
              .map(b => b.closest('.widget-vbox').querySelector('.widget-label'))
              .map(el => {
                  const s = getComputedStyle(el);
                  return {text: el.textContent, cut: el.scrollWidth > el.clientWidth,
                          display: s.display, overflow: s.overflowX,
                          textOverflow: s.textOverflow, whiteSpace: s.whiteSpace};
              })"""
    )
    assert not expect_cut or any(t["cut"] for t in titles), titles
    for title in titles:
        assert title["display"] == "block", title
        assert (title["overflow"], title["textOverflow"], title["whiteSpace"]) == (
            "hidden", "ellipsis", "nowrap"), title  # fmt: skip


UIS = {
    # ui: (URL path of the notebook, the application's name)
    "jupyterlab": ("lab/tree/gallery.ipynb", "JupyterLab"),
    "notebook7": ("notebooks/gallery.ipynb", "Jupyter Notebook"),
}


@pytest.mark.parametrize("ui", list(UIS))
def test_gallery_search_readme_and_create(lab_page, ui: str) -> None:
    path, app_name = UIS[ui]
    lab_page.open("gallery.ipynb", url=f"{lab_page.lab.base_url}/{path}")
    assert lab_page.page.evaluate("() => window.jupyterapp.name") == app_name
    lab_page.run_all()
    assert lab_page.errors() == []
    if ui == "jupyterlab":
        lab_page.hide_sidebar()
    page = lab_page.page

    gallery = page.locator(".dr-notebook-gallery").first
    gallery.get_by_role("button", name="Details").first.wait_for(timeout=60_000)
    gallery.scroll_into_view_if_needed()
    before = visible_cards(gallery)
    assert len(before) >= 6, before
    lab_page.screenshot(f"gallery-cards-{ui}")
    # JupyterLab's narrower cards cut some demo names (Notebook 7's may fit them all).
    assert_long_titles_end_in_an_ellipsis(gallery, expect_cut=ui == "jupyterlab")

    search = gallery.get_by_placeholder("Search names and descriptions")
    search.fill("")
    search.press_sequentially("stream", delay=40)
    page.wait_for_function(
        """([root, n]) => Array.from(root.querySelectorAll('button'))
              .filter(b => b.textContent.trim() === 'Details' && b.offsetParent !== null)
              .length < n""",
        arg=[gallery.element_handle(), len(before)],
        timeout=30_000,
    )
    after = visible_cards(gallery)
    assert 0 < len(after) < len(before), (before, after)
    lab_page.screenshot(f"gallery-search-{ui}")

    # Open the first application template found, read its README.
    gallery.get_by_role("button", name="Details").first.click()
    readme = gallery.locator(".widget-html-content h1, .widget-html-content h2")
    readme.first.wait_for(timeout=30_000)
    headings = readme.all_inner_texts()
    assert len(headings) >= 2, headings
    create = gallery.get_by_role("button", name="Create application source")
    assert create.is_enabled()
    lab_page.screenshot(f"gallery-readme-{ui}", gallery)

    create.click()
    card = gallery.locator(".dr-notebook-source")
    card.wait_for(timeout=60_000)
    source_id = SOURCE_ID.search(card.inner_text())
    assert source_id, card.inner_text()
    lab_page.screenshot(f"gallery-created-{ui}", gallery)
    assert lab_page.tripwire.dialogs == []
