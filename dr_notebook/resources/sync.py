"""The edit loop: a local folder made the running application's code, once or on every save.

A sync compares the folder with the version the application runs, by SHA-256 of each file's
content. When something differs it makes one new version based on that one, holding only the
added and changed files and leaving out the deleted ones, moves the application onto it and
waits until it runs. Nothing differs: nothing is sent but the reads. The folder's files are
those an upload takes (``payloads.folder_files``: no ``.git``, caches, ``.env`` files or links)
less what ``.dr_apps_ignore`` lists (one pattern a line, ``#`` comments, as drapps reads it).
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from dr_notebook.errors import DataRobotError, InvalidArgumentError
from dr_notebook.models import Application, ApplicationSourceVersion, WorkspaceItem
from dr_notebook.resources.app_folder import refuse_errors
from dr_notebook.resources.packing import IGNORE_FILE, folder_files, ignore_patterns, ignored

if TYPE_CHECKING:
    from dr_notebook.resources.app_sources import AppSources

__all__ = ["DEBOUNCE_MS", "IGNORE_FILE", "SyncResult", "Syncer", "ignored", "local_files"]

#: How long the folder must stay quiet after a save before a watch syncs.
DEBOUNCE_MS = 150


class Applications(Protocol):
    """What syncing uses of ``client.applications`` (a typing-only reference: the resource
    itself imports this module)."""

    def get(self, application: str | Application, /, *, drift: bool = True) -> Application:
        """The application, fresh from the server."""
        ...

    def update(
        self,
        application: str | Application,
        /,
        *,
        source_version: str | ApplicationSourceVersion | None = None,
        wait: bool = True,
    ) -> Application:
        """Restart the application on ``source_version``."""
        ...

    def wait(
        self,
        application: str | Application,
        /,
        *,
        version: str | ApplicationSourceVersion | None = None,
        timeout: float = 600.0,
        progress: bool | None = None,
    ) -> Application:
        """Wait until the application runs ``version``."""
        ...


@dataclasses.dataclass(frozen=True)
class SyncResult:
    """What one sync did: the files ``added``, ``changed`` and ``deleted`` (paths in the
    source), the ``version`` made (None when nothing changed), the ``application`` as it now
    runs, and the ``seconds`` it took."""

    application: Application
    version: ApplicationSourceVersion | None
    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()
    seconds: float = 0.0

    @property
    def changed_anything(self) -> bool:
        """Whether a new version was made."""
        return self.version is not None

    def __str__(self) -> str:
        name = self.application.name or self.application.id
        if self.version is None:
            return f"{name}: no change"
        kinds = (("changed", self.changed), ("added", self.added), ("deleted", self.deleted))
        parts = [f"{len(paths)} {kind}" for kind, paths in kinds if paths]
        paths = [*self.changed, *self.added, *self.deleted]
        files = ", ".join(paths[:3]) + (", ..." if len(paths) > 3 else "")
        return (
            f"{name}: {', '.join(parts)} ({files}) -> version "
            f"{self.version.label or self.version.id}, {self.application.status} "
            f"in {self.seconds:.1f} s"
        )


def local_files(folder: Path) -> dict[str, bytes]:
    """``{path_in_source: content}`` of the files a sync takes from ``folder``."""
    patterns = ignore_patterns(folder)
    files: dict[str, bytes] = {}
    for path in folder_files(folder):
        relative = path.relative_to(folder).as_posix()
        if not ignored(relative, patterns):
            files[relative] = path.read_bytes()
    return files


def _print_error(err: DataRobotError) -> None:
    print(f"sync failed: {err}")


def _digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


class Syncer:
    """Syncs one folder into one application; remembers the hashes of the versions it made
    (a watch then reads nothing but the application before each sync)."""

    def __init__(
        self,
        applications: Applications,
        sources: AppSources,
        application: Application,
        folder: Path,
        *,
        timeout: float,
        max_workers: int,
    ) -> None:
        if not folder.is_dir():
            raise InvalidArgumentError(f"{str(folder)!r} is not a folder.")
        self.applications = applications
        self.sources = sources
        self.app_id = application.id
        self.folder = folder
        self.timeout = timeout
        self.max_workers = max_workers
        self._hashes: dict[str, dict[str, str]] = {}

    def differences(
        self, app: Application
    ) -> tuple[dict[str, bytes], dict[str, str], tuple[tuple[str, ...], ...]]:
        """The folder's files, the hashes of the version ``app`` runs, and the paths added,
        changed and deleted between them (reads only)."""
        if not app.source_id or not app.source_version_id:
            raise InvalidArgumentError(
                f"The application {app.name or app.id!r} does not say which source version it "
                "runs; sync needs it."
            )
        local = local_files(self.folder)
        remote = self._remote(app.source_id, app.source_version_id)
        patterns = ignore_patterns(self.folder)
        wanted = {path: _digest(content) for path, content in local.items()}
        added = tuple(sorted(p for p in wanted if p not in remote))
        changed = tuple(sorted(p for p in wanted if p in remote and remote[p] != wanted[p]))
        deleted = tuple(sorted(p for p in remote if p not in wanted and not ignored(p, patterns)))
        return local, remote, (added, changed, deleted)

    def once(self) -> SyncResult:
        """Sync now (see the module's docstring)."""
        started = time.monotonic()
        refuse_errors(self.folder)  # before any request: a folder that cannot run is not sent
        app = self.applications.get(self.app_id, drift=False)
        local, remote, (added, changed, deleted) = self.differences(app)
        wanted = {path: _digest(content) for path, content in local.items()}
        if not (added or changed or deleted):
            return SyncResult(app, None, seconds=time.monotonic() - started)
        version = self.sources.new_version(
            app.source_id or "",  # differences() checked it
            {p: local[p] for p in (*added, *changed)},
            base_version=app.source_version_id,
            delete=deleted,
        )
        kept = {p: h for p, h in remote.items() if p not in deleted}
        self._hashes[version.id] = {**kept, **wanted}
        self.applications.update(app, source_version=version, wait=False)
        left = max(self.timeout - (time.monotonic() - started), 1.0)
        app = self.applications.wait(app.id, version=version, timeout=left, progress=False)
        return SyncResult(app, version, added, changed, deleted, seconds=time.monotonic() - started)

    def watch(
        self,
        stop: threading.Event | None,
        on_sync: Callable[[SyncResult], object],
        *,
        debounce_ms: int = DEBOUNCE_MS,
        on_error: Callable[[DataRobotError], object] | None = None,
        on_watching: Callable[[], object] | None = None,
    ) -> list[SyncResult]:
        """Sync now, then after each burst of saves, until ``stop`` is set or the kernel is
        interrupted (KeyboardInterrupt ends the watch quietly); every sync that changed
        something goes to ``on_sync``; returns them all. A sync that fails (the app does not
        start, the server refuses) goes to ``on_error`` (default: one printed line) and the
        watch goes on: the next save may fix it. ``on_watching`` is called once, when the
        folder is being watched (a save from then on is synced)."""
        import watchfiles

        patterns = ignore_patterns(self.folder)
        root = self.folder.resolve()

        def wanted(_: watchfiles.Change, path: str) -> bool:
            try:
                relative = Path(path).resolve().relative_to(root).as_posix()
            except ValueError:
                return False
            return not ignored(relative, patterns) and "/.git/" not in f"/{relative}/"

        done: list[SyncResult] = []

        def run() -> None:
            try:
                result = self.once()
            except DataRobotError as err:
                (on_error or _print_error)(err)
                return
            if result.changed_anything:
                done.append(result)
                on_sync(result)

        watching = False
        try:
            run()
            # Yields an empty set when nothing changed for rust_timeout ms: the first one says
            # the watcher is in place.
            for changes in watchfiles.watch(
                self.folder,
                watch_filter=wanted,
                debounce=debounce_ms,
                step=25,
                stop_event=stop,
                rust_timeout=200,
                yield_on_timeout=True,
            ):
                if not watching:
                    watching = True
                    if on_watching is not None:
                        on_watching()
                if changes:
                    patterns[:] = ignore_patterns(self.folder)
                    run()
        except KeyboardInterrupt:
            pass
        return done

    def _remote(self, source_id: str, version_id: str) -> dict[str, str]:
        known = self._hashes.get(version_id)
        if known is not None:
            return known
        version = self.sources.version(source_id, version_id)

        def fetch(item: WorkspaceItem) -> str:
            return _digest(self.sources.content(source_id, version_id, item))

        items = {(i.file_path or i.file_name): i for i in version.items}
        with ThreadPoolExecutor(max_workers=self.max_workers) as pool:
            hashes = dict(zip(items, pool.map(fetch, items.values()), strict=True))
        self._hashes[version_id] = hashes
        return hashes
