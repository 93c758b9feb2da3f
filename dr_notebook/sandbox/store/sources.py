"""Storage of application sources, their versions and the versions' files (on the shared Store)."""

from __future__ import annotations

import json
import posixpath
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from dr_notebook.sandbox.store.database import (
    SOURCE_ORDER,
    Store,
    file_content,
    new_id,
    now_iso,
    order_clause,
)

METADATA_FILE = "metadata.yaml"
#: Runtime parameter values a request sets: the field they came in, and the parsed values.
ParameterChange = tuple[str, list[dict[str, Any]]]


class VersionFrozen(Exception):
    """The version has had an application built from it: its files and settings are fixed."""


class VersionProblem(Exception):
    """A change the version cannot take; the message says why (and ``field`` which input)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class VersionRules(Protocol):
    """What the service decides about a version's content, handed to the store.

    The store imports no service: the limits and the runtime parameters' rules come in here
    (``service.versions.VERSION_RULES``)."""

    max_files: int
    max_total_bytes: int

    def definitions(self, metadata: bytes | None) -> list[dict[str, Any]]:
        """The runtime parameter definitions declared by a version's ``metadata.yaml``."""
        ...

    def check_values(
        self, declared: list[dict[str, Any]], values: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], list[str]]:
        """``values`` checked against the definitions: the values as stored, and problems."""
        ...

    def merge_values(
        self, stored: list[dict[str, Any]], changes: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """The stored values with ``changes`` applied by name."""
        ...

    def listing(
        self, metadata: bytes | None, values: list[dict[str, Any]], *, reveal: bool = False
    ) -> list[dict[str, Any]]:
        """A version's ``runtimeParameters``: each definition with its ``currentValue``."""
        ...

    def clash(self, paths: Iterable[str]) -> str | None:
        """Why these file paths cannot live in one folder, or None."""
        ...


class SourceStore:
    """Sources, versions and files; a version's settings live in its JSON ``body``."""

    def __init__(self, store: Store, rules: VersionRules) -> None:
        self.store = store
        self.rules = rules

    # -- sources ------------------------------------------------------------------------------
    def insert_source(
        self,
        source: dict[str, Any],
        version: dict[str, Any],
        *,
        template_id: str | None = None,
        job_id: str | None = None,
    ) -> bool:
        """Store a source and its first version (files copied from ``template_id`` if given).

        With ``job_id``, the source is the result of that async job: stored, and the job marked
        done, only if the job is not finished yet (False, and nothing stored, otherwise).
        """
        store = self.store
        with store.lock, store.transaction():
            if job_id is not None and not store.claim_job(job_id, source["id"], None):
                return False
            store.db.execute(
                "INSERT INTO sources VALUES (?, ?, ?, ?, ?, ?)",
                (source["id"], source["name"], template_id, source["createdAt"],
                 source["updatedAt"], _dumps(source)),
            )  # fmt: skip
            self._insert_version(source["id"], version)
            if template_id is not None:
                store.db.execute(
                    "INSERT INTO version_files (id, version_id, path, content, created_at)"
                    " SELECT lower(hex(randomblob(12))), ?, name, content, ? FROM template_files"
                    " WHERE template_id = ? ORDER BY position",
                    (version["id"], version["createdAt"], template_id),
                )
        return True

    def get_source(self, source_id: str) -> dict[str, Any] | None:
        """One source with its latest version, or None."""
        with self.store.lock:
            row = self.store.db.execute(
                "SELECT body FROM sources WHERE id = ?", (source_id,)
            ).fetchone()
            return None if row is None else self._with_latest(json.loads(row["body"]))

    def list_sources(
        self, name: str | None, order_by: str | None, offset: int, limit: int
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of sources, optionally filtered by (part of) their name, and the total."""
        clause, params = "", []
        if name:
            clause, params = "WHERE instr(py_lower(name), ?) > 0", [name.lower()]
        order = order_clause(order_by, SOURCE_ORDER, "created_at")
        db = self.store.db
        with self.store.lock:
            total = db.execute(f"SELECT count(*) FROM sources {clause}", params).fetchone()[0]
            rows = db.execute(
                f"SELECT body FROM sources {clause} ORDER BY {order} LIMIT ? OFFSET ?",
                [*params, limit, offset],
            ).fetchall()
            return [self._with_latest(json.loads(r["body"])) for r in rows], total

    def rename_source(self, source_id: str, name: str) -> bool:
        """Give a source a new name; False when there is no such source."""
        with self.store.lock, self.store.transaction():
            row = self.store.db.execute(
                "SELECT body FROM sources WHERE id = ?", (source_id,)
            ).fetchone()
            if row is None:
                return False
            body = {**json.loads(row["body"]), "name": name, "updatedAt": now_iso()}
            self.store.db.execute(
                "UPDATE sources SET name = ?, updated_at = ?, body = ? WHERE id = ?",
                (name, body["updatedAt"], _dumps(body), source_id),
            )
        return True

    def delete_source(self, source_id: str) -> bool:
        """Delete a source, its versions and their files; False when there was none."""
        db = self.store.db
        with self.store.lock, self.store.transaction():
            versions = [r[0] for r in db.execute(
                "SELECT id FROM source_versions WHERE source_id = ?", (source_id,)
            )]  # fmt: skip
            db.executemany(
                "DELETE FROM version_files WHERE version_id = ?", [(v,) for v in versions]
            )
            db.execute("DELETE FROM source_versions WHERE source_id = ?", (source_id,))
            return db.execute("DELETE FROM sources WHERE id = ?", (source_id,)).rowcount > 0

    # -- versions -----------------------------------------------------------------------------
    def latest_version_id(self, source_id: str) -> str | None:
        """The id of a source's newest version, or None."""
        with self.store.lock:
            row = self.store.db.execute(
                "SELECT id FROM source_versions WHERE source_id = ? ORDER BY seq DESC LIMIT 1",
                (source_id,),
            ).fetchone()
        return None if row is None else row["id"]

    def create_version(
        self,
        source_id: str,
        version: dict[str, Any],
        base_version_id: str | None,
        values: ParameterChange | None = None,
    ) -> dict[str, Any] | None:
        """Add a version (copying the files of ``base_version_id``); None if no such source.

        ``values`` (the request's field, its parsed values) are checked against the new
        version's ``metadata.yaml``: :class:`VersionProblem` when one is wrong, nothing stored.
        """
        db = self.store.db
        with self.store.lock, self.store.transaction():
            if db.execute("SELECT 1 FROM sources WHERE id = ?", (source_id,)).fetchone() is None:
                return None
            self._insert_version(source_id, version)
            if base_version_id is not None:
                db.execute(
                    "INSERT INTO version_files (id, version_id, path, content, created_at)"
                    " SELECT lower(hex(randomblob(12))), ?, path, content, ? FROM version_files"
                    " WHERE version_id = ? ORDER BY rowid",
                    (version["id"], version["createdAt"], base_version_id),
                )
            if values is not None:
                body = {k: v for k, v in version.items() if k not in _COMPUTED_VERSION_FIELDS}
                self._set_values(version["id"], body, values)
                db.execute(
                    "UPDATE source_versions SET body = ? WHERE id = ?",
                    (_dumps(body), version["id"]),
                )
            self._touch_source(source_id, version["createdAt"])
            return self._version(source_id, version["id"])

    def get_version(self, source_id: str, version_id: str) -> dict[str, Any] | None:
        """One version of a source (settings and items), or None."""
        with self.store.lock:
            return self._version(source_id, version_id)

    def find_version(self, version_id: str) -> dict[str, Any] | None:
        """A version of any source, with ``sourceId`` added, or None."""
        with self.store.lock:
            row = self.store.db.execute(
                "SELECT source_id FROM source_versions WHERE id = ?", (version_id,)
            ).fetchone()
            if row is None:
                return None
            found = self._version(row["source_id"], version_id)
        return None if found is None else {**found, "sourceId": row["source_id"]}

    def list_versions(
        self, source_id: str, offset: int, limit: int
    ) -> tuple[list[dict[str, Any]], int]:
        """A page of a source's versions, newest first, and how many it has."""
        db = self.store.db
        with self.store.lock:
            total = db.execute(
                "SELECT count(*) FROM source_versions WHERE source_id = ?", (source_id,)
            ).fetchone()[0]
            ids = [r[0] for r in db.execute(
                "SELECT id FROM source_versions WHERE source_id = ? ORDER BY seq DESC"
                " LIMIT ? OFFSET ?", (source_id, limit, offset),
            )]  # fmt: skip
            versions = [self._version(source_id, v) for v in ids]
        return [v for v in versions if v is not None], total

    def update_version(
        self,
        source_id: str,
        version_id: str,
        settings: dict[str, Any],
        files: Sequence[tuple[str, bytes]] = (),
        delete_ids: Sequence[str] = (),
        values: ParameterChange | None = None,
    ) -> dict[str, Any] | None:
        """Change settings, delete items, add or replace files, set values: all or nothing.

        None when there is no such version; raises :class:`VersionFrozen` on a frozen version
        and :class:`VersionProblem` when the change is impossible (unknown items, caps, a
        runtime parameter value its ``metadata.yaml``, as changed, refuses).
        """
        db = self.store.db
        stamp = now_iso()
        with self.store.lock, self.store.transaction():
            row = self._version_row(source_id, version_id)
            if row is None:
                return None
            if row["frozen"]:
                raise VersionFrozen(version_id)
            if delete_ids:
                marks = ",".join("?" * len(delete_ids))
                known = {r[0] for r in db.execute(
                    f"SELECT id FROM version_files WHERE version_id = ? AND id IN ({marks})",
                    [version_id, *delete_ids],
                )}  # fmt: skip
                unknown = [i for i in delete_ids if i not in known]
                if unknown:
                    raise VersionProblem(
                        "filesToDelete", f"no item {', '.join(map(repr, unknown[:5]))} here"
                    )
                db.execute(
                    f"DELETE FROM version_files WHERE version_id = ? AND id IN ({marks})",
                    [version_id, *delete_ids],
                )
            db.executemany(
                "INSERT OR REPLACE INTO version_files (id, version_id, path, content, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                [(new_id(), version_id, path, content, stamp) for path, content in files],
            )
            self._check_caps(version_id)
            body = {**json.loads(row["body"]), **settings}
            if values is not None:
                self._set_values(version_id, body, values)
            db.execute(
                "UPDATE source_versions SET updated_at = ?, body = ? WHERE id = ?",
                (stamp, _dumps(body), version_id),
            )
            self._touch_source(source_id, stamp)
            return self._version(source_id, version_id)

    def delete_version(self, source_id: str, version_id: str) -> bool:
        """Delete an unfrozen version that is not the source's only one; False if none."""
        db = self.store.db
        with self.store.lock, self.store.transaction():
            row = self._version_row(source_id, version_id)
            if row is None:
                return False
            if row["frozen"]:
                raise VersionFrozen(version_id)
            count = db.execute(
                "SELECT count(*) FROM source_versions WHERE source_id = ?", (source_id,)
            ).fetchone()[0]
            if count == 1:
                raise VersionProblem(
                    "versionId", "a source keeps at least one version: this is its only one"
                )
            db.execute("DELETE FROM version_files WHERE version_id = ?", (version_id,))
            db.execute("DELETE FROM source_versions WHERE id = ?", (version_id,))
        return True

    def get_item(self, source_id: str, version_id: str, item_id: str) -> dict[str, Any] | None:
        """One file of a version with its content (text, or base64 for binary files), or None."""
        with self.store.lock:
            if self._version_row(source_id, version_id) is None:
                return None
            row = self.store.db.execute(
                "SELECT id, path, content, created_at FROM version_files"
                " WHERE version_id = ? AND id = ?",
                (version_id, item_id),
            ).fetchone()
        if row is None:
            return None
        # Text as it is; binary files (images) base64-encoded with "encoding": "base64".
        content = file_content(bytes(row["content"]))
        return {**item_entity(row["id"], row["path"], row["created_at"]), **content}

    def files(self, version_id: str) -> list[tuple[str, bytes]]:
        """A version's files as (path, bytes), in the order they were added."""
        with self.store.lock:
            rows = self.store.db.execute(
                "SELECT path, content FROM version_files WHERE version_id = ? ORDER BY rowid",
                (version_id,),
            ).fetchall()
        return [(r["path"], bytes(r["content"])) for r in rows]

    def paths(self, version_id: str) -> list[str]:
        """A version's file paths, in the order they were added (no contents read)."""
        with self.store.lock:
            rows = self.store.db.execute(
                "SELECT path FROM version_files WHERE version_id = ? ORDER BY rowid", (version_id,)
            ).fetchall()
        return [r["path"] for r in rows]

    def file(self, version_id: str, path: str) -> bytes | None:
        """One file's bytes by path, or None."""
        with self.store.lock:
            row = self.store.db.execute(
                "SELECT content FROM version_files WHERE version_id = ? AND path = ?",
                (version_id, path),
            ).fetchone()
        return None if row is None else bytes(row["content"])

    def parameter_values(self, version_id: str) -> list[dict[str, Any]]:
        """The runtime parameter values set on a version, as stored (secrets included)."""
        with self.store.lock:
            row = self.store.db.execute(
                "SELECT body FROM source_versions WHERE id = ?", (version_id,)
            ).fetchone()
        return [] if row is None else json.loads(row["body"]).get("runtimeParameterValues", [])

    def runtime_parameters(self, version_id: str) -> list[dict[str, Any]]:
        """The version's definitions with their values, credentials revealed (for the runtime)."""
        metadata, values = self.file(version_id, METADATA_FILE), self.parameter_values(version_id)
        return self.rules.listing(metadata, values, reveal=True)

    def freeze(self, version_id: str) -> None:
        """Mark a version frozen (call under the store's lock, in the caller's transaction)."""
        self.store.db.execute("UPDATE source_versions SET frozen = 1 WHERE id = ?", (version_id,))

    # -- internals ----------------------------------------------------------------------------
    def _insert_version(self, source_id: str, version: dict[str, Any]) -> None:
        settings = {k: v for k, v in version.items() if k not in _COMPUTED_VERSION_FIELDS}
        self.store.db.execute(
            "INSERT INTO source_versions (id, source_id, seq, frozen, created_at, updated_at, body)"
            " VALUES (?, ?, (SELECT coalesce(max(seq), 0) + 1 FROM source_versions"
            " WHERE source_id = ?), 0, ?, ?, ?)",
            (version["id"], source_id, source_id, version["createdAt"], version["updatedAt"],
             _dumps(settings)),
        )  # fmt: skip

    def _set_values(self, version_id: str, body: dict[str, Any], change: ParameterChange) -> None:
        """Check ``change`` against the version's metadata (as it is now) and merge it in."""
        field, values = change
        row = self.store.db.execute(
            "SELECT content FROM version_files WHERE version_id = ? AND path = ?",
            (version_id, METADATA_FILE),
        ).fetchone()
        declared = self.rules.definitions(None if row is None else bytes(row[0]))
        checked, problems = self.rules.check_values(declared, values)
        if problems:
            raise VersionProblem(field, "; ".join(problems))
        body["runtimeParameterValues"] = self.rules.merge_values(
            body.get("runtimeParameterValues", []), checked
        )

    def _touch_source(self, source_id: str, stamp: str) -> None:
        self.store.db.execute(
            "UPDATE sources SET updated_at = ?,"
            " body = json_set(body, '$.updatedAt', ?) WHERE id = ?",
            (stamp, stamp, source_id),
        )

    def _check_caps(self, version_id: str) -> None:
        count, total = self.store.db.execute(
            "SELECT count(*), coalesce(sum(length(content)), 0) FROM version_files"
            " WHERE version_id = ?",
            (version_id,),
        ).fetchone()
        if count > self.rules.max_files:
            raise VersionProblem("file", f"a version holds at most {self.rules.max_files} files")
        if total > self.rules.max_total_bytes:
            raise VersionProblem(
                "file", f"a version holds at most {self.rules.max_total_bytes} bytes"
            )
        paths = self.store.db.execute(
            "SELECT path FROM version_files WHERE version_id = ?", (version_id,)
        )
        problem = self.rules.clash(row[0] for row in paths)
        if problem:
            raise VersionProblem("filePath", problem)

    def _version_row(self, source_id: str, version_id: str) -> sqlite3.Row | None:
        return self.store.db.execute(
            "SELECT * FROM source_versions WHERE id = ? AND source_id = ?",
            (version_id, source_id),
        ).fetchone()

    def _version(self, source_id: str, version_id: str) -> dict[str, Any] | None:
        row = self._version_row(source_id, version_id)
        if row is None:
            return None
        files = self.store.db.execute(
            "SELECT id, path, created_at FROM version_files WHERE version_id = ? ORDER BY rowid",
            (version_id,),
        ).fetchall()
        metadata = self.store.db.execute(
            "SELECT content FROM version_files WHERE version_id = ? AND path = ?",
            (version_id, METADATA_FILE),
        ).fetchone()
        settings = json.loads(row["body"])
        values = settings.pop("runtimeParameterValues", [])
        return {
            "id": row["id"],
            **settings,
            "runtimeParameters": self.rules.listing(
                None if metadata is None else bytes(metadata[0]), values
            ),
            "isFrozen": bool(row["frozen"]),
            "createdAt": row["created_at"],
            "updatedAt": row["updated_at"],
            "items": [item_entity(f["id"], f["path"], f["created_at"]) for f in files],
        }

    def _with_latest(self, source: dict[str, Any]) -> dict[str, Any]:
        latest = self.store.db.execute(
            "SELECT id FROM source_versions WHERE source_id = ? ORDER BY seq DESC LIMIT 1",
            (source["id"],),
        ).fetchone()
        version = None if latest is None else self._version(source["id"], latest["id"])
        return {**source, "latestVersion": version}

    def migrate(self) -> None:
        """Move versions out of sources stored by an older sandbox (kept inside the source)."""
        db = self.store.db
        with self.store.lock:
            old = db.execute(
                "SELECT id, template_id, body FROM sources"
                " WHERE json_extract(body, '$.latestVersion') IS NOT NULL"
            ).fetchall()
            if not old:
                return
            with self.store.transaction():
                for row in old:
                    body = json.loads(row["body"])
                    version = body.pop("latestVersion")
                    items = version.pop("items", [])
                    self._insert_version(row["id"], version)
                    contents = {
                        r["name"]: r["content"]
                        for r in db.execute(
                            "SELECT name, content FROM template_files WHERE template_id = ?",
                            (row["template_id"],),
                        )
                    }
                    db.executemany(
                        "INSERT OR IGNORE INTO version_files VALUES (?, ?, ?, ?, ?)",
                        [(i["id"], version["id"], i["filePath"], contents.get(i["filePath"], b""),
                          i.get("created") or version["createdAt"]) for i in items],
                    )  # fmt: skip
                    db.execute(
                        "UPDATE sources SET body = ? WHERE id = ?", (_dumps(body), row["id"])
                    )


# Fields of a version's API shape that come from its row and files, not its stored body.
_COMPUTED_VERSION_FIELDS = (
    "id",
    "isFrozen",
    "createdAt",
    "updatedAt",
    "items",
    "runtimeParameters",
)


def item_entity(item_id: str, path: str, created: str) -> dict[str, Any]:
    """A version's file as the API lists it (a WorkspaceItemResponse)."""
    return {
        "id": item_id,
        "fileName": posixpath.basename(path),
        "filePath": path,
        "fileSource": "local",
        "created": created,
        "commitSha": None,
        "ref": None,
        "repositoryFilePath": None,
        "repositoryLocation": None,
        "repositoryName": None,
    }


def _dumps(entity: dict[str, Any]) -> str:
    return json.dumps(entity, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
