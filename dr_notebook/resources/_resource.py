"""What every resource holds: the transport, its list endpoint's pages, the progress default."""

from __future__ import annotations

from typing import ClassVar, Generic, TypeVar

from dr_notebook.errors import NotFoundError
from dr_notebook.http import Transport
from dr_notebook.models import ApiModel
from dr_notebook.resources.pagination import Paginator

M = TypeVar("M", bound=ApiModel)


class Resource(Generic[M]):
    """Base of ``client.templates``, ``client.app_sources`` and ``client.applications``.

    A subclass names its list endpoint, its model and the label of its progress bar.
    ``progress`` is the default for calls that can show a progress bar; each such call takes
    ``progress=`` to override it. Nothing changes it after construction.
    """

    list_path: ClassVar[str]
    model: type[ApiModel]
    progress_label: ClassVar[str]

    def __init__(self, transport: Transport, *, max_workers: int, progress: bool) -> None:
        self._transport = transport
        self._progress = progress
        self._max_workers = max_workers
        self._pages: Paginator[M] = Paginator(
            transport,
            self.list_path,
            self.model,  # type: ignore[arg-type]
            self.progress_label,
            max_workers=max_workers,
        )

    @property
    def transport(self) -> Transport:
        """The transport this resource sends its requests through (shared with the client)."""
        return self._transport

    def _show_progress(self, progress: bool | None) -> bool:
        """The per-call choice, else the client's default."""
        return self._progress if progress is None else progress

    def _delete(self, path: str, *, hard: bool = False) -> None:
        """DELETE ``path`` (``?hardDelete=true`` when ``hard``)."""
        try:
            self._transport.request("DELETE", path, params={"hardDelete": "true"} if hard else None)
        except NotFoundError as err:
            # A retried DELETE whose first attempt went through answers 404: that is success.
            if not err.attempts > 1:
                raise

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self._transport.endpoint}>"
