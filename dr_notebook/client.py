"""``Client``: the settings, one transport, the resources (``templates``, ``app_sources``,
``applications``) and ``launch``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from dr_notebook import app_display as _app_display  # noqa: F401  (installs Application.show)
from dr_notebook import cards as _cards  # noqa: F401  (installs the entities' HTML cards)
from dr_notebook.config import Secret, resolve_settings
from dr_notebook.errors import InvalidArgumentError
from dr_notebook.http import Transport
from dr_notebook.resources._jobs import DEFAULT_WAIT
from dr_notebook.resources.app_sources import AppSources
from dr_notebook.resources.applications import Applications, LaunchCallback
from dr_notebook.resources.templates import Templates

if TYPE_CHECKING:
    from dr_notebook.models import Application, Template

__all__ = ["Client"]

#: Connections kept beyond the listing workers: the gallery's creation thread, the caller's own
#: calls and a few user threads can each have a request in flight while a listing runs.
SPARE_CONNECTIONS = 4


class Client:
    """A connection to DataRobot (or the sandbox): ``client.templates``, ``client.app_sources``,
    ``client.applications`` and :meth:`launch`.

    Endpoint and token come from the arguments, else ``DATAROBOT_ENDPOINT`` /
    ``DATAROBOT_API_TOKEN``, else ``DATAROBOT_CONFIG_FILE``, else
    ``~/.config/datarobot/drconfig.yaml``; unless one is an argument, both come from the same
    place. ``request_timeout`` is the read timeout of each request in seconds, or a
    ``(connect, read)`` pair; ``max_workers`` how many pages a listing reads at once;
    ``progress`` whether calls show progress bars unless they are told otherwise (fixed here).

    Safe to share between threads: every call may run in any thread, concurrently.
    """

    def __init__(
        self,
        endpoint: str | None = None,
        token: str | Secret | None = None,
        *,
        ssl_verify: bool | str | None = None,
        request_timeout: float | tuple[float, float] | None = None,
        max_workers: int = 8,
        progress: bool = True,
    ) -> None:
        if token is not None:
            token = Secret(token)  # from here on, no frame holds the token in clear
        if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
            raise InvalidArgumentError(
                f"max_workers must be a whole number >= 1, not {max_workers!r}."
            )
        settings = resolve_settings(
            endpoint, token, ssl_verify=ssl_verify, request_timeout=request_timeout
        )
        self._max_workers = max_workers
        self._progress = bool(progress)
        self._transport = Transport(settings, pool_size=max_workers + SPARE_CONNECTIONS)
        self.templates = Templates(
            self._transport, max_workers=max_workers, progress=self._progress
        )
        self.app_sources = AppSources(
            self._transport, max_workers=max_workers, progress=self._progress
        )
        self.applications = Applications(
            self._transport, max_workers=max_workers, progress=self._progress
        )

    @property
    def endpoint(self) -> str:
        """The API root, normalised to end in ``/api/v2``."""
        return self._transport.endpoint

    @property
    def max_workers(self) -> int:
        """How many pages a listing reads at once."""
        return self._max_workers

    @property
    def progress(self) -> bool:
        """Whether calls show progress bars by default (each call takes ``progress=``)."""
        return self._progress

    def __repr__(self) -> str:
        transport = getattr(self, "_transport", None)
        return f"Client(endpoint={transport.endpoint if transport else None!r})"

    def check_connection(self) -> dict[str, Any]:
        """Make one authenticated request; the endpoint and the template count on success."""
        response = self._transport.request(
            "GET", "customTemplates/", params={"offset": 0, "limit": 1}
        )
        body = self._transport.json(response)
        total = body.get("totalCount") if isinstance(body, Mapping) else None
        return {
            "endpoint": self.endpoint,
            "ok": True,
            "template_count": total,
            "request_id": response.headers.get("X-DataRobot-Request-ID"),
        }

    def launch(
        self,
        template: str | Template,
        *,
        name: str | None = None,
        resources: Mapping[str, Any] | None = None,
        runtime_parameters: Mapping[str, Any] | None = None,
        wait: bool = True,
        timeout: float = DEFAULT_WAIT,
        on_status: LaunchCallback | None = None,
        progress: bool | None = None,
        force: bool = False,
    ) -> Application:
        """From a template to a running application: the source, then the application.

        ``template`` is a template, its id or its exact name (case-insensitive). ``name`` (the
        application's; default: the template's) is checked first: a name already in use raises
        ``NameInUseError`` (a ``ValueError``) before anything is created, and so are the
        ``runtime_parameters`` (``{name: value}``) against the template's ``metadata.yaml``:
        unknown names, wrong types, values out of range and required parameters without a
        value raise one ``RuntimeParameterError`` naming them all. The values are set on the
        new source's version before the application is built from it.
        ``on_status`` receives one stream of ``LaunchStep`` events across both stages
        (``source``, ``build``, ``start``, then ``running`` or ``failed``); ``progress``
        (default: the client's) shows one bar. ``timeout`` bounds the whole call.

        A template whose metadata says its app cannot run on this server (``localLaunch``, as
        the sandbox's Node.js and Slack templates do) raises ``LocalLaunchError`` with the
        reason before anything is created; ``force=True`` launches it anyway.

        Returns the application, ``running`` (or, with ``wait=False``, as soon as it exists).
        Raises ``ApplicationFailedError`` (build error, last log lines) when it fails and
        ``AsyncTimeoutError`` when the time runs out; the source then stays, and the
        application too (it may still be building). An interrupt (Ctrl-C, a kernel interrupt)
        stops the waiting only: what was created stays, and an application that exists keeps
        building on the server (``client.applications.resolve(name)`` finds it).
        """
        from dr_notebook.resources._launch import launch

        return launch(
            self.templates,
            self.app_sources,
            self.applications,
            template,
            name=name,
            resources=resources,
            wait=wait,
            timeout=timeout,
            on_status=on_status,
            progress=self._progress if progress is None else progress,
            runtime_parameters=runtime_parameters,
            force=force,
        )

    def close(self) -> None:
        """Close the pooled connections (the client can still be used; it reconnects)."""
        self._transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
