"""The detail pane of the gallery: a template's README and files, and the buttons that create an
application source or launch an application from it, with one progress line and the result.

Creation and launch run in the gallery's worker thread (from the buttons) or in the caller's
(``create`` / ``launch``). Either way, widgets are updated only through ``report``, which posts
the update to the face's thread (``UiGuard.post``), never after the gallery closed; the worker
creates no widget and no progress bar.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import ipywidgets as widgets

from dr_notebook import errors
from dr_notebook.gallery import html
from dr_notebook.gallery.parameters import ParameterForm
from dr_notebook.gallery.ui import USER_ERRORS, WRAP, FaceFuture, UiGuard, button, one_line
from dr_notebook.models import (
    Application,
    ApplicationSource,
    AsyncStatus,
    LaunchStep,
    RuntimeParameter,
)

if TYPE_CHECKING:
    from dr_notebook.client import Client

__all__ = ["DetailPane", "fetch_readme_images"]

log = logging.getLogger(__name__)

T = TypeVar("T")

METADATA = "metadata.yaml"
_CREATE_TIP = "Create an application source from this template"
_LAUNCH_TIP = "Create the source and an application from this template, and start it"


def fetch_readme_images(client: Client | None, row: Mapping[str, Any]) -> dict[str, bytes]:
    """The template's own images its README shows (none if it names none, or on errors)."""
    from dr_notebook.readme_images import file_bytes, readme_images, wanted_image_files

    if client is None or not wanted_image_files(row.get("readme"), row["files"] or []):
        return {}
    try:
        template = client.templates.get(row["id"])
        return readme_images(
            template, lambda item: file_bytes(client.templates.file(template.id, item.id))
        )
    except errors.DataRobotError:
        return {}


