"""Links to applications through a Jupyter server's proxy (remote JupyterLab)."""

from __future__ import annotations

import html
from collections.abc import Iterator

import pytest
from IPython.testing import globalipapp

from dr_notebook.app_links import (
    THROUGH_JUPYTER,
    app_link,
    detect_link_base,
    set_link_base,
    valid_link_base,
)
from dr_notebook.cards import application_html, application_link
from dr_notebook.models import Application

URL = "http://127.0.0.1:8765/custom_applications/abc/"


def test_a_link_base_replaces_scheme_and_host_of_application_urls_only() -> None:
    assert app_link(URL, None) == URL
    assert app_link(URL, "/user/me/proxy/8765/") == "/user/me/proxy/8765/custom_applications/abc/"
    assert app_link(URL + "?x=1", "https://hub.example.com/user/me/proxy/8765") == (
        "https://hub.example.com/user/me/proxy/8765/custom_applications/abc/?x=1"
    )
    # A DataRobot URL with another shape, and a missing URL, are left alone.
    assert (
        app_link("https://app.datarobot.com/apps/abc/", "/p")
        == "https://app.datarobot.com/apps/abc/"
    )
    assert app_link(None, "/p") is None


def test_only_paths_and_http_urls_are_link_bases() -> None:
    assert valid_link_base("/user/me/proxy/8765/") == "/user/me/proxy/8765"
    assert valid_link_base("http://127.0.0.1:8888/proxy/8765") == "http://127.0.0.1:8888/proxy/8765"
    for bad in ("//evil.example.com/x", "javascript:alert(1)", "relative/path", "", "/\\evil"):
        assert valid_link_base(bad) is None
    assert app_link(URL, "javascript:alert(1)") == URL  # refused: the API's URL stays


def test_detection_behind_jupyterhub_for_a_loopback_sandbox_only() -> None:
    hub = {"JUPYTERHUB_SERVICE_PREFIX": "/user/me/"}
    assert detect_link_base("http://127.0.0.1:8765/api/v2", hub) == "/user/me/proxy/8765"
    assert detect_link_base("https://app.datarobot.com/api/v2", hub) is None
    assert detect_link_base("http://127.0.0.1:8765/api/v2", {}) is None
    explicit = {"DR_NOTEBOOK_APP_LINK_BASE": "/lab-base/proxy/9999", **hub}
    assert detect_link_base("http://127.0.0.1:8765/api/v2", explicit) == "/lab-base/proxy/9999"


@pytest.fixture
def reset_link_base(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("JUPYTERHUB_SERVICE_PREFIX", raising=False)
    monkeypatch.delenv("DR_NOTEBOOK_APP_LINK_BASE", raising=False)
    yield
    set_link_base("")


def href_of(html: str) -> str:
    return html.split('href="')[1].split('"')[0]


def test_the_card_links_through_the_base_and_shows_the_apis_url(reset_link_base: None) -> None:
    app = Application(id="abc", name="App", status="running", application_url=URL)
    assert href_of(application_html(app)) == URL  # positive control: no base, no change
    set_link_base("/user/me/proxy/8765")
    card = application_html(app)
    assert href_of(card) == "/user/me/proxy/8765/custom_applications/abc/"
    assert URL in card  # the URL shown as text is still the API's
    assert app.application_url == URL
    set_link_base("//evil.example.com")  # refused: no link at all rather than another site
    assert "evil" not in application_link(URL)


def test_a_card_linking_through_jupyter_says_in_one_line_what_cannot_work_there(
    reset_link_base: None,
) -> None:
    app = Application(id="abc", name="App", status="running", application_url=URL)
    note = html.escape(THROUGH_JUPYTER)
    assert "\n" not in THROUGH_JUPYTER and "Gradio" in THROUGH_JUPYTER
    assert note not in application_html(app)  # positive control: a direct link, no note
    set_link_base("/user/me/proxy/8765")
    card = application_html(app)
    assert card.count(note) == 1 and card.count("dr-notebook-through-jupyter") == 1
    assert card.index(note) > card.index('href="/user/me/proxy/8765/')  # beside the link
    stopped = Application(id="abc", name="App", status="failed", application_url="ftp://x/")
    assert note not in application_html(stopped)  # no link, nothing to explain
    set_link_base("direct")
    assert note not in application_html(app)


def test_the_card_detects_jupyterhub_and_direct_turns_it_off(
    reset_link_base: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/me/")
    assert href_of(application_link(URL)) == "/user/me/proxy/8765/custom_applications/abc/"
    set_link_base("direct")
    assert href_of(application_link(URL)) == URL


def test_config_sets_the_link_base_for_the_magics_cards(reset_link_base: None) -> None:
    globalipapp.start_ipython()
    ip = globalipapp.get_ipython()
    assert ip is not None
    ip.run_line_magic("load_ext", "dr_notebook")
    try:
        ip.run_line_magic("config", "DataRobotMagics.app_link_base = '/hub/proxy/8765'")
        app = Application(id="abc", status="running", application_url=URL)
        assert href_of(application_html(app)) == "/hub/proxy/8765/custom_applications/abc/"
    finally:
        ip.run_line_magic("unload_ext", "dr_notebook")
        ip.config.DataRobotMagics.clear()
