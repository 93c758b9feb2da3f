"""``client.applications``: custom applications: list, create and wait until running, update,
logs, delete."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypedDict, overload

from typing_extensions import Unpack

from dr_notebook.enums import APPLICATION_ORDER_BY
from dr_notebook.errors import (
    DataRobotError,
    InvalidArgumentError,
    NotFoundError,
)
from dr_notebook.http import quote_id
from dr_notebook.models import (
    Application,
    ApplicationLogs,
    ApplicationSource,
    ApplicationSourceVersion,
)
from dr_notebook.resources import _launch
from dr_notebook.resources._jobs import DEFAULT_WAIT, Deadline, check_wait
from dr_notebook.resources._launch import LOG_TAIL, LaunchCallback, Target
from dr_notebook.resources._names import resolve_name
from dr_notebook.resources._resource import Resource
from dr_notebook.resources.app_sources import AppSources
from dr_notebook.resources.checks import check_id, check_text, filter_params
from dr_notebook.resources.parameters import check_values

if TYPE_CHECKING:
    import pandas as pd

    from dr_notebook.resources.sync import SyncResult

__all__ = ["LOG_TAIL", "ApplicationFilters", "Applications", "LaunchCallback"]

_FILTER_KEYS = {
    "name": "name",
    "source": "customApplicationSourceId",
    "status": "status",
    "order_by": "orderBy",
}
App = str | Application


class ApplicationFilters(TypedDict, total=False):
    """The filters of :meth:`Applications.list`, ``iter`` and ``frame``, as the server takes them.

    ``name`` (text in the name, case-insensitive on DataRobot), ``source`` (an application
    source or its id), ``status`` (e.g. ``running``), ``order_by`` (``name``, ``createdAt``,
    ``updatedAt``, optionally prefixed with ``-``), ``limit`` (at most this many).
    """

    name: str | None
    source: str | ApplicationSource | None
    status: str | None
    order_by: str | None
    limit: int | None


def _query(filters: ApplicationFilters) -> tuple[dict[str, str], int | None]:
    return filter_params(filters, _FILTER_KEYS, APPLICATION_ORDER_BY, ids=("source",))


class Applications(Resource[Application]):
    """``client.applications``: custom applications built from application sources.

    Every call may run in any thread. ``on_status`` callbacks run in the calling thread.
    """

    list_path = "customApplications/"
    model = Application
    progress_label = "Listing applications"

    # -- reading ---------------------------------------------------------------------------
    def list(
        self, *, progress: bool | None = None, **filters: Unpack[ApplicationFilters]
    ) -> list[Application]:
        """Every application matching the filters (at most ``limit``), in the server's order."""
        params, limit = _query(filters)
        return self._pages.all(params, limit, progress=self._show_progress(progress))

    def iter(self, **filters: Unpack[ApplicationFilters]) -> Iterator[Application]:
        """Like :meth:`list`, lazily: one page is fetched when the previous one is used up."""
        params, limit = _query(filters)
        return self._pages.iter(params, limit)

    def frame(
        self, *, progress: bool | None = None, **filters: Unpack[ApplicationFilters]
    ) -> pd.DataFrame:
        """:meth:`list` as a DataFrame, one row per application (``frames.applications_frame``:
        columns ``id, name, status, application_url, source_id, source_version_id, created_at,
        updated_at, ...``)."""
        from dr_notebook.frames import applications_frame

        return applications_frame(self.drift(self.list(progress=progress, **filters)))

    def get(self, application: App, *, drift: bool = True) -> Application:
        """One application by id (or an :class:`Application`, read again); with ``drift``
        (one more request: its source) ``.outdated`` says whether its source has a newer
        version than the one it runs."""
        app_id = check_id("application", application)
        app = Application.from_api(
            self._transport.get_json(f"customApplications/{quote_id(app_id)}/")
        )
        return self.drift([app])[0] if drift else app

    def drift(self, applications: list[Application]) -> list[Application]:
        """``applications`` with ``latest_source_version_id`` filled in (one request per
        distinct source, side by side), so that ``.outdated`` is True or False; a source that
        cannot be read leaves it None (unknown). Returns the same objects."""
        sources = sorted({a.source_id for a in applications if a.source_id})
        if not sources:
            return applications

        def latest(source_id: str) -> str | None:
            try:
                body = self._transport.get_json(f"customApplicationSources/{quote_id(source_id)}/")
            except DataRobotError:
                return None
            found = body.get("latestVersion") if isinstance(body, dict) else None
            return found.get("id") if isinstance(found, dict) else None

        with ThreadPoolExecutor(max_workers=min(len(sources), self._max_workers)) as pool:
            ids = dict(zip(sources, pool.map(latest, sources), strict=True))
        for app in applications:
            app.latest_source_version_id = ids.get(app.source_id or "")
        return applications

    def _latest_version(self, app_id: str) -> str:
        current = self.get(app_id)
        if not current.latest_source_version_id:
            raise DataRobotError(
                f"The latest version of the source of {current.name or app_id!r} could not be "
                "read; pass source_version=<version id>."
            )
        return current.latest_source_version_id

    def folder_differs(self, application: App, folder: str | os.PathLike[str]) -> bool:
        """Whether ``folder`` (as a sync takes it: less ``.dr_apps_ignore``) differs from the
        version the application runs, by content hash; reads only (what :meth:`sync` would
        send: ``sync`` makes a version only when this is True)."""
        from dr_notebook.resources.sync import Syncer

        app = self.get(application, drift=False)
        syncer = Syncer(self, self._sources(), app, Path(folder).expanduser(),
                        timeout=0, max_workers=self._max_workers)  # fmt: skip
        _, _, changes = syncer.differences(app)
        return any(changes)

    def resolve(self, id_or_name: App) -> Application:
        """The application with this id, else the one with exactly this name (case-insensitive).

        Raises ``NotFoundError`` when none matches (naming the closest names), and
        ``AmbiguousNameError`` (with ``candidates``) when several do.
        """
        if isinstance(id_or_name, Application):
            return id_or_name
        return resolve_name(
            check_id("id_or_name", id_or_name),
            get=self.get,
            search=lambda text: self.list(name=text, progress=False),
            kind="application",
            every=lambda: self.list(progress=False),
        )

    def names(self) -> list[tuple[str, str]]:
        """``(id, name)`` of every application, for completion (no progress bar)."""
        return [(a.id, a.name) for a in self.list(progress=False)]

    def name_in_use(self, name: str) -> bool:
        """Whether an application already has this name (``nameCheck``; a server without it
        is asked for the applications of that name instead)."""
        name = check_text("name", name, required=True) or ""
        try:
            body = self._transport.get_json("customApplications/nameCheck/", {"name": name})
        except NotFoundError:
            body = None
        if isinstance(body, Mapping) and isinstance(body.get("inUse"), bool):
            return body["inUse"]
        return any(a.name == name for a in self.list(name=name, progress=False))

    def logs(
        self, application: App, *, grep: str | None = None, source: str | None = None
    ) -> ApplicationLogs:
        """The application's last output lines (at most 1000), build status, error and log;
        ``.first_error`` is the first error they show.

        ``source="runtime"`` keeps only the application's output (``build_log`` None);
        ``source="build"`` puts the build log's lines in ``lines`` (the output left out).
        ``grep`` keeps only the lines of ``lines`` (and of ``build_log``) that contain it,
        ignoring case. ``first_error`` reads what is kept.
        """
        if source not in (None, "build", "runtime"):
            raise InvalidArgumentError(
                f'source must be "build", "runtime" or None, not {source!r}.'
            )
        if grep is not None and not isinstance(grep, str):
            raise InvalidArgumentError(f"grep must be text, not {type(grep).__name__}.")
        logs = self._logs(application)
        if source == "runtime":
            logs.build_log = None
        elif source == "build":
            logs.lines = (logs.build_log or "").splitlines()
        return logs.matching(grep) if grep else logs

    def _logs(self, application: App) -> ApplicationLogs:
        app_id = check_id("application", application)
        logs = ApplicationLogs.from_api(
            self._transport.get_json(f"customApplications/{quote_id(app_id)}/logs/")
        )
        # The application runs with the user's token: output that prints it must not show it.
        hide = self._transport.redact
        logs.lines = [hide(line) for line in logs.lines]
        logs.build_log = hide(logs.build_log) if logs.build_log else logs.build_log
        logs.build_error = hide(logs.build_error) if logs.build_error else logs.build_error
        return logs

    def follow_logs(
        self,
        application: App,
        *,
        timeout: float | None = None,
        stop: threading.Event | None = None,
    ) -> Iterator[str]:
        """The application's new output lines as they come (an iterator; stop it any time).

        Polls the logs with back-off (0.5 s, up to 5 s while nothing comes, back to 0.5 s when
        lines arrive), starting with the lines the server holds now; ends when the
        application is deleted, stopped or failed (after its last lines), after ``timeout``
        seconds (None: no limit), or when ``stop`` (a ``threading.Event``) is set. No line
        is given twice; none is lost unless more lines than the server keeps (1000 on
        DataRobot) arrive between two polls, which yields a line saying so
        (``resources.log_follow.GAP``). The token is masked in every line. Lines keep their
        ANSI colour codes: ``dr_notebook.ansi`` strips or renders them.
        """
        from dr_notebook.resources.log_follow import follow

        app_id = check_id("application", application)
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0
        ):
            raise InvalidArgumentError(f"timeout must be seconds >= 0 or None, not {timeout!r}.")
        return follow(
            lambda: self.logs(app_id),
            lambda: self.get(app_id, drift=False),
            timeout=timeout,
            stop=stop,
        )

    # -- creating and waiting --------------------------------------------------------------
    def create(
        self,
        source_or_version: Target,
        *,
        name: str | None = None,
        resources: Mapping[str, Any] | None = None,
        runtime_parameters: Mapping[str, Any] | None = None,
        wait: bool = True,
        timeout: float = DEFAULT_WAIT,
        on_status: LaunchCallback | None = None,
        progress: bool | None = None,
    ) -> Application:
        """Build and start an application; with ``wait``, return it once it is ``running``.

        ``source_or_version`` is an :class:`ApplicationSource` or its id (its latest version is
        built) or an :class:`ApplicationSourceVersion` (that version). ``name`` defaults to the
        server's choice (the source's name); ``resources`` e.g. ``{"replicas": 1,
        "resource_label": "cpu.small"}``. The request is sent once, never retried.

        ``runtime_parameters`` (``{name: value}``) are checked against the version's
        definitions before anything is created (``RuntimeParameterError`` names every
        problem), then set on the version, or, when it is frozen (an application was built
        from it), on a new version based on it, which is built instead.

        The server's 202 job is followed to the application; then, with ``wait``, the
        application is polled until ``running``, at most ``timeout`` seconds for the whole
        call. ``on_status`` receives a :class:`LaunchStep` per poll (stages ``build``, ``start``,
        then ``running`` or ``failed``); ``progress`` (default: the client's) shows a bar.

        Raises :class:`ApplicationFailedError` (with the build error and the last log lines)
        when it ends ``failed``, and :class:`AsyncTimeoutError` when the time runs out (the
        application may still be building: the message says how to look). ``wait=False``
        returns the application as soon as it exists (usually still building).
        """
        return _launch.create(
            self,
            source_or_version,
            name=name,
            resources=resources,
            wait=wait,
            timeout=timeout,
            on_status=on_status,
            progress=self._show_progress(progress),
            runtime_parameters=runtime_parameters,
            version_with=self._version_with,
        )

    def _sources(self) -> AppSources:
        return AppSources(self._transport, max_workers=self._max_workers, progress=False)

    def _version_with(self, target: Target, values: Mapping[str, Any]) -> ApplicationSourceVersion:
        """The version to build, holding ``values``: checked first, new when frozen."""
        sources = self._sources()
        if isinstance(target, ApplicationSourceVersion):
            if not target.source_id:
                raise InvalidArgumentError(
                    "With runtime_parameters, pass the source, or a version read with "
                    "client.app_sources.version() (the version's source must be known)."
                )
            version = sources.version(target.source_id, target.id)
        else:
            version = sources.version(check_id("source_or_version", target))
        entries = check_values(sources.definitions(version), values, what=f"version {version.id}")
        if version.is_frozen:
            return sources.new_version(
                version.source_id or "", base_version=version.id, runtime_parameters=values
            )
        return sources.put_values(version, entries)

    def wait(
        self,
        application: App,
        *,
        version: str | ApplicationSourceVersion | None = None,
        timeout: float = DEFAULT_WAIT,
        on_status: LaunchCallback | None = None,
        progress: bool | None = None,
    ) -> Application:
        """Wait (at most ``timeout`` seconds) until the application is ``running``; as
        :meth:`create` with ``wait=True`` does, with the same events and errors.

        ``version`` (a source version or its id): until it runs that version (a restart on a
        version is usually quick: polls start at 0.1 s and grow by a fifth, up to 5 s).
        """
        version_id = None if version is None else check_id("version", version)
        quick = {} if version_id is None else {"shortest": 0.1, "growth": 1.2}
        return _launch.wait_running(
            self,
            lambda: self.get(application, drift=False),
            version_id=version_id,
            deadline=Deadline(check_wait(timeout), **quick),
            on_status=on_status,
            progress=self._show_progress(progress),
        )

    # -- changing --------------------------------------------------------------------------
    def update(
        self,
        application: App,
        *,
        name: str | None = None,
        source_version: str | ApplicationSourceVersion | None = None,
        external_access_enabled: bool | None = None,
        external_access_recipients: Iterable[str] | None = None,
        allow_auto_stopping: bool | None = None,
        wait: bool = True,
        timeout: float = DEFAULT_WAIT,
        on_status: LaunchCallback | None = None,
        progress: bool | None = None,
    ) -> Application:
        """Change an application; returns it as the server now has it.

        ``source_version`` (a version or its id; ``"latest"``: its source's latest, what an
        ``outdated`` application lacks) restarts the application on that version,
        keeping its id and URL; with ``wait`` the call then waits (at most ``timeout`` s, with
        :meth:`create`'s events and errors) until it runs that version. The server may answer
        200 with the application, 202 or 204: all are accepted.
        """
        app_id = check_id("application", application)
        timeout = check_wait(timeout)
        body: dict[str, Any] = {}
        if name is not None:
            body["name"] = check_text("name", name, required=True)
        version_id = None
        if source_version == "latest":
            version_id = self._latest_version(app_id)
            body["customApplicationSourceVersionId"] = version_id
        elif source_version is not None:
            version_id = check_id("source_version", source_version)
            body["customApplicationSourceVersionId"] = version_id
        for key, flag in (
            ("externalAccessEnabled", external_access_enabled),
            ("allowAutoStopping", allow_auto_stopping),
        ):
            if flag is not None:
                if not isinstance(flag, bool):
                    raise InvalidArgumentError(f"{key} must be True or False, not {flag!r}.")
                body[key] = flag
        if external_access_recipients is not None:
            if isinstance(external_access_recipients, str):
                raise InvalidArgumentError(
                    "external_access_recipients must be a list of email addresses."
                )
            body["externalAccessRecipients"] = list(external_access_recipients)
        if not body:
            raise InvalidArgumentError(
                "update() needs a field to change, e.g. name='...' or source_version=..."
            )
        response = self._transport.request(
            "PATCH",
            f"customApplications/{quote_id(app_id)}/",
            json=body,
            once=version_id is not None,  # a retried move would restart it again
        )
        data = (
            self._transport.json(response)
            if response.status_code == 200 and response.content
            else None
        )
        app = (
            Application.from_api(data)
            if isinstance(data, Mapping) and data.get("id")
            else self.get(app_id)
        )
        if version_id is None or not wait:
            return app
        return _launch.wait_running(
            self,
            app,
            version_id=version_id,
            deadline=Deadline(timeout),
            on_status=on_status,
            progress=self._show_progress(progress),
        )

    @overload
    def sync(
        self,
        application: App,
        folder: str | os.PathLike[str],
        *,
        watch: Literal[False] = False,
        stop: threading.Event | None = None,
        on_sync: Callable[[SyncResult], object] | None = None,
        on_watching: Callable[[], object] | None = None,
        timeout: float = DEFAULT_WAIT,
    ) -> SyncResult: ...

    @overload
    def sync(
        self,
        application: App,
        folder: str | os.PathLike[str],
        *,
        watch: Literal[True],
        stop: threading.Event | None = None,
        on_sync: Callable[[SyncResult], object] | None = None,
        on_watching: Callable[[], object] | None = None,
        timeout: float = DEFAULT_WAIT,
    ) -> list[SyncResult]: ...

    def sync(
        self,
        application: App,
        folder: str | os.PathLike[str],
        *,
        watch: bool = False,
        stop: threading.Event | None = None,
        on_sync: Callable[[SyncResult], object] | None = None,
        on_watching: Callable[[], object] | None = None,
        timeout: float = DEFAULT_WAIT,
    ) -> SyncResult | list[SyncResult]:
        """Make ``folder`` the application's code: one new version with only the changes.

        Compares the folder's files (as an upload takes them, less what ``.dr_apps_ignore``
        lists) with the version the application runs, by content hash. When something was
        added, changed or deleted, makes one version based on that one holding only those
        changes, moves the application onto it and waits (at most ``timeout`` s) until it
        runs; when nothing changed, sends nothing. Returns a :class:`SyncResult` (files
        added, changed, deleted; the version; the application).

        ``watch=True`` syncs now and then after every save (debounced), until ``stop`` (a
        ``threading.Event``) is set or the kernel is interrupted; each sync that changed
        something goes to ``on_sync`` (default: print its one line); returns them all.
        ``on_watching`` is called once the folder is watched: a save from then on is synced.
        """
        from dr_notebook.resources.sync import Syncer

        app = self.get(application) if not isinstance(application, Application) else application
        syncer = Syncer(
            self,
            self._sources(),
            app,
            Path(folder).expanduser(),
            timeout=check_wait(timeout),
            max_workers=self._max_workers,
        )
        if not watch:
            return syncer.once()
        return syncer.watch(stop, on_sync or print, on_watching=on_watching)

    def delete(self, application: App, *, hard: bool = False) -> None:
        """Stop and delete an application (``hard=True``: at once, not recoverable)."""
        app_id = check_id("application", application)
        self._delete(f"customApplications/{quote_id(app_id)}/", hard=hard)