class DetailPane:
    """The selected template's README, files, create and launch buttons, progress and result.

    ``client`` gives the gallery's client, ``executor`` its worker pool, ``name_of`` a template's
    name, ``blocker_of`` why a template cannot make applications ("" when it can) and
    ``on_source`` / ``on_application`` receive what was made (in the face's thread).
    """

    def __init__(
        self,
        guard: UiGuard,
        *,
        client: Callable[[], Client],
        executor: Callable[[], ThreadPoolExecutor],
        name_of: Callable[[str], str],
        blocker_of: Callable[[str | None, bool], str],
        on_source: Callable[[ApplicationSource], object],
        on_application: Callable[[Application], object],
    ) -> None:
        self._guard = guard
        self._client = client
        self._executor = executor
        self._name_of = name_of
        self._blocker_of = blocker_of
        self._on_source = on_source
        self._on_application = on_application
        self._busy = threading.Lock()  # one creation or launch at a time
        self._started = time.monotonic()
        self.selected_id: str | None = None

        self.header = widgets.HTML(value="")
        self.readme = widgets.HTML(value="")
        self.readme_box = widgets.Box(
            [self.readme],
            layout=widgets.Layout(
                max_height="420px",
                overflow="auto",
                border="1px solid var(--jp-border-color2, rgba(128,128,128,.35))",
                padding="0 8px",
            ),
        )
        self.info = widgets.HTML(value="")
        #: The template's runtime parameters; Launch waits until they are valid.
        self.parameters = ParameterForm(on_change=self.update_buttons)
        self.create_button = button(
            "Create application source", "rocket", _CREATE_TIP, button_style="primary"
        )
        self.launch_button = button(
            "Launch application", "play", _LAUNCH_TIP, button_style="success"
        )
        self.app_name = widgets.Text(
            value="",
            placeholder="Application name",
            tooltip="The new application's name (empty: the template's name)",
            layout=widgets.Layout(flex="1 1 180px", min_width="140px"),
        )
        self.close_button = button("Close", "times", "Close the details")
        self.reason = widgets.HTML(value="")
        self.progress = widgets.HTML(value="")
        self.result = widgets.HTML(value="")
        self.box = widgets.VBox(
            [
                self.header,
                self.readme_box,
                self.info,
                self.parameters.box,
                widgets.HBox(
                    [self.create_button, self.launch_button, self.app_name, self.close_button],
                    layout=widgets.Layout(**WRAP),
                ),
                self.reason,
                self.progress,
                self.result,
            ],
            layout=widgets.Layout(
                flex="1 1 480px",  # room for a README and an application card's URL
                min_width="min(420px, 100%)",
                display="none",
                padding="6px 10px",
                border="1px solid var(--jp-border-color1, rgba(128,128,128,.5))",
            ),
        )

    @property
    def busy(self) -> bool:
        """Whether a creation or a launch is running."""
        return self._busy.locked()

    # --- showing a template ---------------------------------------------------------------

    def show(
        self,
        template_id: str | None,
        row: Mapping[str, Any] | None,
        readme: str,
        parameters: list[RuntimeParameter] | None = None,
    ) -> None:
        """Show ``row`` (None: a template not in the catalogue), or hide for no selection.

        ``readme`` is the row's README already rendered by ``render_markdown``; ``parameters``
        its runtime parameters from :meth:`read_parameters` (None: read them here).
        """
        if template_id != self.selected_id:
            self.selected_id = template_id
            self.app_name.value = ""
            if not self.busy:
                self.progress.value = ""
                self.result.value = ""
            self.parameters.prepare()
            if parameters is None:
                parameters = self.read_parameters(template_id, row)
            self.parameters.show(parameters)
        if template_id is None:
            self.box.layout.display = "none"
            return
        self.box.layout.display = None
        if row is None:
            self.header.value = html.message_html(
                f"Template {template_id} is not in the loaded catalogue (refresh to reload it).",
                "warn",
            )
            self.readme.value = ""
            self.readme_box.layout.display = "none"
            self.info.value = ""
        else:
            self.header.value = html.detail_header_html(row)
            self.readme.value = html.readme_html(readme)
            self.readme_box.layout.display = None
            self.info.value = html.detail_info_html(row)
            self.app_name.placeholder = f"Application name (default: {row.get('name') or ''})"
        self.update_buttons()

    def read_parameters(
        self, template_id: str | None, row: Mapping[str, Any] | None
    ) -> list[RuntimeParameter]:
        """The template's runtime parameters, for :meth:`show` (read before the UI lock is
        taken, as the README's images are): one request, only for templates that have a
        ``metadata.yaml``; [] on errors."""
        if template_id is None or row is None or METADATA not in (row.get("files") or []):
            return []
        try:
            return self._client().templates.runtime_parameters(template_id)
        except USER_ERRORS as err:
            log.info("runtime parameters of %s not read: %s", template_id, one_line(err))
            return []

    def update_buttons(self) -> None:
        """Enable the buttons, or disable them with the reason (the template, work running,
        or, for Launch, runtime parameters still missing or wrong)."""
        busy = self.busy
        problems = self.parameters.problems()
        for widget, tip, launch in (
            (self.create_button, _CREATE_TIP, False),
            (self.launch_button, _LAUNCH_TIP, True),
        ):
            blocker = self._blocker_of(self.selected_id, launch)
            widget.disabled = bool(blocker) or busy
            if blocker:
                widget.tooltip = f"Not available: {blocker}"
            elif busy:
                widget.tooltip = "Not available: a creation or launch is running; wait for it"
            else:
                widget.tooltip = tip
        if problems and not blocker and not busy:
            self.launch_button.disabled = True
            self.launch_button.tooltip = f"Set the runtime parameters first: {'; '.join(problems)}"
        self.reason.value = html.message_html(blocker, "warn")

    # --- running a creation or a launch -----------------------------------------------------

    def report(self, progress: str, result: str | None = None) -> None:
        """Show progress (and a result): from any thread, applied in the face's thread, never
        after the gallery closed."""

        def update() -> None:
            self.progress.value = progress
            if result is not None:
                self.result.value = result

        self._guard.post(update)

    def _check(self, template_id: str, launch: bool) -> None:
        blocker = self._blocker_of(template_id, launch)
        if blocker:
            self.result.value = html.message_html(blocker, "warn")
            raise errors.InvalidArgumentError(blocker)

    def _begin(self, template_id: str, doing: str, launch: bool) -> None:
        """Check the template, take the busy lock and show ``doing`` (raises when it cannot)."""
        self._check(template_id, launch)
        if not self._busy.acquire(blocking=False):
            raise errors.InvalidArgumentError(
                "An application source or application is already being made here: "
                "wait for it to finish"
            )
        self._started = time.monotonic()
        self.result.value = ""
        self.progress.value = html.progress_html(doing)
        self.update_buttons()

    def _end(self) -> None:
        self._busy.release()
        self._guard.post(self.update_buttons)

    def run(self, template_id: str, doing: str, work: Callable[[], T], *, launch: bool) -> T:
        """Run ``work`` in this thread; errors are shown as one line, then raised."""
        self._begin(template_id, doing, launch)
        try:
            return work()
        finally:
            self._end()

    def submit(
        self, template_id: str, doing: str, work: Callable[[], T], *, launch: bool
    ) -> Future[T | None] | None:
        """Start ``work`` in the worker thread (None when it cannot start: shown in the pane).

        The Future's result is None when ``work`` failed with an error shown in the pane."""
        try:
            self._begin(template_id, doing, launch)
        except errors.InvalidArgumentError:
            return None
        return FaceFuture(self._guard, self._executor().submit(self._in_worker, work, doing))

    def _in_worker(self, work: Callable[[], T], doing: str) -> T | None:
        try:
            return work()
        except USER_ERRORS:
            return None  # already shown in the pane as one line
        except Exception:
            log.exception("%s failed", doing)
            raise
        finally:
            self._end()

    @contextmanager
    def _errors_shown(self) -> Iterator[None]:
        try:
            yield
        except USER_ERRORS as err:
            self.report("", html.message_html(one_line(err), "error"))
            raise
        except Exception as err:
            self.report("", html.message_html(f"Unexpected error: {one_line(err)}", "error"))
            raise

    def _elapsed(self) -> float:
        return time.monotonic() - self._started

    def start_creation(self, template_id: str | None) -> Future[ApplicationSource | None] | None:
        """The Create button: create the template's source in the worker thread."""
        if not template_id:
            return None
        chosen = template_id
        return self.submit(chosen, self.creating(chosen), lambda: self.create(chosen), launch=False)

    def start_launch(
        self, template_id: str | None, timeout: float
    ) -> Future[Application | None] | None:
        """The Launch button: launch the template in the worker thread (name from the box)."""
        if not template_id:
            return None
        chosen = template_id
        name = self.app_name.value.strip() or None
        return self.submit(
            chosen,
            self.launching(chosen, name),
            lambda: self.launch(chosen, name, timeout),
            launch=True,
        )

    # --- the two kinds of work ----------------------------------------------------------

    def creating(self, template_id: str) -> str:
        """The first progress line of a creation."""
        return f"Creating an application source from {self._name_of(template_id)}…"

    def create(self, template_id: str) -> ApplicationSource:
        """Create the source (progress through ``on_status``, no bar) and show it."""

        def on_status(status: AsyncStatus) -> None:
            text = f"Creating the application source: {status.status or 'waiting'}"
            text += f" ({self._elapsed():.1f} s)"
            if status.message:
                text += f": {status.message}"
            self.report(html.progress_html(text))

        with self._errors_shown():
            source = self._client().app_sources.create_from_template(
                template_id, on_status=on_status, progress=False
            )
        from dr_notebook.cards import source_html

        self._guard.post(lambda: self._on_source(source))
        done = f"Created application source {source.name or source.id} in {self._elapsed():.1f} s."
        self.report(html.message_html(done, "ok"), source_html(source))
        return source

    def launching(self, template_id: str, name: str | None) -> str:
        """The first progress line of a launch."""
        return f"Launching {name or self._name_of(template_id)}…"

    def launch(
        self,
        template_id: str,
        name: str | None,
        timeout: float,
        runtime_parameters: Mapping[str, Any] | None = None,
    ) -> Application:
        """Launch the template (source, then application) following each step, and show the
        application's card with its link; ``runtime_parameters`` default to the form's."""
        values = self.parameters.values() if runtime_parameters is None else runtime_parameters
        label = name or self._name_of(template_id)
        sources: list[ApplicationSource] = []

        def on_status(step: LaunchStep) -> None:
            if step.source is not None and not sources:
                sources.append(step.source)
                source = step.source
                self._guard.post(lambda: self._on_source(source))
            detail = step.status or step.message
            text = f"Launching {label}: {step.stage} — {detail} ({step.elapsed:.1f} s)"
            self.report(html.progress_html(text))

        with self._errors_shown():
            app = self._client().launch(
                template_id,
                name=name,
                timeout=timeout,
                on_status=on_status,
                progress=False,
                runtime_parameters=values,
            )
        from dr_notebook.cards import application_html

        self._guard.post(lambda: self._on_application(app))
        done = f"Launched {app.name or app.id} in {self._elapsed():.1f} s: {app.status}."
        self.report(html.message_html(done, "ok"), application_html(app))
        return app
