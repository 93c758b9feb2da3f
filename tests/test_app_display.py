"""``app.show()``: the inline view, the links, framing refusals read through the client's
transport (a real proxy in front of an app that sends framing headers), and the live launch
widget."""

from __future__ import annotations

import html
import threading
from collections.abc import Iterator
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import ipywidgets as widgets
import pytest

from dr_notebook.app_display import (
    IFRAME_SANDBOX,
    AppView,
    LaunchView,
    framing_refusal,
    set_default_mode,
    show,
)
from dr_notebook.app_links import set_link_base
from dr_notebook.client import Client
from dr_notebook.errors import ApplicationFailedError
from dr_notebook.models import Application, LaunchStep
from dr_notebook.sandbox.testing.proxy import serve

URL = "http://127.0.0.1:8765/custom_applications/abc/"
HOSTILE = '<img src=x onerror="alert(1)">"\'&'


def app(**kwargs: Any) -> Application:
    fields: dict[str, Any] = {
        "id": "abc", "name": "My app", "status": "running", "application_url": URL,
    }  # fmt: skip
    return Application(**(fields | kwargs))


@pytest.fixture(autouse=True)
def defaults(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("JUPYTERHUB_SERVICE_PREFIX", raising=False)
    monkeypatch.delenv("DR_NOTEBOOK_APP_LINK_BASE", raising=False)
    yield
    set_link_base("")
    set_default_mode("inline")


def test_inline_is_an_iframe_under_a_bar_with_reload_and_a_new_tab() -> None:
    view = app().show(height=400)
    assert isinstance(view, AppView) and view.framed
    page = view.html()
    assert page.count("<iframe") == 1
    assert f'src="{URL}"' in page and "height:400px" in page
    assert f'sandbox="{IFRAME_SANDBOX}"' in page
    assert "allow-top-navigation" not in page
    name = page.split('<iframe class="dr-notebook-app-frame" name="')[1].split('"')[0]
    assert f'target="{name}" class="dr-notebook-app-reload"' in page  # Reload: no script
    assert 'target="_blank" rel="noopener noreferrer"' in page and ">Open in a new tab<" in page
    assert "My app" in page and ">running<" in page
    bundle = view._repr_mimebundle_()
    assert bundle["text/html"].count("<iframe") == 1
    assert bundle["text/plain"] == f"My app (running): {URL}"


def test_tab_and_external_are_links_and_the_default_mode_is_configurable() -> None:
    tab = app().show("tab").html()
    assert "<iframe" not in tab and 'target="_blank"' in tab and ">Open application<" in tab
    external = app().show("external").html()
    assert "<iframe" not in external and f">{URL}</a>" in external and "_blank" not in external
    set_default_mode("tab")
    assert app().show().mode == "tab"
    with pytest.raises(ValueError, match="inline, tab, external"):
        app().show("popup")
    with pytest.raises(ValueError):
        set_default_mode("popup")


def test_every_value_is_escaped() -> None:
    hostile = app(name=HOSTILE, status=HOSTILE)
    for mode in ("inline", "tab", "external"):
        page = hostile.show(mode).html()
        assert "<img" not in page and 'onerror="' not in page, mode
        assert html.escape(HOSTILE, quote=True) in page
    # A URL that is not http(s) is never a link nor a frame.
    page = app(application_url="javascript:alert(1)").show().html()
    assert "javascript:" not in page and "<iframe" not in page and "no address" in page


def test_through_jupyter_server_proxy_frame_and_links_use_the_cards_base() -> None:
    set_link_base("/user/me/proxy/8765")
    proxied = "/user/me/proxy/8765/custom_applications/abc/"
    view = app().show()
    assert view.href == proxied and f'src="{proxied}"' in view.html()
    assert f'href="{proxied}"' in app().show("tab").html()
    set_link_base("direct")
    assert f'src="{URL}"' in app().show().html()


def test_an_app_not_running_is_a_link_saying_why() -> None:
    page = app(status="building").show().html()
    assert "<iframe" not in page and "Shown as a link: it is building." in page


@pytest.mark.parametrize(
    ("headers", "same_origin", "reason"),
    [
        ({"X-Frame-Options": "DENY"}, True, "X-Frame-Options: DENY"),
        ({"x-frame-options": "sameorigin"}, False, "X-Frame-Options: SAMEORIGIN"),
        ({"X-Frame-Options": "SAMEORIGIN"}, True, None),
        ({"Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'"}, True, "'none'"),
        ({"Content-Security-Policy": "frame-ancestors 'self'"}, False, "frame-ancestors"),
        ({"Content-Security-Policy": "frame-ancestors 'self'"}, True, None),
        ({"Content-Security-Policy": "frame-ancestors https://a.example"}, True, "a.example"),
        # CSP wins over X-Frame-Options, as in browsers.
        ({"Content-Security-Policy": "frame-ancestors *", "X-Frame-Options": "DENY"}, False, None),
        ({"Content-Security-Policy": "default-src 'self'"}, False, None),
        ({}, False, None),
    ],
)
def test_framing_refusals(headers: dict[str, str], same_origin: bool, reason: str | None) -> None:
    found = framing_refusal(headers, same_origin=same_origin)
    assert (found is None) == (reason is None), found
    if reason:
        assert found is not None and reason in found


class _Framing(BaseHTTPRequestHandler):
    """An app whose path says which framing headers it sends."""

    HEADERS: ClassVar[dict[str, tuple[str, str]]] = {
        "/deny": ("X-Frame-Options", "DENY"),
        "/csp": ("Content-Security-Policy", "frame-ancestors 'none'"),
        "/sameorigin": ("X-Frame-Options", "SAMEORIGIN"),
    }

    def _answer(self, body: bool) -> None:
        if self.path.startswith("/nohead") and not body:
            self.send_response(405)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        header = self.HEADERS.get(self.path.replace("/nohead", "", 1))
        if header:
            self.send_header(*header)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", "2")
        self.end_headers()
        if body:
            self.wfile.write(b"ok")

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def do_GET(self) -> None:
        self._answer(body=True)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def framing_front() -> Iterator[str]:
    """The sandbox's proxy (at /custom_applications/abc/) in front of ``_Framing``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Framing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        upstream = f"127.0.0.1:{server.server_address[1]}"
        with serve("front", env={"DR_PROXY_UPSTREAM": upstream}) as front:
            yield front.url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_the_sandbox_proxy_passes_framing_headers_on_and_adds_none(framing_front: str) -> None:
    import httpx

    base = f"{framing_front}/custom_applications/abc"
    with httpx.Client(trust_env=False) as http:
        plain = http.get(f"{base}/plain")
        assert plain.status_code == 200
        assert "x-frame-options" not in plain.headers
        assert "frame-ancestors" not in plain.headers.get("content-security-policy", "")
        assert http.get(f"{base}/deny").headers["x-frame-options"] == "DENY"


def test_show_reads_the_apps_headers_through_the_clients_transport(framing_front: str) -> None:
    token = "secret-token-never-shown-0123456789"
    with Client(endpoint=framing_front, token=token) as client:
        base = f"{framing_front}/custom_applications/abc"
        refused = show(app(application_url=f"{base}/deny"), client=client)
        assert not refused.framed and "<iframe" not in refused.html()
        assert "Shown as a link: it refuses to be framed (X-Frame-Options: DENY)." in (
            refused.html()
        )
        assert "X-Frame-Options: DENY" in repr(refused)
        csp = app(application_url=f"{base}/csp").show(client=client)
        assert not csp.framed and "frame-ancestors" in csp.html()
        # A path through Jupyter is the notebook's own origin: SAMEORIGIN frames.
        same = app(application_url=f"{base}/sameorigin")
        assert not same.show(client=client).framed
        set_link_base("/user/me/proxy/1")
        assert same.show(client=client).framed
        set_link_base("")
        # HEAD refused (405): one GET instead.
        assert not app(application_url=f"{base}/nohead/deny").show(client=client).framed
        fine = app(application_url=f"{base}/plain").show(client=client)
        assert fine.framed and "<iframe" in fine.html()
        for view in (refused, csp, fine):
            assert token not in view.html() and token not in repr(view)


def test_an_unreachable_or_foreign_app_is_still_framed(framing_front: str) -> None:
    with Client(endpoint=framing_front, token="t" * 20) as client:
        elsewhere = app(application_url="http://127.0.0.1:9/custom_applications/abc/")
        assert elsewhere.show(client=client).framed  # another origin: not asked, no error


def steps(*stages: str) -> list[LaunchStep]:
    return [
        LaunchStep(stage=s, status="", message=f"{s} message", elapsed=float(i))
        for i, s in enumerate(stages)
    ]


def test_the_launch_widget_updates_in_place_then_becomes_the_app() -> None:
    launch = LaunchView("My <app>")
    values: list[str] = []
    launch.widget.observe(lambda change: values.append(change["new"]), names="value")
    for step in steps("source", "build", "start", "running"):
        launch.step(step)
    assert isinstance(launch.widget, widgets.HTML)
    assert len(values) == 4 and "My &lt;app&gt;" in values[0] and "<app>" not in values[0]
    assert "creating the source" in values[0]
    assert "building</span>" in values[1] and "start message" in values[2]
    assert "✓ running" in values[3]
    launch.finish(app().show())
    assert launch.widget.value.count("<iframe") == 1


def test_the_launch_widget_shows_the_failure_and_never_the_token() -> None:
    launch = LaunchView("Broken")
    for step in steps("build", "failed"):
        launch.step(step)
    error = ApplicationFailedError(
        "The application 'Broken' (x) failed after 3 s: ImportError: <nope>.",
        application=app(status="failed"),
        details=["Last 3 lines of its output:", "    import <nope>", "           ^^^^^^",
                 "ImportError: <nope>"],
        hint="Logs: client.applications.logs('x').",
    )  # fmt: skip
    launch.fail(error)
    value = launch.widget.value
    assert ">failed<" in value
    # The output's last lines, their line breaks kept; the summary and the hint are the
    # error's own line (the magic prints it below the widget), not repeated here.
    assert "    import &lt;nope&gt;\n           ^^^^^^\nImportError: &lt;nope&gt;</pre>" in value
    assert "failed after" not in value and "Logs:" not in value
    plain = LaunchView("Plain")
    plain.fail(ApplicationFailedError("The application failed: <why>."))  # no output
    assert ">failed<" in plain.widget.value and "why" not in plain.widget.value
    assert "<pre" not in plain.widget.value
    state = repr(launch.widget.get_state())
    assert "<nope>" not in state


def test_the_launch_widget_is_standard_ipywidgets_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """What VS Code's Jupyter extension renders too (it bundles ``@jupyter-widgets/controls``
    and follows ``display_id`` updates): one ``HTML`` control of ipywidgets' own, displayed
    once and then updated; no widget module of ours, no script, no event handler."""
    import IPython.display

    shown: list[tuple[dict[str, Any], dict[str, Any]]] = []
    updates: list[dict[str, Any]] = []

    class Handle:
        def update(self, bundle: dict[str, Any], **kwargs: Any) -> None:
            updates.append(bundle)

    def display(bundle: dict[str, Any], **kwargs: Any) -> Handle:
        shown.append((bundle, kwargs))
        return Handle()

    monkeypatch.setattr(IPython.display, "display", display)
    launch = LaunchView("App")
    values: list[str] = []
    launch.widget.observe(lambda change: values.append(change["new"]), names="value")
    for step in steps("source", "build", "start", "running"):
        launch.step(step)
    launch.finish(app().show())
    failed = LaunchView("Broken")
    failed.step(steps("build")[0])
    failed.fail(ApplicationFailedError("failed: <b onclick=x>", application=app()))
    values.append(failed.widget.value)
    for widget in (launch.widget, failed.widget):
        state = widget.get_state()
        assert (state["_model_module"], state["_view_module"]) == (
            "@jupyter-widgets/controls", "@jupyter-widgets/controls"), state  # fmt: skip
        assert (state["_model_name"], state["_view_name"]) == ("HTMLModel", "HTMLView")
    assert len(shown) == 2 and all(kwargs.get("display_id") is True for _, kwargs in shown)
    assert len(updates) == 2  # each launch: its last line once it ends, in the same display
    for bundle in [b for b, _ in shown] + updates:
        assert set(bundle) == {"application/vnd.jupyter.widget-view+json", "text/plain"}
    assert len(values) >= 6
    control = _Tags()  # the check below can fail
    control.feed('<b onclick="x"><script></script></b>')
    assert control.handlers == ["onclick"] and "script" in control.names
    for value in values:
        tags = _Tags()
        tags.feed(value)
        assert "script" not in tags.names and not tags.handlers, value
        assert "javascript:" not in value.lower()


class _Tags(HTMLParser):
    """The element names and ``on*`` attributes of some HTML."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()
        self.handlers: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.names.add(tag)
        self.handlers += [name for name, _ in attrs if name.startswith("on")]
