"""``client.app_sources``: custom application sources, created from templates."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal, overload

from dr_notebook.enums import SOURCE_ORDER_BY, JobStatus
from dr_notebook.errors import (
    AsyncOperationError,
    AsyncTimeoutError,
    DataRobotError,
    InvalidArgumentError,
)
from dr_notebook.http import quote_id
from dr_notebook.models import ApplicationSource, AsyncStatus, Template
from dr_notebook.resources._progress import progress_bar
from dr_notebook.resources._resource import Resource
from dr_notebook.resources.payloads import check_id, check_limit, check_order_by, check_text

__all__ = ["DEFAULT_WAIT", "AppSources", "StatusCallback"]

#: Seconds a call waits for an asynchronous job by default.
DEFAULT_WAIT = 600.0

StatusCallback = Callable[[AsyncStatus], object]


def _status_id(location: str) -> str:
    parts = [p for p in location.split("?", 1)[0].split("/") if p]
    return parts[-1] if parts else ""


def check_wait(timeout: object) -> float:
    """``timeout`` (the total seconds to wait for a job) if it is a positive number."""
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise InvalidArgumentError(
            f"timeout must be a positive number of seconds, not {timeout!r}."
        )
    return float(timeout)


class AppSources(Resource[ApplicationSource]):
    """``client.app_sources``: custom application sources, created from templates."""

    list_path = "customApplicationSources/"
    model = ApplicationSource
    progress_label = "Listing sources"

    def get(self, source: str | ApplicationSource) -> ApplicationSource:
        """One application source by id."""
        source_id = check_id("source_id", source)
        body = self._transport.get_json(f"customApplicationSources/{quote_id(source_id)}/")
        return ApplicationSource.from_api(body)

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
            status = self._poll(location)
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

    def _poll(self, location: str) -> AsyncStatus:
        response = self._transport.request("GET", location, ok=(303,))
        if response.status_code == 303:
            target = response.headers.get("Location")
            if not target:
                raise DataRobotError("The job finished (303) but the server sent no Location.")
            return AsyncStatus(
                status_id=_status_id(location), status=JobStatus.COMPLETED, location=target
            )
        status = AsyncStatus.from_api(self._transport.json(response))
        if not status.status_id:
            status.status_id = _status_id(location)
        if status.completed:
            status.location = response.headers.get("Location") or None
            if not status.location:
                # Polling on would only wait for the timeout: the result has no address.
                raise DataRobotError(
                    f"The job {status.status_id} finished (COMPLETED) but the server sent no "
                    "Location for the new source; look for it with client.app_sources.list().",
                    status_code=response.status_code,
                )
        return status

    def _wait(
        self,
        location: str,
        timeout: float,
        on_status: StatusCallback | None,
        progress: bool | None,
        *,
        what: str,
    ) -> ApplicationSource:
        deadline = time.monotonic() + timeout
        delay = 0.5
        bar = progress_bar(
            self._show_progress(progress),
            desc="Creating application source",
            bar_format="{desc} [{elapsed}]",
        )
        try:
            while True:
                status = self._poll(location)
                if on_status is not None:
                    on_status(status)
                if bar is not None:
                    bar.set_description_str(f"Creating application source: {status.status}")
                if status.completed and status.location:
                    return self._fetch_result(status.location)
                if status.failed:
                    detail = f": {status.message}" if status.message else ""
                    raise AsyncOperationError(
                        f"Creating the application source{what} ended {status.status}{detail}",
                        status=status,
                        server_message=status.message,
                    )
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AsyncTimeoutError(
                        f"Creating the application source{what} did not finish within "
                        f"{timeout:g} s (last status {status.status or 'unknown'}); it may still "
                        f"finish: client.app_sources.wait({location!r})",
                        status=status,
                    )
                time.sleep(min(delay, remaining))
                delay = min(delay * 1.5, 5.0)
        finally:
            if bar is not None:
                bar.close()

    def _fetch_result(self, location: str) -> ApplicationSource:
        return ApplicationSource.from_api(self._transport.get_json(location))
