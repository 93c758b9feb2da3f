"""Launching: from a template or a source to a running application, as one event stream.

``client.launch`` (template -> source -> application) and ``client.applications.create``,
``wait`` and ``update`` all report through one :class:`_Steps` stream and share the wait.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from dr_notebook.ansi import strip_ansi
from dr_notebook.enums import ApplicationStatus, LaunchStage
from dr_notebook.errors import (
    ApplicationFailedError,
    AsyncTimeoutError,
    DataRobotError,
    InvalidArgumentError,
    LocalLaunchError,
    NameInUseError,
)
from dr_notebook.models import (
    Application,
    ApplicationLogs,
    ApplicationSource,
    ApplicationSourceVersion,
    AsyncStatus,
    LaunchStep,
    Template,
)
from dr_notebook.resources._jobs import Deadline, check_wait, follow_job
from dr_notebook.resources._progress import progress_bar
from dr_notebook.resources.checks import check_id, check_text, resources_to_api
from dr_notebook.resources.parameters import METADATA_FILE, check_values

if TYPE_CHECKING:
    from dr_notebook.http import Transport
    from dr_notebook.resources.app_sources import AppSources
    from dr_notebook.resources.templates import Templates

__all__ = ["LOG_TAIL", "LaunchCallback", "launch"]

#: ``on_status`` of ``Applications.create``, ``Applications.update`` and ``Client.launch``:
#: called with each :class:`~dr_notebook.models.LaunchStep`.
LaunchCallback = Callable[[LaunchStep], object]

#: Log lines an :class:`~dr_notebook.errors.ApplicationFailedError` carries.
LOG_TAIL = 20

_STAGE_LABELS = {
    LaunchStage.SOURCE: "creating the application source",
    LaunchStage.BUILD: "building the application",
    LaunchStage.START: "starting the application",
}
_LOOKUP = "look for the new application with client.applications.list()"
#: Least seconds between reads of the logs while a wait tells "build" from "start".
#: A launch's polls: from 0.1 s, growing by a fifth up to 5 s. A sandbox's app runs within
#: seconds of its start (2 s of them its serving grace): a first poll at 0.5 s growing by half
#: would notice it only at the poll after 2.4 s, 4.1 s in.
LAUNCH_POLLS = {"shortest": 0.1, "growth": 1.2}
_LOGS_EVERY = 1.5

Target = str | ApplicationSource | ApplicationSourceVersion


class Applications(Protocol):
    """What launching uses of ``client.applications`` (a typing-only reference: the resource
    itself imports this module)."""

    @property
    def transport(self) -> Transport:
        """The transport requests go through."""
        ...

    def get(self, application: str | Application, /, *, drift: bool = True) -> Application:
        """The application, fresh from the server."""
        ...

    def logs(self, application: str | Application, /) -> ApplicationLogs:
        """The application's logs."""
        ...

    def name_in_use(self, name: str, /) -> bool:
        """Whether an application already has this name."""
        ...


