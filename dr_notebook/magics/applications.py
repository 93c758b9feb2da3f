"""The application magics: ``%dr_new_app`` (with its progress line), ``%dr_apps``,
``%dr_app``."""

from __future__ import annotations

import copy
import dataclasses
import html
import math
import time
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import display

from dr_notebook.errors import DataRobotError
from dr_notebook.magics import _loop
from dr_notebook.magics._base import MagicsBase
from dr_notebook.magics._options import INTERRUPT_NOTE, unquote, user_errors, words_of
from dr_notebook.magics._params import parse_params
from dr_notebook.magics._terminal import compact

if TYPE_CHECKING:
    import pandas as pd

    from dr_notebook.app_display import AppView
    from dr_notebook.models import Application, ApplicationSource, AsyncStatus, LaunchStep

_LOG_LINES = 50


def _interrupted(name: str, stages: list[str], source_only: bool) -> str:
    """The one line an interrupted ``%dr_new_app`` shows: what it leaves behind."""
    if source_only:
        return "Interrupted; the application source may still be made: client.app_sources.list()"
    if any(stage in ("build", "start") for stage in stages):
        return f"Interrupted; {name} keeps building on the server: %dr_app {name!r}"
    return f"Interrupted before {name} was created (its application source may still appear)."


@magics_class
class ApplicationMagics(MagicsBase):
    """``%dr_new_app``, ``%dr_apps``, ``%dr_app``."""

    @line_magic
    @magic_arguments()
    @argument("template", nargs="*", metavar="ID_OR_NAME", help="Template id or exact name.")
    @argument("--name", metavar="N", help="The application's name (default: the template's).")
    @argument(
        "--source-only", dest="source_only", action="store_true",
        help="Only create the application source (no application).",
    )  # fmt: skip
    @argument(
        "--param", action="append", metavar="NAME=VALUE", dest="params",
        help="A runtime parameter (repeatable); NAME=@file reads a file, NAME=? asks (hidden).",
    )  # fmt: skip
    @argument(
        "--show", nargs="?", const="", default=None, choices=("", "inline", "tab", "external"),
        metavar="MODE",
        help="Show the running app: inline (in the cell), tab (a link to a new tab) or "
        "external (its URL); default: %%config DataRobotMagics.app_display.",
    )  # fmt: skip
    @argument("--no-wait", dest="wait", action="store_false", help="Do not wait until it runs.")
    @argument(
        "--force", action="store_true",
        help="Launch even a template that says its app cannot run on this server.",
    )  # fmt: skip
    @argument("--timeout", type=float, default=600.0, metavar="S", help="Seconds to wait in all.")
    @argument("-o", "--output", metavar="VAR", help="Also store the result in VAR.")
    @user_errors
    def dr_new_app(
        self, line: str = ""
    ) -> Application | ApplicationSource | AsyncStatus | AppView | None:
        """A running application from a template: the source, the build, the start, in one
        widget updated in place (one line per stage in a terminal); then the application's card
        with its link, or with ``--show [inline|tab|external]`` the app itself: inline, the
        launch's widget becomes the app in an iframe.

        ``--param NAME=VALUE`` sets a runtime parameter the template declares (checked before
        anything is created; a required one missing is one line naming them all).
        ``--source-only`` creates only the application source (and shows its card).
        """
        args = parse_argstring(self.dr_new_app, line)
        if not math.isfinite(args.timeout) or args.timeout <= 0:
            raise UsageError("--timeout must be a positive, finite number of seconds.")
        if args.params and args.source_only:
            raise UsageError("--param sets values on an application: leave out --source-only.")
        if args.show is not None and (args.source_only or not args.wait):
            raise UsageError("--show needs a running application: leave out "
                             "--source-only and --no-wait.")  # fmt: skip
        values = parse_params(args.params)
        template = self._resolve(args.template, "%dr_new_app")
        label = template.name or template.id
        live = _launch_view(label) if self.progress and not args.source_only else None
        line_ = _ProgressLine(label) if self.progress and live is None else None
        shown_step = live.step if live else line_.step if line_ else None
        stages: list[str] = []

        def step(event: LaunchStep) -> None:
            stages.append(event.stage)
            if shown_step is not None:
                shown_step(event)

        app_name = unquote(args.name) or label
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
                    name=unquote(args.name),
                    runtime_parameters=values,
                    wait=args.wait,
                    timeout=args.timeout,
                    on_status=step,
                    progress=False,
                    force=args.force,
                )
                self._app_names = None
        except DataRobotError as err:
            if live:
                live.fail(err)
            if line_:
                line_.finish("failed")  # why: the error's own line, next
            raise
        except KeyboardInterrupt as interrupt:
            note = _interrupted(app_name, stages, args.source_only)
            if live:
                live.finish(None, note)
            if line_:
                line_.finish("interrupted")
            setattr(interrupt, INTERRUPT_NOTE, note)
            raise
        if line_:
            if args.source_only:
                line_.finish("application source " + ("done" if args.wait else "started"))
            elif not args.wait:
                line_.finish(f"application {result.status or 'created'}; %dr_app {result.id}")
        self._store(args.output, result)
        if args.show is not None:
            view = result.show(args.show or self.app_display, client=self.client)
            inline = view.mode == "inline"
            if live is not None:
                live.finish(view if inline else None)  # inline: the launch's widget, the app
            return None if inline and live is not None else view
        if live is not None:
            last = f"{label}: application {result.status or 'created'}; %dr_app {result.id}"
            live.finish(None, "" if args.wait else last)
        return result

    @line_magic
    @magic_arguments()
    @argument("--status", metavar="S", help="Only applications with this status, e.g. running.")
    @argument("--source", metavar="ID", help="Only applications built from this source.")
    @argument("--name", metavar="N", help="Only applications whose name contains N.")
    @argument("-o", "--output", metavar="VAR", help="Also store the DataFrame in VAR.")
    @user_errors
    def dr_apps(self, line: str = "") -> pd.DataFrame:
        """Your custom applications as a DataFrame (one row per application)."""
        args = parse_argstring(self.dr_apps, line)
        frame = self.client.applications.frame(
            status=unquote(args.status),
            source=unquote(args.source),
            name=unquote(args.name),
            progress=self.progress,
        )
        self._store(args.output, frame)
        return compact(frame, ("name", "status", "application_url"))

    @line_magic
    @magic_arguments()
    @argument("application", nargs="*", metavar="ID_OR_NAME", help="Application id or name.")
    @argument(
        "--logs", nargs="?", type=int, const=_LOG_LINES, default=None, metavar="N",
        help=f"Also show the last N log lines (default {_LOG_LINES}).",
    )  # fmt: skip
    @argument("--grep", metavar="TEXT", help="With --logs: only lines containing TEXT.")
    @argument(
        "--follow", action="store_true",
        help="Stream its new log lines until it ends (interrupt the kernel to stop).",
    )  # fmt: skip
    @argument(
        "--sync", metavar="FOLDER",
        help="Make FOLDER its code: one new version with only the changes, then restart.",
    )  # fmt: skip
    @argument("--watch", action="store_true", help="With --sync: sync on every save.")
    @argument(
        "--timeout", type=float, default=None, metavar="S",
        help="With --follow: stop after S seconds.",
    )  # fmt: skip
    @argument(
        "--show", nargs="?", const="", default=None, choices=("", "inline", "tab", "external"),
        metavar="MODE",
        help="Show the running app: inline (in the cell), tab (a link to a new tab) or "
        "external (its URL); default: %%config DataRobotMagics.app_display.",
    )  # fmt: skip
    @argument("--delete", action="store_true", help="Stop and delete the application.")
    @argument("-o", "--output", metavar="VAR", help="Also store the Application in VAR.")
    @user_errors
    def dr_app(self, line: str = "") -> Application | AppView | None:
        """One application: its card (status, link, source, version), optionally its logs;
        ``--show [inline|tab|external]`` shows the app itself (inline: in the cell);
        ``--follow`` streams them, ``--sync FOLDER [--watch]`` rolls a folder onto it,
        ``--delete`` deletes it."""
        args = parse_argstring(self.dr_app, line)
        text = words_of(args.application)
        if not text:
            raise UsageError("%dr_app needs an application id or name, e.g. %dr_app 'My app'.")
        if args.logs is not None and args.logs < 0:
            raise UsageError("--logs takes a number of lines >= 0.")
        if args.grep is not None and args.logs is None:
            raise UsageError("--grep TEXT goes with --logs.")
        if args.watch and not args.sync:
            raise UsageError("--watch goes with --sync FOLDER.")
        if args.timeout is not None and (not args.follow or args.timeout <= 0):
            raise UsageError("--timeout S goes with --follow, and S must be positive.")
        if args.show is not None and (args.sync or args.follow or args.delete):
            raise UsageError("--show goes alone (or with --logs), not with --sync, --follow "
                             "or --delete.")  # fmt: skip
        app = self.client.applications.resolve(text)
        self._store(args.output, app)
        if args.sync:
            self._store(args.output, _loop.sync(self.client, app, unquote(args.sync) or "",
                                                watch=args.watch))  # fmt: skip
            return None
        if args.follow:
            _loop.follow(self.client, app, timeout=args.timeout)
            return None
        if args.delete:
            self.client.applications.delete(app)
            self._app_names = None
            print(f"Deleted the application {app.name!r} ({app.id}).")
            return None
        shown = None
        if args.show is not None:
            shown = app.show(args.show or self.app_display, client=self.client)
        if args.logs is None:
            return shown if shown is not None else app
        grep = unquote(args.grep)
        every = self.client.applications.logs(app)
        logs = every.matching(grep) if grep else every
        # Each line once: the card leaves the build error to the lines below, which say its
        # reason without the output lines and the first error it repeats.
        card = copy.copy(app)
        card.build_error = None
        display(shown if shown is not None else card)
        if every.first_error:
            print(f"First error: {every.first_error}")
        if every.reason:
            print(f"Build error: {every.reason}")
        lines = logs.tail(args.logs)
        matching = f" matching {grep!r}" if grep else ""
        state = f"build {logs.build_status or 'status unknown'}"
        print(f"Last {len(lines)} of {len(logs.lines)} log lines{matching} ({state}):")
        _loop.print_lines(lines)
        return None

    @line_magic
    @magic_arguments()
    @argument("folder", nargs="*", metavar="FOLDER", help="The application's folder.")
    @argument("-o", "--output", metavar="VAR", help="Also store the DataFrame in VAR.")
    @user_errors
    def dr_check(self, line: str = "") -> pd.DataFrame:
        """Check an application folder before uploading it: one line per finding (errors
        refuse an upload; warnings do not), returned as a DataFrame (level, path, line,
        message). Needs no connection."""
        import pandas as pd

        from dr_notebook.resources.app_folder import Finding, check_app_folder

        args = parse_argstring(self.dr_check, line)
        folder = words_of(args.folder)
        if not folder:
            raise UsageError("%dr_check needs a folder, e.g. %dr_check my-app")
        findings = check_app_folder(folder)
        for finding in findings:
            print(finding)
        errors = sum(f.level == "error" for f in findings)
        print(f"{folder}: {errors} error(s), {len(findings) - errors} warning(s)"
              + (" (an upload refuses it)" if errors else ""))  # fmt: skip
        columns = [field.name for field in dataclasses.fields(Finding)]
        frame = pd.DataFrame([dataclasses.asdict(f) for f in findings], columns=columns)
        self._store(args.output, frame)
        return frame


