"""Links to applications through a Jupyter server's proxy (remote JupyterLab)."""

from __future__ import annotations

from dr_notebook.app_links import app_link, detect_link_base, valid_link_base

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
