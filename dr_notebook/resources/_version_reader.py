"""Reading an application source's versions and their files (``client.app_sources``' base)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, overload

from dr_notebook.downloads import content_bytes, download_files
from dr_notebook.errors import NotFoundError
from dr_notebook.http import quote_id
from dr_notebook.models import ApplicationSource, ApplicationSourceVersion, WorkspaceItem
from dr_notebook.resources._resource import Resource
from dr_notebook.resources.checks import check_id

__all__ = ["Source", "SourceVersionReader", "Version"]

Source = str | ApplicationSource
Version = str | ApplicationSourceVersion


class SourceVersionReader(Resource[ApplicationSource]):
    """Sources, one version and its files, downloads: what reads without changing anything."""

    def get(self, source: str | ApplicationSource) -> ApplicationSource:
        """One application source by id."""
        source_id = check_id("source_id", source)
        body = self._transport.get_json(f"customApplicationSources/{quote_id(source_id)}/")
        return ApplicationSource.from_api(body)

    def version(self, source: Source, version: Version = "latest") -> ApplicationSourceVersion:
        """One version of a source with its items; ``"latest"`` is the source's latest."""
        source_id = check_id("source", source)
        version_id = self._version_id(source_id, version)
        return self._read_version(source_id, version_id)

    def _read_version(self, source_id: str, version_id: str) -> ApplicationSourceVersion:
        found = ApplicationSourceVersion.from_api(
            self._transport.get_json(self._version_path(source_id, version_id))
        )
        found.source_id = source_id
        return found

    def file(self, source: Source, version: Version, item: str | WorkspaceItem) -> WorkspaceItem:
        """One file of a version, with its ``content``; ``item`` is an item, its id or its
        path in the version; ``version`` may be ``"latest"``."""
        source_id = check_id("source", source)
        version_id = self._version_id(source_id, version)
        item_id = self._item_id(source_id, version_id, item)
        body = self._transport.get_json(
            f"{self._version_path(source_id, version_id)}items/{quote_id(item_id)}/"
        )
        return WorkspaceItem.from_api(body)

    def content(self, source: Source, version: Version, item: str | WorkspaceItem) -> bytes:
        """One file's bytes (text as UTF-8, binary files decoded); arguments as :meth:`file`."""
        source_id = check_id("source", source)
        version_id = self._version_id(source_id, version)
        item_id = self._item_id(source_id, version_id, item)
        return content_bytes(
            self._transport.get_json(
                f"{self._version_path(source_id, version_id)}items/{quote_id(item_id)}/"
            )
        )

    def download(
        self,
        source: Source,
        folder: str | os.PathLike[str],
        *,
        version: Version = "latest",
        overwrite: bool = False,
    ) -> list[Path]:
        """Write every file of a version into ``folder`` (created if needed); the paths written.

        Files are fetched concurrently. Existing files are refused (``ExistingFileError``, a
        ``FileExistsError``) unless ``overwrite=True``; a server path that would land outside
        the folder (absolute, ``..``, a drive letter, a symbolic link on the way) or clashes
        with another raises ``UnsafePathError``. All or nothing: everything is checked and
        fetched, written beside the folder, then moved into place.
        """
        source_id = check_id("source", source)
        chosen = self.version(source_id, version)
        base = self._version_path(source_id, chosen.id)
        ids = {(item.file_path or item.file_name): item.id for item in chosen.items}

        def fetch(path: str) -> bytes:
            return content_bytes(
                self._transport.get_json(f"{base}items/{quote_id(ids[path])}/", verbatim=True)
            )

        return download_files(
            folder, chosen.paths, fetch, overwrite=overwrite, max_workers=self._max_workers
        )

    # -- helpers ---------------------------------------------------------------------------
    @staticmethod
    def _version_path(source_id: str, version_id: str) -> str:
        return f"customApplicationSources/{quote_id(source_id)}/versions/{quote_id(version_id)}/"

    @overload
    def _version_id(self, source_id: str, version: Version) -> str: ...

    @overload
    def _version_id(
        self, source_id: str, version: Version | None, *, allow_none: Literal[True]
    ) -> str | None: ...

    def _version_id(
        self, source_id: str, version: Version | None, *, allow_none: bool = False
    ) -> str | None:
        if version is None and allow_none:
            return None
        if version == "latest":
            latest = self.get(source_id).latest_version.id
            if not latest and not allow_none:
                raise NotFoundError(f"The source {source_id} has no version yet.")
            return latest or None
        return check_id("version", version)

    def _item_id(self, source_id: str, version_id: str, item: str | WorkspaceItem) -> str:
        if isinstance(item, WorkspaceItem):
            return check_id("item", item)
        text = check_id("item", item)
        version = ApplicationSourceVersion.from_api(
            self._transport.get_json(self._version_path(source_id, version_id))
        )
        for entry in version.items:
            if text in (entry.id, entry.file_path, entry.file_name):
                return entry.id
        raise NotFoundError(
            f"The version {version_id} has no file {text!r}; it has "
            f"{', '.join(version.paths[:10]) or 'no files'}."
        )
