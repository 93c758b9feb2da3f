"""``Client``: the settings, one transport, and the resources (``templates``, ``app_sources``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dr_notebook.config import Secret, resolve_settings
from dr_notebook.errors import InvalidArgumentError
from dr_notebook.http import Transport
from dr_notebook.resources.app_sources import AppSources
from dr_notebook.resources.templates import Templates

__all__ = ["Client"]

#: Connections kept beyond the listing workers: the gallery's creation thread, the caller's own
#: calls and a few user threads can each have a request in flight while a listing runs.
SPARE_CONNECTIONS = 4


class Client:
    """A connection to DataRobot (or the sandbox): ``client.templates``, ``client.app_sources``.

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

    def close(self) -> None:
        """Close the pooled connections (the client can still be used; it reconnects)."""
        self._transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
