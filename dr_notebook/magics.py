"""The ``%dr_*`` IPython magics: thin faces over :class:`dr_notebook.Client`.

Load with ``%load_ext dr_notebook``; configure with ``%config DataRobotMagics.<name> = ...`` or
in ``ipython_config.py``. The magics parse arguments and call the client; errors a user can fix
are shown as one line (``short_errors``), bugs still raise with their traceback.
"""

from __future__ import annotations

import argparse
import copy
import functools
import getpass
import html
import inspect
import itertools
import os
import time
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from IPython.core.error import TryNext, UsageError
from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import display
from traitlets import Bool, Float, Int, Unicode, observe
from traitlets.config.configurable import Configurable

import dr_notebook
from dr_notebook.enums import TEMPLATE_ORDER_BY, known_template_types
from dr_notebook.errors import (
    AuthenticationError,
    ConfigurationError,
    DataRobotError,
    NoMatchWarning,
)

if TYPE_CHECKING:
    import pandas as pd

    from dr_notebook.client import Client
    from dr_notebook.models import (
        Application,
        ApplicationSource,
        AsyncStatus,
        LaunchStep,
        Template,
    )

__all__ = ["DataRobotMagics", "load_ipython_extension", "unload_ipython_extension"]

F = TypeVar("F", bound=Callable[..., Any])

_COMPLETED_COMMANDS = ("%dr_template", "%dr_new_app", "%dr_app")
_LOG_LINES = 50
_NAMES_TTL = 60.0
_CARDS_WITH_IMAGES = 8
_TYPE_HELP = f"Template type: {known_template_types()}; the short names work too."
_ORDER_HELP = (
    f"Sort by {', '.join(f for f in TEMPLATE_ORDER_BY if not f.startswith('-'))} "
    "(or created_at...); descending: --order-by=-name."
)


def _one_line_error(err: DataRobotError) -> DataRobotError:
    """Make IPython show ``err`` as one line instead of a traceback (IPython's own hook)."""
    line = f"{type(err).__name__}: {err}"
    if isinstance(err, (AuthenticationError, ConfigurationError)) and "%dr_connect" not in line:
        line += " (run %dr_connect to enter an endpoint and token)"
    err._render_traceback_ = lambda: [line]  # type: ignore[attr-defined]
    return err


def _user_errors(method: F) -> F:
    """Errors a user can fix become one line (unless ``short_errors`` is off)."""

    @functools.wraps(method)
    def wrapper(self: DataRobotMagics, line: str = "", *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, line, *args, **kwargs)
        except DataRobotError as err:
            if self.short_errors:
                raise _one_line_error(err) from None
            raise

    return wrapper  # type: ignore[return-value]


def _plain_help(magic: Callable[..., Any]) -> str:
    """The magic's usage as a terminal shows it (IPython formats it for docstrings: ``::``)."""
    parser = getattr(magic, "parser", None)
    if parser is None:
        return inspect.getdoc(magic) or ""
    plain = copy.copy(parser)
    plain.formatter_class = argparse.HelpFormatter
    plain.prog = f"%{parser.prog}"
    return plain.format_help()


def _dash_value_error(magic: Callable[..., Any], line: str, err: UsageError) -> UsageError:
    """``err``, or for ``--order-by -name`` (argparse reads ``-name`` as an option) one naming
    the spelling that works: ``--order-by=-name``."""
    parser = getattr(magic, "parser", None)
    if parser is None or "expected one argument" not in str(err):
        return err
    words = line.split()
    takes_value = {
        option: action
        for action in parser._actions
        if isinstance(action, argparse._StoreAction) and action.nargs is None
        for option in action.option_strings
    }
    for option, value in itertools.pairwise(words):
        if option in takes_value and value.startswith("-") and value not in takes_value:
            return UsageError(
                f"{option} {value}: with a space, {value} reads as an option; "
                f"write {option}={value}"
            )
    return err


def _answering_help(magic: Callable[..., Any]) -> Callable[..., Any]:
    """``%magic -h`` and ``%magic --help`` print the magic's usage instead of running it."""

    @functools.wraps(magic)
    def wrapper(line: str = "", *args: Any, **kwargs: Any) -> Any:
        words = line.split()
        options = words[: words.index("--")] if "--" in words else words
        if not {"-h", "--help"}.isdisjoint(options):
            print(_plain_help(magic))
            return None
        try:
            return magic(line, *args, **kwargs)
        except UsageError as err:
            raise _dash_value_error(magic, line, err) from None

    return wrapper


def _unquote(value: str | None) -> str | None:
    """IPython's argument splitter keeps quotes: ``'My app'`` arrives with them."""
    if value and len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _words(values: list[str] | None) -> str:
    return " ".join(_unquote(v) or "" for v in values or []).strip()