class _ProgressLine:
    """One output line updated in place while a source or an application is being made; in a
    terminal (nothing to update in place) one printed line per stage."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.started = time.monotonic()
        self.handle: Any = None
        self.in_place = _in_kernel()
        self.printed = ""  # terminal: the last stage printed

    def _show(self, text: str, *, last: bool = False) -> None:
        line = f"{self.label}: {text}"
        if not self.in_place:
            stage = text.split(" (", 1)[0].rstrip("…")
            if last or stage != self.printed:
                self.printed = stage
                print(line, flush=True)
            return
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
        """A launch: each step, with the time since it started (a failure's reason is left to
        the error's own line)."""
        message = "failed" if step.stage == "failed" else step.message
        self._show(f"{message} ({step.elapsed:.1f} s)")

    def finish(self, outcome: str) -> None:
        if self.handle is None and not self.printed:
            return  # the server answered at once: nothing was shown, nothing to update
        if not self.in_place and outcome == self.printed:
            return  # a terminal: the last step printed it already ("failed")
        elapsed = time.monotonic() - self.started
        self._show(f"{outcome} ({elapsed:.1f} s)", last=True)


def _launch_view(label: str) -> Any:
    """The live launch widget in a kernel with ipywidgets, else None (the progress line)."""
    if not _in_kernel():
        return None
    try:
        from dr_notebook.app_display import LaunchView

        return LaunchView(label)
    except ImportError:
        return None


def _in_kernel() -> bool:
    from IPython import get_ipython

    return hasattr(get_ipython(), "kernel")
