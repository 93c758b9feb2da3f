"""``make demo`` verified headless: the launcher's JupyterLab runs the quickstart notebook."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_quickstart_runs_clean_in_the_demo(lab_page) -> None:
    # The URL the launcher announces, as a person following `make demo` would open it.
    assert lab_page.lab.start_url.endswith("/lab/tree/quickstart.ipynb")
    lab_page.open("quickstart.ipynb", url=lab_page.lab.start_url)
    lab_page.run_all()
    assert lab_page.errors() == []
    stderr = [
        o.get("text", "")
        for o in lab_page.outputs()
        if o.get("output_type") == "stream" and o.get("name") == "stderr"
    ]
    assert not any("Error" in text for text in stderr), stderr
    table = lab_page.page.locator(".jp-OutputArea-output table.dataframe").first
    table.wait_for()
    assert table.locator("tbody tr").count() >= 5
    lab_page.hide_sidebar()
    lab_page.screenshot("quickstart")
    # %dr_template's card, README rendered inline.
    card = lab_page.page.locator(".dr-notebook-template").first
    assert card.get_by_role("heading", name="Streamlit App Base").count() >= 1
    # Its screenshot comes from the template's own files, inlined: nothing is fetched online.
    shot = card.locator("img[alt='Streamlit App Base screenshot']")
    assert shot.get_attribute("src").startswith("data:image/png;base64,")
    assert shot.evaluate("img => img.complete && img.naturalWidth") == 400
    card.evaluate(
        """(e) => { e.scrollIntoView({block: 'start'});
                    e.closest('.jp-WindowedPanel-outer')?.scrollBy(0, -16); }"""
    )
    lab_page.screenshot("readme")