@magics_class
class DataRobotMagics(Magics, Configurable):
    """``%dr_templates``, ``%dr_template``, ``%dr_new_app``, ``%dr_apps``, ``%dr_app``,
    ``%dr_gallery``, ``%dr_connect``."""

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

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        Configurable.__init__(self, config=shell.config if shell is not None else None)
        Magics.__init__(self, shell=shell, **kwargs)
        for table in self.magics.values():  # every magic of this class, line and cell
            for name, magic in table.items():
                table[name] = _answering_help(magic)
        self._client: Client | None = None
        # README images of the templates %dr_template returned, by object: (template, images).
        self._card_images: dict[int, tuple[Template, dict[str, bytes]]] = {}
        self._connected = False  # the client came from %dr_connect (token typed in)
        self._names: list[tuple[str, str]] | None = None
        self._names_at = 0.0
        self._app_names: list[tuple[str, str]] | None = None
        self._app_names_at = 0.0

    @observe("endpoint", "max_workers", "request_timeout")
    def _settings_changed(self, change: dict[str, Any]) -> None:
        # A client typed in with %dr_connect is kept unless the endpoint changes: its token
        # exists nowhere else.
        if change["name"] == "endpoint" or not self._connected:
            self._drop_client()

    def _drop_client(self) -> None:
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

    def template_names(self) -> list[tuple[str, str]]:
        """``(id, name)`` of every template, cached for a minute (for completion)."""
        if self._names is None or time.monotonic() - self._names_at > _NAMES_TTL:
            self._names = self.client.templates.names()
            self._names_at = time.monotonic()
        return self._names

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
        text = _words(words)
        if not text:
            raise UsageError(f"{magic} needs a template id or name, e.g. {magic} 'Churn app'.")
        return self.client.templates.resolve(text)

    @line_magic
    @magic_arguments()
    @argument("--search", metavar="TEXT", help="Text to look for in names and descriptions.")
    @argument("--tag", metavar="TAG", help="Only templates with this tag.")
    @argument("--type", dest="template_type", metavar="TYPE", help=_TYPE_HELP)
    @argument("--subtype", dest="template_sub_type", metavar="SUB", help="e.g. streamlit, llm.")
    @argument("--publisher", metavar="P", help="Only templates from this publisher.")
    @argument("--category", metavar="C", help="Only templates of this category.")
    @argument("--order-by", dest="order_by", metavar="FIELD", help=_ORDER_HELP)
    @argument("--limit", type=int, metavar="N", help="At most N templates.")
    @argument("--readme", action="store_true", help="Keep the (long) readme column.")
    @argument("-o", "--output", metavar="VAR", help="Also store the full DataFrame in VAR.")
    @_user_errors
    def dr_templates(self, line: str = "") -> pd.DataFrame:
        """The template catalogue as a DataFrame (one row per template).

        When no template has the type or sub-type asked for, a line under the empty frame
        names the values that exist.
        """
        args = parse_argstring(self.dr_templates, line)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", NoMatchWarning)
            frame = self.client.templates.frame(
                search=_unquote(args.search),
                tag=_unquote(args.tag),
                template_type=_unquote(args.template_type),
                template_sub_type=_unquote(args.template_sub_type),
                publisher=_unquote(args.publisher),
                category=_unquote(args.category),
                order_by=_unquote(args.order_by),
                limit=args.limit,
                progress=self.progress,
            )
        for warning in caught:
            if issubclass(warning.category, NoMatchWarning):
                self._print_after_cell(str(warning.message))
            else:
                warnings.showwarning(
                    warning.message, warning.category, warning.filename, warning.lineno
                )
        self._store(args.output, frame)
        if args.readme or "readme" not in frame.columns:
            return frame
        return frame.drop(columns="readme")

    @line_magic
    @magic_arguments()
    @argument("template", nargs="*", metavar="ID_OR_NAME", help="Template id or exact name.")
    @argument("-o", "--output", metavar="VAR", help="Also store the Template in VAR.")
    @_user_errors
    def dr_template(self, line: str = "") -> Template:
        """One template: its card with the README rendered inline."""
        args = parse_argstring(self.dr_template, line)
        template = self._resolve(args.template, "%dr_template")
        self._keep_card_images(template)
        self._store(args.output, template)
        return template

    def _keep_card_images(self, template: Template) -> None:
        from dr_notebook.readme_images import readme_images

        images = readme_images(self.client, template)
        if images:
            self._card_images[id(template)] = (template, images)
            while len(self._card_images) > _CARDS_WITH_IMAGES:
                del self._card_images[next(iter(self._card_images))]

    def template_card(self, template: Template) -> str:
        """A template's HTML card, with the README images ``%dr_template`` fetched for it."""
        from dr_notebook.render import template_html

        kept = self._card_images.get(id(template))
        return template_html(template, kept[1] if kept and kept[0] is template else None)

    @line_magic
    @magic_arguments()
    @argument("template", nargs="*", metavar="ID_OR_NAME", help="Template id or exact name.")
    @argument("--name", metavar="N", help="The application's name (default: the template's).")
    @argument(
        "--source-only", dest="source_only", action="store_true",
        help="Only create the application source (no application).",
    )  # fmt: skip
    @argument("--no-wait", dest="wait", action="store_false", help="Do not wait until it runs.")
    @argument("--timeout", type=float, default=600.0, metavar="S", help="Seconds to wait in all.")
    @argument("-o", "--output", metavar="VAR", help="Also store the result in VAR.")
    @_user_errors
    def dr_new_app(self, line: str = "") -> Application | ApplicationSource | AsyncStatus:
        """A running application from a template: the source, the build, the start, on one line
        updated in place; then the application's card with its link.

        ``--source-only`` creates only the application source (and shows its card).
        """
        args = parse_argstring(self.dr_new_app, line)
        if args.timeout <= 0:
            raise UsageError("--timeout must be a positive number of seconds.")
        template = self._resolve(args.template, "%dr_new_app")
        label = template.name or template.id
        line_ = _ProgressLine(label) if self.progress else None
        try:
            if args.source_only:
                result: Any = self.client.app_sources.create_from_template(
                    template.id,
                    wait=args.wait,
                    timeout=args.timeout,
                    on_status=line_.source_status if line_ else None,
                    progress=False,  # the progress line, when on, stands in for the bar
                )
            else:
                result = self.client.launch(
                    template,
                    name=_unquote(args.name),
                    wait=args.wait,
                    timeout=args.timeout,
                    on_status=line_.step if line_ else None,
                    progress=False,
                )
                self._app_names = None
        except DataRobotError as err:
            if line_:
                line_.finish(f"failed: {err}")
            raise
        if line_:
            if args.source_only:
                line_.finish("application source " + ("done" if args.wait else "started"))
            elif not args.wait:
                line_.finish(f"application {result.status or 'created'}; %dr_app {result.id}")
        self._store(args.output, result)
        return result

    @line_magic
    @magic_arguments()
    @argument("--status", metavar="S", help="Only applications with this status, e.g. running.")
    @argument("--source", metavar="ID", help="Only applications built from this source.")
    @argument("--name", metavar="N", help="Only applications whose name contains N.")
    @argument("-o", "--output", metavar="VAR", help="Also store the DataFrame in VAR.")
    @_user_errors
    def dr_apps(self, line: str = "") -> pd.DataFrame:
        """Your custom applications as a DataFrame (one row per application)."""
        args = parse_argstring(self.dr_apps, line)
        frame = self.client.applications.frame(
            status=_unquote(args.status),
            source=_unquote(args.source),
            name=_unquote(args.name),
            progress=self.progress,
        )
        self._store(args.output, frame)
        return frame

    @line_magic
    @magic_arguments()
    @argument("application", nargs="*", metavar="ID_OR_NAME", help="Application id or name.")
    @argument(
        "--logs", nargs="?", type=int, const=_LOG_LINES, default=None, metavar="N",
        help=f"Also show the last N log lines (default {_LOG_LINES}).",
    )  # fmt: skip
    @argument("--delete", action="store_true", help="Stop and delete the application.")
    @argument("-o", "--output", metavar="VAR", help="Also store the Application in VAR.")
    @_user_errors
    def dr_app(self, line: str = "") -> Application | None:
        """One application: its card (status, link, source, version), optionally its logs;
        ``--delete`` deletes it."""
        args = parse_argstring(self.dr_app, line)
        text = _words(args.application)
        if not text:
            raise UsageError("%dr_app needs an application id or name, e.g. %dr_app 'My app'.")
        if args.logs is not None and args.logs < 0:
            raise UsageError("--logs takes a number of lines >= 0.")
        app = self.client.applications.resolve(text)
        self._store(args.output, app)
        if args.delete:
            self.client.applications.delete(app)
            self._app_names = None
            print(f"Deleted the application {app.name!r} ({app.id}).")
            return None
        if args.logs is None:
            return app
        logs = self.client.applications.logs(app)
        display(app)
        state = f"build {logs.build_status or 'status unknown'}"
        if logs.build_error:
            state += f": {logs.build_error}"
        lines = logs.tail(args.logs)
        print(f"Last {len(lines)} of {len(logs.lines)} log lines ({state}):")
        for entry in lines:
            print(entry)
        return None

    @line_magic
    @magic_arguments()
    @argument("--type", dest="template_type", metavar="TYPE", help=_TYPE_HELP)
    @_user_errors
    def dr_gallery(self, line: str = "") -> Any:
        """The template gallery widget."""
        args = parse_argstring(self.dr_gallery, line)
        from dr_notebook.gallery import TemplateGallery

        return TemplateGallery(self.client, template_type=args.template_type)

    @line_magic
    @magic_arguments()
    @argument("endpoint", nargs="?", help="API endpoint; default: the configured one.")
    @_user_errors
    def dr_connect(self, line: str = "") -> None:
        """Ask for the API token (hidden), check it with one request, keep it for this session."""
        args = parse_argstring(self.dr_connect, line)
        endpoint = _unquote(args.endpoint) or self.endpoint or os.environ.get("DATAROBOT_ENDPOINT")
        if not endpoint:
            raise UsageError(
                "%dr_connect needs an endpoint, e.g. %dr_connect https://app.datarobot.com/api/v2"
            )
        # Wrapped at once: a verbose traceback prints the locals of every frame.
        token = dr_notebook.Secret(getpass.getpass("DataRobot API token: ").strip())
        if not token:
            raise UsageError("No token given; nothing changed.")
        from dr_notebook.client import Client

        client = Client(
            endpoint=endpoint,
            token=token,
            request_timeout=self.request_timeout,
            max_workers=self.max_workers,
        )
        del token
        try:
            info = client.check_connection()
        except BaseException:
            client.close()
            raise
        self._drop_client()
        self._client = client
        self._connected = True
        count = info.get("template_count")
        seen = "" if count is None else f" ({count} templates)"
        print(f"Connected to {client.endpoint}{seen}; the token is kept for this session only.")

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
                self.application_names() if event.command == "%dr_app" else self.template_names()
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


