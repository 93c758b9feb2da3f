"""``client.app_sources``: custom application sources, their versions and files."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, overload

from dr_notebook.downloads import content_bytes
from dr_notebook.enums import SOURCE_ORDER_BY
from dr_notebook.errors import (
    AsyncTimeoutError,
    DataRobotError,
    InvalidArgumentError,
)
from dr_notebook.http import quote_id
from dr_notebook.models import (
    ApplicationSource,
    ApplicationSourceVersion,
    AsyncStatus,
    DefaultEnvironment,
    RuntimeParameter,
    Template,
)
from dr_notebook.resources._jobs import DEFAULT_WAIT, Deadline, check_wait, follow_job, poll_job
from dr_notebook.resources._progress import progress_bar
from dr_notebook.resources._version_reader import Source, SourceVersionReader, Version
from dr_notebook.resources.app_folder import refuse_errors
from dr_notebook.resources.checks import (
    check_id,
    check_limit,
    check_order_by,
    check_source_path,
    check_text,
    environment_to_api,
    resources_to_api,
)
from dr_notebook.resources.packing import SourceFiles, source_files
from dr_notebook.resources.pagination import Paginator
from dr_notebook.resources.parameters import (
    METADATA_FILE,
    check_values,
    parse_metadata,
    values_to_api,
)

__all__ = ["DEFAULT_WAIT", "UPLOAD_BATCH", "AppSources", "StatusCallback"]

StatusCallback = Callable[[AsyncStatus], object]

#: Files sent per PATCH request when a version's files are uploaded (DataRobot's drapps: 50).
UPLOAD_BATCH = 50

_LOOKUP = "look for the new source with client.app_sources.list()"


def _base_environment(value: Any) -> dict[str, str]:
    """``base_environment`` (an id, a pair, a mapping or a DefaultEnvironment) as API fields."""
    if isinstance(value, str):
        return {"baseEnvironmentId": check_id("base_environment", value)}
    try:
        env = environment_to_api(value)
    except InvalidArgumentError:
        raise InvalidArgumentError(
            "base_environment must be an environment id, or (environment_id, version_id)."
        ) from None
    return {
        "baseEnvironmentId": env["environmentId"],
        "baseEnvironmentVersionId": env["environmentVersionId"],
    }


class AppSources(SourceVersionReader):
    """``client.app_sources``: custom application sources, their versions and files.

    A source holds versions; a version holds files (items). An application is built from a
    version, which then freezes: changing files means a new version (:meth:`new_version`).
    """

    list_path = "customApplicationSources/"
    model = ApplicationSource
    progress_label = "Listing sources"

    def list(
        self,
        name: str | None = None,
        *,
        order_by: str | None = None,
        limit: int | None = None,
        progress: bool | None = None,
    ) -> list[ApplicationSource]:
        """Every application source the token can see (optionally filtered by name).

        ``order_by``: ``name``, ``createdAt``, ``updatedAt`` (or ``created_at``...), ``-`` first
        for descending.
        """
        params: dict[str, str] = {}
        if name is not None:
            params["name"] = check_text("name", name, required=False) or ""
        if order_by is not None:
            params["orderBy"] = check_order_by(order_by, SOURCE_ORDER_BY) or ""
        return self._pages.all(params, check_limit(limit), progress=self._show_progress(progress))

    @overload
    def create_from_template(
        self,
        template: str | Template,
        *,
        wait: Literal[True] = True,
        timeout: float = DEFAULT_WAIT,
        on_status: StatusCallback | None = None,
        progress: bool | None = None,
    ) -> ApplicationSource: ...

    @overload
    def create_from_template(
        self,
        template: str | Template,
        *,
        wait: Literal[False],
        timeout: float = DEFAULT_WAIT,
        on_status: StatusCallback | None = None,
        progress: bool | None = None,
    ) -> ApplicationSource | AsyncStatus: ...

    @overload
    def create_from_template(
        self,
        template: str | Template,
        *,
        wait: bool,
        timeout: float = DEFAULT_WAIT,
        on_status: StatusCallback | None = None,
        progress: bool | None = None,
    ) -> ApplicationSource | AsyncStatus: ...

    def create_from_template(
        self,
        template: str | Template,
        *,
        wait: bool = True,
        timeout: float = DEFAULT_WAIT,
        on_status: StatusCallback | None = None,
        progress: bool | None = None,
    ) -> ApplicationSource | AsyncStatus:
        """Create an application source from a template.

        A server that answers at once gives the source. One that starts a job (202) is polled
        with back-off (0.5 s up to 5 s) for at most ``timeout`` seconds in all, until the source
        exists, calling ``on_status`` with each :class:`AsyncStatus` seen; ``progress``
        (default: the client's) shows a bar meanwhile. ``wait=False`` returns the job's first
        status instead (or the source, when the server answered at once); pass it to
        :meth:`wait` later. The request is sent once, never retried.
        """
        template_id = check_id("template_id", template)
        timeout = check_wait(timeout)
        response = self._transport.request(
            "POST",
            "customApplicationSources/fromCustomTemplate/",
            json={"customTemplateId": template_id},
        )
        if response.status_code != 202:
            return ApplicationSource.from_api(self._transport.json(response))
        location = response.headers.get("Location")
        if not location:
            raise DataRobotError(
                "The server accepted the request (202) but sent no Location to follow; look for "
                "the new source with client.app_sources.list()."
            )
        if not wait:
            status = poll_job(self._transport, location, lookup=_LOOKUP)
            if on_status is not None:
                on_status(status)
            return status
        return self._wait(
            location, timeout, on_status, progress, what=f" from template {template_id}"
        )

    def wait(
        self,
        job: AsyncStatus | str,
        *,
        timeout: float = DEFAULT_WAIT,
        on_status: StatusCallback | None = None,
        progress: bool | None = None,
    ) -> ApplicationSource:
        """Wait (at most ``timeout`` seconds) for a source-creation job to finish.

        ``job`` is an :class:`AsyncStatus` or its status URL.
        """
        timeout = check_wait(timeout)
        if isinstance(job, AsyncStatus):
            if job.completed and job.location:
                return self._fetch_result(job.location)
            location = f"status/{quote_id(job.status_id)}/"
        else:
            location = str(job)
        return self._wait(location, timeout, on_status, progress, what="")

    def _wait(
        self,
        location: str,
        timeout: float,
        on_status: StatusCallback | None,
        progress: bool | None,
        *,
        what: str,
    ) -> ApplicationSource:
        deadline = Deadline(timeout)
        bar = progress_bar(
            self._show_progress(progress),
            stages=True,
            desc="Creating application source",
            bar_format="{desc} [{elapsed}]",
        )

        def seen(status: AsyncStatus) -> None:
            if on_status is not None:
                on_status(status)
            if bar is not None:
                bar.set_description_str(f"Creating application source: {status.status}")

        try:
            result, status = follow_job(
                self._transport,
                location,
                deadline,
                seen,
                what=f"Creating the application source{what}",
                lookup=_LOOKUP,
            )
        finally:
            if bar is not None:
                bar.close()
        if result is None:
            raise AsyncTimeoutError(
                f"Creating the application source{what} did not finish within "
                f"{timeout:g} s (last status {status.status or 'unknown'}); it may still "
                f"finish: client.app_sources.wait({location!r})",
                status=status,
            )
        return self._fetch_result(result)

    def _fetch_result(self, location: str) -> ApplicationSource:
        return ApplicationSource.from_api(self._transport.get_json(location))

    # -- the source itself -----------------------------------------------------------------
    def create(self, name: str) -> ApplicationSource:
        """A new, empty application source (its first version holds no files)."""
        name = check_text("name", name, required=True) or ""
        response = self._transport.request("POST", "customApplicationSources/", json={"name": name})
        return ApplicationSource.from_api(self._transport.json(response))

    def update(
        self,
        source: Source,
        *,
        name: str | None = None,
        resources: Mapping[str, Any] | None = None,
    ) -> ApplicationSource:
        """Rename a source and/or set the resources of its latest version; the source now."""
        source_id = check_id("source", source)
        payload: dict[str, Any] = {}
        if name is not None:
            payload["name"] = check_text("name", name, required=True)
        if resources is not None:
            payload["resources"] = resources_to_api(resources)
        if not payload:
            raise InvalidArgumentError("update() needs name='...' or resources={...}.")
        path = f"customApplicationSources/{quote_id(source_id)}/"
        response = self._transport.request("PATCH", path, json=payload)
        body = self._transport.json(response) if response.content else None
        if isinstance(body, Mapping) and body.get("id"):
            return ApplicationSource.from_api(body)
        return self.get(source_id)

    def delete(self, source: Source, *, hard: bool = False) -> None:
        """Delete a source (``hard=True``: at once, not recoverable). Applications built from
        it keep running."""
        source_id = check_id("source", source)
        self._delete(f"customApplicationSources/{quote_id(source_id)}/", hard=hard)

    # -- versions --------------------------------------------------------------------------
    def versions(
        self, source: Source, *, limit: int | None = None, progress: bool | None = None
    ) -> list[ApplicationSourceVersion]:
        """The source's versions, in the server's order (newest first on DataRobot)."""
        source_id = check_id("source", source)
        pages: Paginator[ApplicationSourceVersion] = Paginator(
            self._transport,
            f"customApplicationSources/{quote_id(source_id)}/versions/",
            ApplicationSourceVersion,
            "Listing versions",
            max_workers=self._max_workers,
        )
        found = pages.all({}, check_limit(limit), progress=self._show_progress(progress))
        for entry in found:
            entry.source_id = source_id
        return found

    def runtime_parameters(
        self, source: Source, version: Version = "latest"
    ) -> list[RuntimeParameter]:
        """The runtime parameters a version declares, with their current values.

        Read from the version's ``runtimeParameters``; a server that does not list them there
        is read from the version's ``metadata.yaml`` (no current values then).
        """
        source_id = check_id("source", source)
        return self.definitions(self.version(source_id, version))

    def definitions(self, version: ApplicationSourceVersion) -> list[RuntimeParameter]:
        """:meth:`runtime_parameters` of a version already fetched (``source_id`` set)."""
        if version.runtime_parameters:
            return version.runtime_parameters
        item = next((i for i in version.items if METADATA_FILE in (i.file_path, i.file_name)), None)
        if item is None or not version.source_id:
            return []
        path = f"{self._version_path(version.source_id, version.id)}items/{quote_id(item.id)}/"
        return parse_metadata(content_bytes(self._transport.get_json(path)))

    def set_runtime_parameters(
        self, version: ApplicationSourceVersion, values: Mapping[str, Any]
    ) -> ApplicationSourceVersion:
        """Set values on a version that is not frozen (checked first); the version now.

        ``version`` is one fetched through its source (``source_id`` set). A frozen version
        cannot change: :meth:`new_version` with ``runtime_parameters=`` makes a new one.
        """
        if not version.source_id:
            raise InvalidArgumentError(
                "The version's source is not known: fetch it with client.app_sources.version()."
            )
        entries = check_values(self.definitions(version), values, what=f"version {version.id}")
        return self.put_values(version, entries)

    def put_values(
        self, version: ApplicationSourceVersion, entries: list[dict[str, Any]]
    ) -> ApplicationSourceVersion:
        """Send checked values (``resources.parameters.check_values``) to a version."""
        if not entries:
            return version
        source_id = version.source_id or ""
        changed = self._patch(
            self._version_path(source_id, version.id), json=values_to_api(entries)
        )
        if not changed.id:
            changed = self._read_version(source_id, version.id)
        changed.source_id = source_id
        return changed

    def new_version(
        self,
        source: Source,
        files: SourceFiles | None = None,
        *,
        base_version: Version | None = "latest",
        delete: Iterable[str] = (),
        base_environment: str
        | tuple[str, str]
        | Mapping[str, str]
        | DefaultEnvironment
        | None = None,
        resources: Mapping[str, Any] | None = None,
        label: str | None = None,
        runtime_parameters: Mapping[str, Any] | None = None,
    ) -> ApplicationSourceVersion:
        """A new version of ``source``, changed as asked; returns it as the server has it.

        ``base_version`` (default ``"latest"``; a version or its id; None for an empty version)
        is copied first: files, environment, resources. ``delete`` lists paths in the source
        to leave out. ``files`` are then added or replaced: a folder (its files at their
        relative paths; ``.git``, ``__pycache__``, ``.env`` files and symbolic links are left
        out), a mapping ``{path_in_source: str | bytes | Path}`` (str is the text itself), or
        a list of paths (each file under its own name). They go up ``UPLOAD_BATCH`` per
        request. ``base_environment`` is an environment id or ``(id, version_id)``;
        ``resources`` e.g. ``{"resource_label": "cpu.small", "replicas": 1}``.
        ``runtime_parameters`` (``{name: value}``) are checked against the new version's
        ``metadata.yaml`` (the one uploaded, else the base version's definitions, whose values
        are copied) and set last. Everything is checked before anything is sent, a folder by
        ``drn.check_app_folder`` (``AppFolderError``; no start-app.sh is fine on a base).
        """
        source_id = check_id("source", source)
        if isinstance(files, (str, os.PathLike)) and Path(files).expanduser().is_dir():
            refuse_errors(files, whole=base_version is None)
        uploads = source_files(files) if files is not None else []
        doomed = [check_source_path(p) for p in ([delete] if isinstance(delete, str) else delete)]
        entries: list[dict[str, Any]] = []
        payload: dict[str, Any] = {}
        if label is not None:
            payload["label"] = check_text("label", label, required=True)
        if base_environment is not None:
            payload.update(_base_environment(base_environment))
        if resources is not None:
            payload["resources"] = resources_to_api(resources)
        base_id = None
        if base_version is not None:
            base_id = self._version_id(source_id, base_version, allow_none=True)
            if base_id:
                payload["baseVersion"] = base_id
        if doomed:  # checked against the base before a version exists (no orphan version)
            base = self.version(source_id, base_id).items if base_id else []
            have = {item.file_path or item.file_name for item in base}
            missing = [p for p in doomed if p not in have]
            if missing:
                raise InvalidArgumentError(
                    f"delete names files the base version does not have: {missing}; it has "
                    f"{sorted(have)[:10]}."
                )
        if runtime_parameters is not None:
            entries = check_values(
                self._future_definitions(source_id, base_id, uploads, doomed),
                runtime_parameters,
                what="the new version",
            )
        created = ApplicationSourceVersion.from_api(
            self._transport.json(
                self._transport.request(
                    "POST",
                    f"customApplicationSources/{quote_id(source_id)}/versions/",
                    json=payload,
                )
            )
        )
        if not created.id:
            raise DataRobotError(
                "The server created a version but sent no id; see client.app_sources.versions()."
            )
        path = self._version_path(source_id, created.id)
        version = created
        if doomed:
            by_path = {item.file_path or item.file_name: item.id for item in version.items}
            missing = [p for p in doomed if p not in by_path]
            if missing:  # the server's copy of the base differs from what it listed
                raise DataRobotError(
                    f"The new version {created.id} lacks files of its base: {missing}."
                )
            version = self._patch(
                path, json={"filesToDelete": [by_path[p] for p in doomed]}, once=True
            )
        for start in range(0, len(uploads), UPLOAD_BATCH):
            batch = uploads[start : start + UPLOAD_BATCH]
            version = self._patch(
                path,
                files=[("file", (name, content)) for name, content in batch],
                data=[("filePath", name) for name, _ in batch],
            )
        if not version.id:
            version = self._read_version(source_id, created.id)
        version.source_id = source_id
        return self.put_values(version, entries)

    def _future_definitions(
        self,
        source_id: str,
        base_id: str | None,
        uploads: list[tuple[str, bytes]],
        doomed: list[str],
    ) -> list[RuntimeParameter]:
        """The definitions a new version will have: its uploaded metadata, else its base's."""
        uploaded = dict(uploads).get(METADATA_FILE)
        base = self._read_version(source_id, base_id) if base_id else None
        current = {p.field_name: p.current_value for p in self.definitions(base)} if base else {}
        if uploaded is not None:
            declared = parse_metadata(uploaded)
            for parameter in declared:  # values the base has are copied along
                parameter.current_value = current.get(parameter.field_name)
            return declared
        if base is None or METADATA_FILE in doomed:
            return []
        return self.definitions(base)

    def _patch(self, path: str, *, once: bool = False, **body: Any) -> ApplicationSourceVersion:
        response = self._transport.request("PATCH", path, upload="files" in body, once=once, **body)
        data = self._transport.json(response) if response.content else None
        # 204 or no object: the caller reads the version again
        return (
            ApplicationSourceVersion.from_api(data)
            if isinstance(data, Mapping)
            else ApplicationSourceVersion()
        )
