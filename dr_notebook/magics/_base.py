"""The magics' shared state: the traitlets settings, the session's client, cached names for
completion, and the helpers every family uses."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any

from IPython.core.error import TryNext, UsageError
from IPython.core.magic import Magics
from traitlets import Bool, Enum, Float, Int, Unicode, observe
from traitlets.config.configurable import Configurable

from dr_notebook.magics._options import answering_help, words_of

if TYPE_CHECKING:
    from dr_notebook.client import Client
    from dr_notebook.models import Template

_NAMES_TTL = 60.0
# Completion lists the whole catalogue (cached) only up to this size; a larger one is asked
# per typed text, at most _COMPLETE_MATCHES names a press.
_COMPLETE_ALL = 2000
_COMPLETE_MATCHES = 50


class MagicsBase(Magics, Configurable):
    """Settings (``%config DataRobotMagics.<name>``), the client and the shared helpers."""

    endpoint = Unicode(
        "",
        help="API endpoint, e.g. https://app.datarobot.com/api/v2; empty: DATAROBOT_ENDPOINT "
        "or the drconfig.yaml file.",
    ).tag(config=True)
    max_workers = Int(8, help="Parallel requests when reading many pages.").tag(config=True)
    request_timeout = Float(
        None, allow_none=True, help="Seconds to wait for each request; None: the client default."
    ).tag(config=True)
    short_errors = Bool(
        True, help="Show errors a user can fix as one line; False shows the full traceback."
    ).tag(config=True)
    progress = Bool(
        True, help="Show progress while loading many pages or launching an application."
    ).tag(config=True)
    app_link_base = Unicode(
        "",
        help="Where 'Open application' links go: '' detects a Jupyter server that proxies the "
        "sandbox (JupyterHub with jupyter-server-proxy, or DR_NOTEBOOK_APP_LINK_BASE); a path "
        "such as /user/me/proxy/8765 or an http(s) URL links through it; 'direct' never.",
    ).tag(config=True)
    app_display = Enum(
        ("inline", "tab", "external"),
        "inline",
        help="How --show (and app.show()) shows an application: 'inline' in the output cell, "
        "'tab' a link opening a new tab, 'external' the plain URL.",
    ).tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        Configurable.__init__(self, config=shell.config if shell is not None else None)
        Magics.__init__(self, shell=shell, **kwargs)
        for table in self.magics.values():  # every magic of this class, line and cell
            for name, magic in table.items():
                table[name] = answering_help(magic)
        self._client: Client | None = None
        # README images of the templates %dr_template returned, by object: (template, images).
        self._card_images: dict[int, tuple[Template, dict[str, bytes]]] = {}
        self._connected = False  # the client came from %dr_connect (token typed in)
        self._names: list[tuple[str, str]] | None = None
        self._names_at = 0.0
        self._searches: dict[str, list[tuple[str, str]]] = {}  # large catalogues: by text
        self._app_names: list[tuple[str, str]] | None = None
        self._app_names_at = 0.0
        shown = sys.modules.get("dr_notebook.app_display")
        if shown is not None:  # a reload: app.show() follows this instance's setting again
            shown.set_default_mode(self.app_display)

    @observe("app_link_base")
    def _link_base_changed(self, change: dict[str, Any]) -> None:
        from dr_notebook.app_links import set_link_base

        set_link_base(change["new"])

    @observe("app_display")
    def _app_display_changed(self, change: dict[str, Any]) -> None:
        from dr_notebook.app_display import set_default_mode

        set_default_mode(change["new"])

    @observe("endpoint", "max_workers", "request_timeout")
    def _settings_changed(self, change: dict[str, Any]) -> None:
        # A client typed in with %dr_connect is kept unless the endpoint changes: its token
        # exists nowhere else.
        if change["name"] == "endpoint" or not self._connected:
            self.drop_client()

    def drop_client(self) -> None:
        """Close and forget the client (the next magic makes a new one from the settings)."""
        if self._client is not None:
            self._client.close()
        self._client = None
        self._connected = False
        self._names = None
        self._app_names = None

    @property
    def client(self) -> Client:
        """The session's client: from ``%dr_connect``, else built from the settings and env."""
        if self._client is None:
            from dr_notebook.client import Client

            self._client = Client(
                endpoint=self.endpoint or None,
                request_timeout=self.request_timeout,
                max_workers=self.max_workers,
            )
        return self._client

    def template_names(self, typed: str = "") -> list[tuple[str, str]]:
        """``(id, name)`` of the templates completion offers for ``typed``, cached for a
        minute: every template of a catalogue of at most ``_COMPLETE_ALL``; of a larger one,
        up to ``_COMPLETE_MATCHES`` found by the server's search for ``typed``."""
        if self._names is None or time.monotonic() - self._names_at > _NAMES_TTL:
            first = self.client.templates.list(limit=_COMPLETE_ALL + 1, progress=False)
            self._names = [(t.id, t.name) for t in first]
            self._names_at = time.monotonic()
            self._searches = {}
        if len(self._names) <= _COMPLETE_ALL:
            return self._names
        key = typed.casefold()
        if key not in self._searches:
            found = self.client.templates.list(
                search=typed, limit=_COMPLETE_MATCHES, progress=False
            )
            self._searches[key] = [(t.id, t.name) for t in found]
        return self._searches[key]

    def application_names(self) -> list[tuple[str, str]]:
        """``(id, name)`` of every application, cached for a minute (for completion)."""
        if self._app_names is None or time.monotonic() - self._app_names_at > _NAMES_TTL:
            self._app_names = self.client.applications.names()
            self._app_names_at = time.monotonic()
        return self._app_names

    def _store(self, name: str | None, value: Any) -> None:
        if name:
            if not name.isidentifier():
                raise UsageError(f"-o needs a Python variable name, not {name!r}.")
            if self.shell is not None:
                self.shell.user_ns[name] = value

    def _print_after_cell(self, text: str) -> None:
        """Print ``text`` once the running cell is done: under its result, not above it."""
        shell = self.shell
        if shell is None or getattr(shell.displayhook, "exec_result", None) is None:
            print(text)  # not inside a cell (a direct call): now
            return

        def show() -> None:
            shell.events.unregister("post_execute", show)
            print(text)

        shell.events.register("post_execute", show)

    def _resolve(self, words: list[str], magic: str) -> Template:
        text = words_of(words)
        if not text:
            raise UsageError(f"{magic} needs a template id or name, e.g. {magic} 'Churn app'.")
        return self.client.templates.resolve(text)

    def complete(self, event: Any) -> list[str]:
        """Template (or, after ``%dr_app``, application) ids and names for the
        ``complete_command`` hook (remainders from the token)."""
        _, _, typed = event.text_until_cursor.partition(event.command)
        typed = typed.lstrip()
        token = event.symbol or ""
        if typed.startswith("-") or not typed.endswith(token):
            raise TryNext
        try:
            names = (
                self.application_names()
                if event.command == "%dr_app"
                else self.template_names(typed)
            )
        except Exception:  # completion must never break typing
            raise TryNext from None
        start = len(typed) - len(token)
        lowered = typed.casefold()
        found = []
        for template_id, name in names:
            if template_id.startswith(typed):
                found.append(template_id)
            if name.casefold().startswith(lowered):
                found.append(name[start:])
        if not found:
            raise TryNext
        return sorted(set(found), key=str.casefold)