class _Steps:
    """The one stream of :class:`LaunchStep` events of a launch, and its optional progress bar.

    Shared by ``client.launch`` (source stage, then the application's) and
    ``Applications.create``: ``elapsed`` counts from the start of the whole call.
    """

    def __init__(self, on_status: LaunchCallback | None, deadline: Deadline, *, bar: bool):
        self.on_status = on_status
        self.deadline = deadline
        self.source: ApplicationSource | None = None
        self._bar = progress_bar(
            bar, stages=True, desc="Launching", bar_format="{desc} [{elapsed}]"
        )

    def emit(
        self,
        stage: LaunchStage,
        status: str = "",
        message: str | None = None,
        application: Application | None = None,
    ) -> LaunchStep:
        """Send one step to the callback (and the bar); returns it."""
        if message is None:
            message = _STAGE_LABELS.get(stage, stage.value)
            if status:
                message += f" ({status})"
        step = LaunchStep(
            stage=stage.value,
            status=status,
            message=message,
            elapsed=self.deadline.elapsed,
            source=self.source,
            application=application,
        )
        if self._bar is not None:
            self._bar.set_description_str(message)
        if self.on_status is not None:
            self.on_status(step)
        return step

    def close(self) -> None:
        """Remove the progress bar, if one was shown."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def launch(
    templates: Templates,
    sources: AppSources,
    apps: Applications,
    template: str | Template,
    *,
    name: str | None,
    resources: Mapping[str, Any] | None,
    wait: bool,
    timeout: float,
    on_status: LaunchCallback | None,
    progress: bool,
    runtime_parameters: Mapping[str, Any] | None = None,
    force: bool = False,
) -> Application:
    """See :meth:`dr_notebook.client.Client.launch`."""
    deadline = Deadline(check_wait(timeout), **LAUNCH_POLLS)
    chosen = templates.resolve(template)
    blocker = chosen.local_launch_blocker
    if blocker and not force:
        raise LocalLaunchError(
            f"The template {chosen.name!r} says its application cannot run on this server: "
            f"{blocker} {LocalLaunchError.force_hint}",
            reason=blocker,
        )
    declared = (
        templates.runtime_parameters(chosen)
        if any(f.name == METADATA_FILE for f in chosen.files) or not chosen.files
        else []
    )
    values = check_values(declared, runtime_parameters, what=f"the template {chosen.name!r}")
    app_name = check_text("name", name, required=True) if name is not None else chosen.name
    if not app_name or not app_name.strip():
        raise InvalidArgumentError("The template has no name to give the application: pass name=.")
    if apps.name_in_use(app_name):
        raise NameInUseError(
            f"An application named {app_name!r} already exists; pass another name, or delete "
            "that application first.",
            name=app_name,
        )
    steps = _Steps(on_status, deadline, bar=progress)
    try:
        steps.emit(LaunchStage.SOURCE)

        def source_status(status: AsyncStatus) -> None:
            steps.emit(LaunchStage.SOURCE, status.status)

        remaining = deadline.remaining
        if remaining <= 0:
            raise AsyncTimeoutError(
                f"The time ran out ({deadline.timeout:g} s) before the application source was "
                "created; nothing was created: pass a longer timeout."
            )
        steps.source = sources.create_from_template(
            chosen.id, wait=True, timeout=remaining, on_status=source_status, progress=False
        )
        target: Target = steps.source
        if values:
            fresh = sources.version(steps.source.id)
            target = sources.put_values(fresh, values)
        return _create(
            apps,
            steps,
            target,
            name=app_name,
            resources=resources,
            wait=wait,
        )
    finally:
        steps.close()


def create(
    apps: Applications,
    source_or_version: Target,
    *,
    name: str | None,
    resources: Mapping[str, Any] | None,
    wait: bool,
    timeout: float,
    on_status: LaunchCallback | None,
    progress: bool,
    runtime_parameters: Mapping[str, Any] | None = None,
    version_with: Callable[[Target, Mapping[str, Any]], ApplicationSourceVersion] | None = None,
) -> Application:
    """See :meth:`dr_notebook.resources.applications.Applications.create`; ``version_with``
    gives the version holding ``runtime_parameters`` (required with them)."""
    deadline = Deadline(check_wait(timeout), **LAUNCH_POLLS)
    if runtime_parameters is not None:
        assert version_with is not None
        source_or_version = version_with(source_or_version, runtime_parameters)
    steps = _Steps(on_status, deadline, bar=progress)
    try:
        return _create(apps, steps, source_or_version, name=name, resources=resources, wait=wait)
    finally:
        steps.close()


def wait_running(
    apps: Applications,
    app: Application | Callable[[], Application],
    *,
    version_id: str | None,
    deadline: Deadline,
    on_status: LaunchCallback | None,
    progress: bool,
) -> Application:
    """Wait until ``app`` (or the application a callable gets, once the bar shows) runs
    ``version_id`` (any version when None)."""
    steps = _Steps(on_status, deadline, bar=progress)
    try:
        current = app if isinstance(app, Application) else app()
        return _wait_running(apps, current, steps, version_id)
    finally:
        steps.close()


def _create(
    apps: Applications,
    steps: _Steps,
    source_or_version: Target,
    *,
    name: str | None,
    resources: Mapping[str, Any] | None,
    wait: bool,
) -> Application:
    body: dict[str, Any] = {}
    if isinstance(source_or_version, ApplicationSourceVersion):
        body["applicationSourceVersionId"] = check_id("version", source_or_version)
    else:
        body["applicationSourceId"] = check_id("source_or_version", source_or_version)
    if name is not None:
        body["name"] = check_text("name", name, required=True)
    if resources is not None:
        body["resources"] = resources_to_api(resources)
    steps.emit(LaunchStage.BUILD)
    transport = apps.transport
    response = transport.request("POST", "customApplications/", json=body)
    data = transport.json(response) if response.content else None
    app = Application.from_api(data) if isinstance(data, Mapping) else Application()
    location = response.headers.get("Location")
    if response.status_code == 202 and location and not app.id:
        # Only when the answer lacks the application: its creation job ends when it serves
        # (or fails), which the application's own status tells in more detail.
        app = _follow_job(apps, location, app, steps)
    elif not app.id:
        raise DataRobotError(
            f"The server answered {response.status_code} to creating the application but "
            f"sent neither the application nor a Location; {_LOOKUP}."
        )
    if not wait:
        return app
    return _wait_running(apps, app, steps, None)


def _follow_job(apps: Applications, location: str, app: Application, steps: _Steps) -> Application:
    def seen(status: AsyncStatus) -> None:
        if not status.completed:  # the application's own status follows
            steps.emit(LaunchStage.BUILD, status.status, application=app if app.id else None)

    result, status = follow_job(
        apps.transport,
        location,
        steps.deadline,
        seen,
        what="Creating the application",
        lookup=_LOOKUP,
    )
    if result is None:
        raise _timeout(app, steps, status.status)
    return Application.from_api(apps.transport.get_json(result))


def _wait_running(
    apps: Applications, app: Application, steps: _Steps, version_id: str | None
) -> Application:
    # Each poll reads the application's status; the logs (up to 1000 lines) only to tell
    # "build" from "start", ever more rarely (a long build is not read every poll), and
    # never once started.
    stage, logs_read = LaunchStage.BUILD, -_LOGS_EVERY
    while True:
        on_version = version_id is None or app.source_version_id == version_id
        if app.running and on_version:
            where = f" at {app.application_url}" if app.application_url else ""
            steps.emit(LaunchStage.RUNNING, app.status, f"running{where}", app)
            return app
        if app.failed and on_version:
            raise _failure(apps, app, steps)
        if app.status == ApplicationStatus.STOPPED and on_version:
            raise _stopped(app, steps)
        elapsed = steps.deadline.elapsed
        if stage == LaunchStage.BUILD and elapsed - logs_read >= max(_LOGS_EVERY, elapsed / 2):
            stage, logs_read = _stage(apps, app), elapsed
        steps.emit(stage, app.status, application=app)
        if not steps.deadline.sleep():
            raise _timeout(app, steps, app.status)
        app = apps.get(app.id, drift=False)


def _stopped(app: Application, steps: _Steps) -> DataRobotError:
    steps.emit(LaunchStage.FAILED, app.status, "stopped", app)
    return DataRobotError(
        f"The application {app.name or app.id!r} ({app.id}) is stopped: it will not run "
        "until it is started again (in DataRobot, or by moving it to a version with "
        "client.applications.update(..., source_version=...))."
    )


def _stage(apps: Applications, app: Application) -> LaunchStage:
    """``start`` once the server says the build completed, else ``build``."""
    try:
        logs = apps.logs(app.id)
    except DataRobotError:
        return LaunchStage.BUILD
    return LaunchStage.START if logs.build_status == "completed" else LaunchStage.BUILD


def _failure(apps: Applications, app: Application, steps: _Steps) -> ApplicationFailedError:
    try:
        logs = apps.logs(app.id)
    except DataRobotError:
        logs = ApplicationLogs()
    if not logs.build_error and app.build_error:
        logs.build_error = apps.transport.redact(app.build_error)
    tail = logs.tail(LOG_TAIL)
    first = logs.first_error
    reason = " ".join(logs.reason.split()).rstrip(". ")
    if not reason and not first:
        reason = "the server gave no build error"
    if first and reason and (first in reason or reason in first):
        lead = max(first, reason, key=len)  # one says the other: once
    else:
        lead = f"{first} ({reason})" if first and reason else first or reason
    step = steps.emit(LaunchStage.FAILED, app.status, f"failed: {lead}", app)
    details = [f"Last {len(tail)} lines of its output:", *map(strip_ansi, tail)] if tail else []
    return ApplicationFailedError(
        f"The application {app.name or app.id!r} ({app.id}) failed after "
        f"{step.elapsed:.0f} s: {lead}.",
        application=app,
        build_error=logs.build_error,
        log_tail=tail,
        first_error=first,
        details=details,
        hint=f"Logs: client.applications.logs({app.id!r}).",
    )


def _timeout(app: Application, steps: _Steps, status: str) -> AsyncTimeoutError:
    if app.id:
        look = f"look with client.applications.get({app.id!r})"
        what = f"The application {app.name or app.id!r} ({app.id})"
    else:
        look = _LOOKUP
        what = "The application"
    return AsyncTimeoutError(
        f"{what} is not running after {steps.deadline.timeout:g} s (status "
        f"{status or 'unknown'}); it may still be building: {look}.",
        application=app if app.id else None,
    )
