"""The "My applications" view of the gallery: your applications with status and link, a
running one shown here (inline, as ``app.show()``), their logs, delete with a confirmation
click, and "Move to latest" for an application whose source has a newer version than the one
it runs.

The list loads in the calling thread (the face's), on demand: its rows are widgets, which a
worker thread may not create, and it is one or two requests for the few applications a user has.
The Follow toggle streams the shown logs from a thread of its own, which posts the logs' HTML
value to the face's thread (the gallery's guard); it stops when toggled off, when another
application's logs are shown, when the application ends, and when the gallery closes.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from dr_notebook.ansi import ansi_to_html
from dr_notebook.gallery import html
from dr_notebook.gallery.ui import USER_ERRORS, WRAP, UiGuard, button, one_line, walk
from dr_notebook.models import Application, failure_reason

if TYPE_CHECKING:
    from dr_notebook.client import Client

__all__ = ["LIMIT", "LOG_LINES", "SHOW_HEIGHT", "ApplicationRow", "ApplicationsView"]

#: At most this many applications are listed (the most recently created first).
LIMIT = 100
#: The last output lines the Logs button shows.
LOG_LINES = 50
#: The height in pixels of an app "Show here" shows.
SHOW_HEIGHT = 520

_PRE = (
    "font-family:var(--jp-code-font-family, monospace);font-size:.85em;white-space:pre-wrap;"
    "max-height:320px;overflow:auto;margin:4px 0;padding:4px 8px;"
    "background:var(--jp-layout-color2, rgba(128,128,128,.1))"
)
_DELETE_TIP = "Stop and delete this application (asks for a second click)"
_LATEST_TIP = "Restart this application on its source's latest version"
_OUTDATED = (
    ' <span class="dr-notebook-outdated" style="color:#b45309" '
    'title="Its source has a newer version than the one it runs">outdated</span>'
)


class ApplicationRow(widgets.HBox):
    """One application: name, id, status badge, "outdated" and link, then its Logs, Delete and
    (when outdated) Move to latest buttons."""

    def __init__(self, app: Application) -> None:
        from dr_notebook.cards import application_link, code, escaped, status_badge

        self.application = app
        link = application_link(app.application_url)
        self.summary = widgets.HTML(
            value=(
                f"<b>{escaped(app.name or app.id)}</b> <span>{code(app.id)}</span> "
                f"{status_badge(app.status)}{_OUTDATED if app.outdated else ''}"
                f"{' &nbsp; ' + link if link else ''}"
            ),
            layout=widgets.Layout(flex="1 1 auto"),
        )
        self.show_button = button("Show here", "window-maximize", "Show the running app below")
        self.show_button.disabled = not app.running
        self.logs_button = button("Logs", "file-text", "Show the application's last output lines")
        self.delete_button = button("Delete", "trash", _DELETE_TIP)
        self.latest_button = button("Move to latest", "arrow-up", _LATEST_TIP)
        self.latest_button.layout.display = None if app.outdated else "none"
        super().__init__(
            [
                self.summary,
                self.show_button,
                self.logs_button,
                self.latest_button,
                self.delete_button,
            ],
            layout=widgets.Layout(align_items="center", grid_gap="8px", width="100%"),
        )

    def confirm(self, asking: bool) -> None:
        """Turn the Delete button into "Confirm delete" (or back)."""
        self.delete_button.description = "Confirm delete" if asking else "Delete"
        self.delete_button.button_style = "danger" if asking else ""
        self.delete_button.tooltip = (
            "Click again to delete it; anything else cancels" if asking else _DELETE_TIP
        )


class ApplicationsView:
    """Your applications, one row each, with Refresh, Logs and two-click Delete."""

    def __init__(self, client: Callable[[], Client], guard: UiGuard | None = None) -> None:
        self._client = client
        self._guard = guard or UiGuard()
        self._following: tuple[str, threading.Event, threading.Thread] | None = None
        self._shown_id: str | None = None
        self._asking: ApplicationRow | None = None
        self.applications: list[Application] = []
        self.rows: list[ApplicationRow] = []
        self.refresh_button = button("Refresh", "refresh", "Reload your applications")
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.status = widgets.HTML(value="")
        self.list_box = widgets.VBox([], layout=widgets.Layout(width="100%"))
        self.logs = widgets.HTML(value="")
        self.shown = widgets.HTML(value="")  # "Show here": the app, inline
        self.follow = widgets.ToggleButton(
            value=False,
            description="Follow",
            icon="play",
            tooltip="Stream the shown application's new log lines here",
            disabled=True,
            layout=widgets.Layout(width="auto"),
        )
        self.follow.observe(self._follow_toggled, names="value")
        self.box = widgets.VBox(
            [
                widgets.HBox(
                    [widgets.HTML("<b>My applications</b>"), self.refresh_button, self.follow],
                    layout=widgets.Layout(**WRAP),
                ),
                self.status,
                self.list_box,
                self.shown,
                self.logs,
            ],
            layout=widgets.Layout(display="none", width="100%", padding="4px 0"),
        )

    def row(self, app_id: str) -> ApplicationRow:
        """The row of one application on show."""
        return next(r for r in self.rows if r.application.id == app_id)

    def refresh(self) -> list[Application]:
        """Reload the list (newest first); errors are shown as one line, and [] returned."""
        self._cancel()
        self.stop_following()
        self._shown_id = None
        self.logs.value = ""
        self.shown.value = ""
        try:
            client = self._client()
            apps = client.applications.list(order_by="-createdAt", limit=LIMIT + 1)
            client.applications.drift(apps[:LIMIT])
        except USER_ERRORS as err:
            self.status.value = html.message_html(
                f"Could not list the applications: {one_line(err)}", "error"
            )
            return []
        more = len(apps) > LIMIT
        self.applications = apps[:LIMIT]
        old, self.rows = self.rows, [self._new_row(app) for app in self.applications]
        self.list_box.children = self.rows
        for row in old:
            for widget in walk(row):
                widget.close()
        count = len(self.applications)
        if count == 0:
            self.status.value = html.message_html(
                "You have no applications yet: open a template and click Launch application.",
                "info",
            )
        else:
            noun = "application" if count == 1 else "applications"
            newest = f" (the newest {LIMIT})" if more else ""
            self.status.value = html.progress_html(f"{count} {noun}{newest}")
        return self.applications

    def _new_row(self, app: Application) -> ApplicationRow:
        row = ApplicationRow(app)
        row.show_button.on_click(lambda _b: self.show_here(app.id))
        row.logs_button.on_click(lambda _b: self.show_logs(app.id))
        row.delete_button.on_click(lambda _b: self.delete(app.id))
        row.latest_button.on_click(lambda _b: self.move_to_latest(app.id))
        return row

    def move_to_latest(self, app_id: str) -> bool:
        """The Move to latest button: restart the application on its source's latest version
        (without waiting: the list is reloaded, Refresh shows it running). Returns whether the
        server took the move."""
        self._cancel()
        app = self.row(app_id).application
        latest = app.latest_source_version_id
        if not latest:
            return False
        try:
            self._client().applications.update(app_id, source_version=latest, wait=False)
        except USER_ERRORS as err:
            self.status.value = html.message_html(
                f"Could not move {app.name or app.id}: {one_line(err)}", "error"
            )
            return False
        self.refresh()
        self.status.value = html.message_html(
            f"Moving {app.name or app.id} to version {latest}: it restarts (Refresh to see it).",
            "ok",
        )
        return True

    def _cancel(self) -> None:
        """Cancel a pending delete confirmation."""
        if self._asking is not None:
            self._asking.confirm(False)
            self._asking = None

    def show_here(self, app_id: str) -> None:
        """Show the (running) application inline under the list, as ``app.show()`` does."""
        self._cancel()
        app = self.row(app_id).application
        try:
            view = app.show("inline", height=SHOW_HEIGHT, client=self._client())
        except USER_ERRORS as err:
            self.shown.value = html.message_html(f"Could not show it: {one_line(err)}", "error")
            return
        self.shown.value = view.html()

    def show_logs(self, app_id: str) -> None:
        """Show the application's last ``LOG_LINES`` output lines (escaped, colours kept), or
        its build log; Follow then streams this application's."""
        self._cancel()
        if self._shown_id != app_id:
            self.stop_following()
        self._shown_id = app_id
        self.follow.disabled = False
        app = self.row(app_id).application
        from dr_notebook.cards import escaped

        try:
            logs = self._client().applications.logs(app_id)
        except USER_ERRORS as err:
            self.logs.value = html.message_html(
                f"Could not read the logs: {one_line(err)}", "error"
            )
            return
        lines = logs.tail(LOG_LINES)
        what = f"last {len(lines)} output lines"
        if not lines:
            lines = (logs.build_log or "").splitlines()[-LOG_LINES:]
            what = "no output yet; the build log" if lines else "no output yet"
        title = (
            f"<b>Logs of {escaped(app.name or app.id)}</b> ({what}; build "
            f"{escaped(logs.build_status or 'unknown')})"
        )
        # Each line once: the first error on top, then the build error's reason without the
        # lines shown below (the sandbox's quotes the output's last ones).
        first = logs.first_error
        said = [f"First error: {first}"] if first else []
        said += [failure_reason(logs.build_error, lines, first)] if logs.build_error else []
        error = html.message_html("\n".join(x for x in said if x), "error")
        self.logs.value = f"<div>{title}{error}{_lines_html(lines)}</div>"

    # --- following ------------------------------------------------------------------------

    def _follow_toggled(self, change: dict[str, Any]) -> None:
        if change["new"] and self._shown_id is not None and self.following != self._shown_id:
            self.start_following(self._shown_id)
        elif not change["new"]:
            self.stop_following()

    def start_following(self, app_id: str) -> None:
        """Stream ``app_id``'s new lines into the logs (a thread; ``stop_following`` ends it)."""
        self.stop_following()
        from dr_notebook.cards import escaped

        self._shown_id = app_id
        self.follow.disabled = False
        app = self.row(app_id).application
        title = f"<b>Following the logs of {escaped(app.name or app.id)}</b>"
        stop = threading.Event()
        client = self._client()
        shown: collections.deque[str] = collections.deque(maxlen=LOG_LINES)

        def report(text: str) -> None:
            def update() -> None:
                if not stop.is_set():
                    self.logs.value = text

            self._guard.post(update)

        def run() -> None:
            ended = "the application ended"
            try:
                for line in client.applications.follow_logs(app_id, stop=stop):
                    shown.append(line)
                    report(f"<div>{title}{_lines_html(shown)}</div>")
            except USER_ERRORS as err:
                ended = f"stopped: {one_line(err)}"
            if not stop.is_set():
                note = html.message_html(f"Follow {ended}.", "info")
                report(f"<div>{title}{note}{_lines_html(shown)}</div>")
                self._guard.post(finish)

        def finish() -> None:
            if self._following is not None and self._following[1] is stop:
                self.stop_following()

        thread = threading.Thread(target=run, name="dr-gallery-follow", daemon=True)
        self._following = (app_id, stop, thread)
        if not self.follow.value:
            self.follow.value = True
        thread.start()

    def stop_following(self) -> None:
        """End the Follow thread, if one runs (returns at once; the thread ends at its next
        poll and touches no widget after this)."""
        following, self._following = self._following, None
        if following is not None:
            following[1].set()
        if self.follow.value:
            self.follow.value = False

    @property
    def following(self) -> str | None:
        """The id of the application whose logs Follow streams (None: not following)."""
        return None if self._following is None else self._following[0]

    def delete(self, app_id: str) -> bool:
        """The Delete button: the first click asks to confirm, the second deletes.

        Returns whether the application was deleted."""
        row = self.row(app_id)
        if self._asking is not row:
            self._cancel()
            self._asking = row
            row.confirm(True)
            return False
        self._asking = None
        row.confirm(False)
        app = row.application
        try:
            self._client().applications.delete(app_id)
        except USER_ERRORS as err:
            self.status.value = html.message_html(
                f"Could not delete {app.name or app.id}: {one_line(err)}", "error"
            )
            return False
        self.refresh()
        self.status.value = html.message_html(f"Deleted {app.name or app.id} ({app.id}).", "ok")
        return True


def _lines_html(lines: Iterable[str]) -> str:
    """Log lines as a scrolling block: escaped, ANSI colours as colour ("" for no lines)."""
    text = "\n".join(ansi_to_html(line) for line in lines)
    return f'<pre style="{_PRE}">{text}</pre>' if text else ""