class _ProgressLine:
    """One output line updated in place while a source or an application is being made."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.started = time.monotonic()
        self.handle: Any = None

    def _show(self, text: str) -> None:
        line = f"{self.label}: {text}"
        bundle = {
            "text/plain": line,
            "text/html": f'<div style="font-family:var(--jp-code-font-family, monospace)">'
            f"{html.escape(line)}</div>",
        }
        if self.handle is None:
            self.handle = display(bundle, raw=True, display_id=True)
        else:
            self.handle.update(bundle, raw=True)

    def source_status(self, status: AsyncStatus) -> None:
        """``--source-only``: the source job's state."""
        elapsed = time.monotonic() - self.started
        self._show(f"creating application source… {status.status or 'waiting'} ({elapsed:.1f} s)")

    def step(self, step: LaunchStep) -> None:
        """A launch: each step, with the time since it started."""
        self._show(f"{step.message} ({step.elapsed:.1f} s)")

    def finish(self, outcome: str) -> None:
        if self.handle is None:
            return  # the server answered at once: nothing was shown, nothing to update
        elapsed = time.monotonic() - self.started
        self._show(f"{outcome} ({elapsed:.1f} s)")


def load_ipython_extension(ipython: Any) -> None:
    """Register the magics and the completion of template names and ids."""
    unload_ipython_extension(ipython)  # %reload_ext: replace, don't stack
    magics = DataRobotMagics(ipython)
    ipython.register_magics(magics)
    if magics not in ipython.configurables:
        ipython.configurables.append(magics)
    if not getattr(ipython, "_dr_notebook_completer", False):

        def complete(_self: Any, event: Any) -> list[str]:
            current = ipython.magics_manager.registry.get("DataRobotMagics")
            if current is None:
                raise TryNext
            return current.complete(event)

        for command in _COMPLETED_COMMANDS:
            ipython.set_hook("complete_command", complete, str_key=command)
        ipython._dr_notebook_completer = True
    from dr_notebook.models import Template

    ipython.display_formatter.formatters["text/html"].for_type(Template, magics.template_card)


def unload_ipython_extension(ipython: Any) -> None:
    """Remove the magics (completion stops answering too)."""
    magics = ipython.magics_manager.registry.pop("DataRobotMagics", None)
    if magics is None:
        return
    for kind, names in magics.magics.items():
        table = ipython.magics_manager.magics[kind]
        for name in names:
            table.pop(name, None)
    if magics in ipython.configurables:
        ipython.configurables.remove(magics)
    from dr_notebook.models import Template

    ipython.display_formatter.formatters["text/html"].pop(Template, None)
    magics._drop_client()
