"""A running application inside the notebook: ``app.show()`` and the live launch widget.

``inline`` shows the app in an iframe under a thin bar (name, status, Reload, Open in a new
tab); ``tab`` is a link that opens it in a new tab; ``external`` the plain URL as a link. The
iframe and the links use the same address as the cards' "Open application" links
(``dr_notebook.app_links``: through jupyter-server-proxy when the notebook's Jupyter proxies
the sandbox).

Before framing an app, one request through the client's transport reads its response headers:
an app that refuses to be framed (``X-Frame-Options``, CSP ``frame-ancestors``) is shown as a
link with one line saying why. The iframe's ``sandbox`` attribute (``IFRAME_SANDBOX``) allows
what web apps need: scripts and their own origin (Streamlit's websocket checks the page's
origin, and it keeps state in ``sessionStorage``), forms, downloads and new tabs; it does not
allow navigating the notebook's page (no ``allow-top-navigation``).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, Literal

from dr_notebook.app_links import link_href
from dr_notebook.cards import MUTED, escaped, status_badge
from dr_notebook.errors import DataRobotError
from dr_notebook.models import Application, LaunchStep, use_app_display

if TYPE_CHECKING:
    import ipywidgets

    from dr_notebook.http import Transport

__all__ = [
    "IFRAME_SANDBOX",
    "MODES",
    "AppView",
    "LaunchView",
    "framing_refusal",
    "set_default_mode",
    "show",
]

Mode = Literal["inline", "tab", "external"]
MODES: tuple[Mode, ...] = ("inline", "tab", "external")
#: The iframe's sandbox: what apps (Streamlit, Dash, Gradio, Flask) need, and nothing to steer
#: the notebook's own page.
IFRAME_SANDBOX = (
    "allow-scripts allow-same-origin allow-forms allow-popups "
    "allow-popups-to-escape-sandbox allow-downloads"
)
DEFAULT_HEIGHT = 650

_default_mode: Mode = "inline"  # %config DataRobotMagics.app_display


def set_default_mode(mode: str) -> None:
    """The mode ``app.show()`` and ``--show`` use when none is given."""
    global _default_mode
    _default_mode = _check_mode(mode)


def _check_mode(mode: str | None) -> Mode:
    chosen = _default_mode if mode is None else mode
    if chosen not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {chosen!r}.")
    return chosen  # type: ignore[return-value]


# --- framing ---------------------------------------------------------------------------------


def framing_refusal(headers: Any, *, same_origin: bool) -> str | None:
    """Why a page with these response headers cannot be framed by the notebook, or None.

    ``same_origin``: the iframe's address is on the notebook's own origin (a path through the
    Jupyter server's proxy). CSP ``frame-ancestors`` wins over ``X-Frame-Options``, as browsers
    do; a list of other hosts counts as a refusal (the notebook's origin is not known here).
    """
    for policy in _all(headers, "content-security-policy"):
        for directive in policy.split(";"):
            words = directive.split()
            if not words or words[0].lower() != "frame-ancestors":
                continue
            sources = [w.lower() for w in words[1:]]
            if "*" in sources or (same_origin and "'self'" in sources):
                return None
            if sources in ([], ["'none'"]):
                return "it refuses to be framed (Content-Security-Policy frame-ancestors 'none')"
            shown = " ".join(words[1:])
            return f"it allows framing only by {shown} (Content-Security-Policy frame-ancestors)"
    for value in _all(headers, "x-frame-options"):
        option = value.strip().upper()
        if option == "DENY":
            return "it refuses to be framed (X-Frame-Options: DENY)"
        if option == "SAMEORIGIN" and not same_origin:
            return "it allows framing only by its own site (X-Frame-Options: SAMEORIGIN)"
    return None


def _all(headers: Any, name: str) -> list[str]:
    """Every value of header ``name`` (a mapping, or a list of pairs)."""
    pairs = headers.items() if hasattr(headers, "items") else headers
    return [str(v) for k, v in pairs if str(k).lower() == name]


def check_framing(transport: Transport | None, application_url: str, href: str) -> str | None:
    """Ask the app once (HEAD, else GET when HEAD is not allowed) and read its framing headers.

    Errors (no answer, another origin than the client's endpoint) leave the question open: the
    iframe is shown, and the browser says what it says.
    """
    if transport is None:
        return None
    same_origin = href.startswith("/")
    try:
        response = transport.request("HEAD", application_url, ok=range(300, 600))
        if response.status_code in (405, 501):
            response = transport.request("GET", application_url, ok=range(300, 600))
    except (DataRobotError, OSError, ValueError):
        return None
    return framing_refusal(response.headers, same_origin=same_origin)


# --- the display object ----------------------------------------------------------------------

_BAR = (
    "display:flex;align-items:center;gap:10px;padding:3px 8px;"
    "border:1px solid var(--jp-border-color2, rgba(128,128,128,.35));border-bottom:none;"
    "border-radius:6px 6px 0 0;background:var(--jp-layout-color2, rgba(128,128,128,.08));"
    "font-family:var(--jp-ui-font-family, system-ui, sans-serif);"
    "font-size:var(--jp-ui-font-size1, 13px);color:var(--jp-ui-font-color1, inherit)"
)
_FRAME = (
    "width:100%;border:1px solid var(--jp-border-color2, rgba(128,128,128,.35));"
    "border-radius:0 0 6px 6px;background:#fff;display:block"
)
_LINK = "color:var(--jp-content-link-color, #1a73e8);text-decoration:underline;cursor:pointer"
_BOX = "max-width:100%;margin:4px 0;font-family:var(--jp-ui-font-family, system-ui, sans-serif)"


class AppView:
    """``app.show()``: an application as an iframe with a bar, or as a link (see the module).

    Jupyter shows its HTML; a terminal its ``text/plain`` line (name, status, URL).
    """

    def __init__(
        self,
        application: Application,
        mode: Mode = "inline",
        height: int = DEFAULT_HEIGHT,
        refusal: str | None = None,
    ) -> None:
        self.application = application
        self.mode = mode
        self.height = max(100, int(height))
        self.refusal = refusal
        self.href = link_href(application.application_url)

    @property
    def framed(self) -> bool:
        """Whether the app is shown in an iframe (inline, running, with a safe address, and
        not refusing to be framed)."""
        return (
            self.mode == "inline"
            and self.href is not None
            and self.application.running
            and self.refusal is None
        )

    def html(self) -> str:
        """The HTML of the view (every server value escaped)."""
        app = self.application
        name = escaped(app.name or app.id)
        if self.href is None:
            return (
                f'<div class="dr-notebook-app-view" style="{_BOX}"><b>{name}</b> '
                f'{status_badge(app.status)} <span style="{MUTED}">has no address to open'
                "</span></div>"
            )
        href = escaped(self.href)
        if self.framed:
            frame = f"dr-app-{uuid.uuid4().hex[:12]}"
            return (
                f'<div class="dr-notebook-app-view" style="{_BOX}">'
                f'<div class="dr-notebook-app-bar" style="{_BAR}"><b>{name}</b>'
                f'{status_badge(app.status)}<span style="flex:1"></span>'
                # Reload without script: a link whose target is the iframe's name.
                f'<a href="{href}" target="{frame}" class="dr-notebook-app-reload" '
                f'style="{_LINK}">Reload</a>'
                f'<a href="{href}" target="_blank" rel="noopener noreferrer" '
                f'class="dr-notebook-open" style="{_LINK}">Open in a new tab</a></div>'
                f'<iframe class="dr-notebook-app-frame" name="{frame}" src="{href}" '
                f'title="{name}" sandbox="{IFRAME_SANDBOX}" '
                f'allow="clipboard-read; clipboard-write; fullscreen" loading="eager" '
                f'style="{_FRAME};height:{self.height}px"></iframe></div>'
            )
        return (
            f'<div class="dr-notebook-app-view" style="{_BOX}"><b>{name}</b> '
            f"{status_badge(app.status)} &nbsp; {self._link(href)}{self._why()}</div>"
        )

    def _link(self, href: str) -> str:
        if self.mode == "external":
            return f'<a href="{href}" class="dr-notebook-open" style="{_LINK}">{href}</a>'
        return (
            f'<a href="{href}" target="_blank" rel="noopener noreferrer" '
            f'class="dr-notebook-open" style="{_LINK}">Open application</a>'
        )

    def _why(self) -> str:
        if self.mode != "inline":
            return ""
        if self.refusal:
            reason = f"Shown as a link: {self.refusal}."
        elif not self.application.running:
            reason = f"Shown as a link: it is {self.application.status or 'not running'}."
        else:
            return ""
        return f'<div class="dr-notebook-app-why" style="{MUTED}">{escaped(reason)}</div>'

    def text(self) -> str:
        """One line for terminals: name, status and the address."""
        app = self.application
        line = f"{app.name or app.id} ({app.status or 'unknown'}): {self.href or 'no address'}"
        if self.mode == "inline" and self.refusal:
            line += f"\nShown as a link: {self.refusal}."
        return line

    def _repr_html_(self) -> str:
        return self.html()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/html": self.html(), "text/plain": self.text()}

    def __repr__(self) -> str:
        return self.text()


def show(
    application: Application,
    mode: str | None = None,
    height: int = DEFAULT_HEIGHT,
    *,
    client: Any = None,
) -> AppView:
    """See :meth:`dr_notebook.models.Application.show`."""
    chosen = _check_mode(mode)
    view = AppView(application, chosen, height)
    if view.framed and application.application_url and view.href:
        transport = client.applications.transport if client is not None else None
        view.refusal = check_framing(transport, application.application_url, view.href)
    return view


use_app_display(show)


# --- the launch widget -----------------------------------------------------------------------

_STAGES = (("build", "building"), ("start", "starting"), ("running", "running"))
_ON = "font-weight:600;color:var(--jp-brand-color1, #1976d2)"
_DONE = "color:var(--jp-success-color1, #2e7d32)"
_FAIL = "color:var(--jp-error-color1, #c62828);font-weight:600"
_ERROR_PRE = (
    "font-family:var(--jp-code-font-family, monospace);white-space:pre-wrap;margin:4px 0 0 0;"
    "color:var(--jp-error-color1, #c62828)"
)


class LaunchView:
    """A launch in progress as one ipywidgets HTML in the cell, updated in place from the
    ``LaunchStep`` stream (call :meth:`step` on the kernel's main thread, as ``on_status``
    callbacks run): building -> starting -> running, or failed with the error; then, with
    ``show``, the app's inline view in the same place.

    The display's ``text/plain`` (what a saved notebook shows where no widget renders) is set
    once, when the launch ends, to its last line: widget views are not redrawn on every step.
    """

    def __init__(self, label: str) -> None:
        import ipywidgets

        self.label = label
        self.widget: ipywidgets.HTML = ipywidgets.HTML(value="")
        self.line = ""
        self._handle: Any = None

    def _bundle(self) -> dict[str, Any]:
        bundle = dict(self.widget._repr_mimebundle_() or {})
        bundle["text/plain"] = self.line
        return bundle

    def _set(self, value: str, line: str) -> None:
        self.widget.value = value
        self.line = line
        if self._handle is None:
            from IPython.display import display

            self._handle = display(self._bundle(), raw=True, display_id=True)

    def _stepper(self, stage: str, detail: str, elapsed: float) -> str:
        order = [key for key, _ in _STAGES]
        at = order.index(stage) if stage in order else -1
        parts = []
        for index, (_key, word) in enumerate(_STAGES):
            style = _ON if index == at else _DONE if index < at else MUTED
            mark = "✓ " if index < at or (index == at and stage == "running") else ""
            parts.append(f'<span style="{style}">{mark}{word}</span>')
        arrows = f' <span style="{MUTED}">→</span> '.join(parts)
        if stage == "source":
            arrows = f'<span style="{_ON}">creating the source</span> → ' + arrows
        return (
            f'<div class="dr-notebook-launch" style="{_BOX}"><b>{escaped(self.label)}</b> '
            f'&nbsp; {arrows} <span style="{MUTED}">({elapsed:.1f} s)</span>'
            f'<div style="{MUTED}">{escaped(detail)}</div></div>'
        )

    def step(self, step: LaunchStep) -> None:
        """One step of the launch (``failed`` waits for :meth:`fail` and its error)."""
        if step.stage == "failed":
            return
        line = f"{self.label}: {step.message} ({step.elapsed:.1f} s)"
        self._set(self._stepper(step.stage, step.message, step.elapsed), line)

    def fail(self, error: BaseException) -> None:
        """The launch failed, in place of the steps: what the error's own line (shown below
        it) does not say, its ``details`` (an ``ApplicationFailedError``'s last lines of
        output, line breaks kept); nothing more for any other error."""
        message = "\n".join(getattr(error, "details", None) or [])
        shown = f'<pre style="{_ERROR_PRE}">{escaped(message)}</pre>' if message else ""
        self._set(
            f'<div class="dr-notebook-launch" style="{_BOX}"><b>{escaped(self.label)}</b> '
            f'&nbsp; <span style="{_FAIL}">failed</span>{shown}</div>',
            f"{self.label}: failed",
        )
        self._end()

    def finish(self, view: AppView | None = None, text: str = "") -> None:
        """The launch ended: the app's view in place of the steps, or a last line (neither:
        the steps stay as they are)."""
        if view is not None:
            self._set(view.html(), view.text())
        elif text:
            self._set(f'<div class="dr-notebook-launch" style="{_BOX}">{escaped(text)}</div>', text)
        self._end()

    def _end(self) -> None:
        if self._handle is not None:
            self._handle.update(self._bundle(), raw=True)
