"""SQLite storage (one WAL file): the schema, templates and their files, async jobs."""

from __future__ import annotations

import base64
import json
import os
import secrets
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS templates (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    template_type TEXT NOT NULL,
    template_sub_type TEXT,
    enabled INTEGER NOT NULL,
    default_resource_bundle_id TEXT,
    default_environment TEXT NOT NULL,
    template_metadata TEXT NOT NULL,
    publisher TEXT,
    category TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    body TEXT  -- the template as the API shows it (JSON, items included), rewritten on every change
);
CREATE INDEX IF NOT EXISTS templates_type ON templates (template_type, template_sub_type);
CREATE INDEX IF NOT EXISTS templates_created ON templates (created_at);
-- One index per orderBy key (rowid, the tie-break, is in every index): a page is read in
-- index order instead of sorting the whole catalogue (~150 ms a page at 10,000 templates).
CREATE INDEX IF NOT EXISTS templates_by_name ON templates (name COLLATE NOCASE);
CREATE INDEX IF NOT EXISTS templates_by_type ON templates (template_type);
CREATE INDEX IF NOT EXISTS templates_by_sub_type ON templates (template_sub_type);
CREATE TABLE IF NOT EXISTS template_files (
    id TEXT PRIMARY KEY,
    template_id TEXT NOT NULL REFERENCES templates (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    content BLOB NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS template_files_owner ON template_files (template_id, position);
CREATE TABLE IF NOT EXISTS sources (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    template_id TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    body TEXT NOT NULL
);
-- body: the source's own fields as the API shows them (its latestVersion comes from versions).
CREATE TABLE IF NOT EXISTS source_versions (
    id TEXT PRIMARY KEY,
    source_id TEXT NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    frozen INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    body TEXT NOT NULL  -- label, environment, resources, runtime parameter values, creator
);
CREATE INDEX IF NOT EXISTS source_versions_owner ON source_versions (source_id, seq);
CREATE TABLE IF NOT EXISTS version_files (
    id TEXT PRIMARY KEY,
    version_id TEXT NOT NULL REFERENCES source_versions (id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    content BLOB NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (version_id, path)
);
CREATE TABLE IF NOT EXISTS applications (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    source_id TEXT,
    version_id TEXT NOT NULL,
    status TEXT NOT NULL,
    status_id TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    run_id TEXT NOT NULL,
    ready_ts REAL,
    port INTEGER,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    body TEXT NOT NULL  -- the other API fields, history and the last build log
);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    template_id TEXT NOT NULL,
    role TEXT NOT NULL,
    created TEXT NOT NULL,
    created_ts REAL NOT NULL,
    delay_ms INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    source_id TEXT,
    message TEXT
);
"""

SqlValue = str | bytes | int | float | None
TEMPLATE_ORDER = {
    "name": "t.name COLLATE NOCASE",
    "createdAt": "t.created_at",
    "templateType": "t.template_type",
    "templateSubType": "t.template_sub_type",
}
_KEPT_LISTINGS = 64
SOURCE_ORDER = {"name": "name COLLATE NOCASE", "createdAt": "created_at", "updatedAt": "updated_at"}


def new_id() -> str:
    """A 24-character lowercase hex id, shaped like DataRobot's (Mongo ObjectId) ids."""
    return secrets.token_hex(12)


def now_iso() -> str:
    """The current UTC time as ISO-8601 with a ``Z`` suffix."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class NewTemplate:
    """A template ready to be stored: API-shaped values plus its files as (name, bytes)."""

    name: str
    description: str
    template_type: str
    template_sub_type: str | None
    enabled: bool = True
    default_resource_bundle_id: str | None = None
    default_environment: dict[str, Any] = field(default_factory=dict)
    template_metadata: dict[str, Any] = field(default_factory=dict)
    publisher: str | None = None
    category: str | None = None
    files: list[tuple[str, bytes]] = field(default_factory=list)
    id: str = field(default_factory=new_id)
    created_at: str = field(default_factory=now_iso)


@dataclass
class TemplateQuery:
    """Filters, order and page of a template listing."""

    search: str | None = None
    tag: str | None = None
    template_type: str | None = None
    template_sub_type: str | None = None
    publisher: str | None = None
    category: str | None = None
    order_by: str | None = None
    offset: int = 0
    limit: int = 100


class Store:
    """All persistent state of one sandbox, in a single SQLite file in WAL mode."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        _private(self.path)  # it holds tokens: only its owner reads it (and -wal, -shm)
        self._lock = threading.RLock()
        # Listings' rowids by query, cleared by every template write (see _listing).
        self._listings: dict[tuple[str, tuple[SqlValue, ...]], list[int]] = {}
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        # SQLite's lower() folds ASCII only; searches and tags are case-insensitive in Unicode.
        self._db.create_function("py_lower", 1, _lower, deterministic=True)
        self._db.execute("PRAGMA journal_mode=WAL")
        for suffix in ("-wal", "-shm"):  # SQLite gives them the database's mode; older ones
            side = self.path.with_name(self.path.name + suffix)
            if side.exists():
                side.chmod(0o600)
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA busy_timeout=5000")
        # Reads through a memory map: a listing's pages cost no read() calls (~25% of a page).
        self._db.execute("PRAGMA mmap_size=268435456")
        self._db.executescript(SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        """Bring a database written by an older sandbox up to date (in one transaction)."""
        columns = {r["name"] for r in self._db.execute("PRAGMA table_info(templates)")}
        if "body" in columns:
            return
        with self._lock, self._transaction():
            self._listings.clear()
            self._db.execute("ALTER TABLE templates ADD COLUMN body TEXT")
            rows = self._db.execute("SELECT * FROM templates").fetchall()
            self._db.executemany(
                "UPDATE templates SET body = ? WHERE id = ?",
                [(_dumps(e), e["id"]) for e in self._entities(rows)],
            )

    def close(self) -> None:
        """Checkpoint and close the database."""
        with self._lock:
            try:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                self._db.close()

    # -- meta ---------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        """A stored setting, or None."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row["value"]

    def set_meta(self, key: str, value: str) -> None:
        """Store a setting."""
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # -- templates ----------------------------------------------------------------------------
    def insert_templates(self, templates: Iterable[NewTemplate]) -> list[str]:
        """Store many templates (and their files) in one transaction; return their ids."""
        rows, file_rows = [], []
        for t in templates:
            files = _file_rows(t.id, t.files, t.created_at)
            # The shape _entities() gives a stored row (the upgrade test holds them equal).
            entity = {
                "id": t.id,
                "name": t.name,
                "description": t.description,
                "templateType": t.template_type,
                "templateSubType": t.template_sub_type,
                "enabled": bool(t.enabled),
                "defaultResourceBundleId": t.default_resource_bundle_id,
                "defaultEnvironment": t.default_environment,
                "templateMetadata": t.template_metadata,
                "items": [{"id": f[0], "name": f[3]} for f in files],
                "publisher": t.publisher,
                "category": t.category,
                "createdAt": t.created_at,
                "updatedAt": t.created_at,
            }
            rows.append(
                (
                    t.id,
                    t.name,
                    t.description,
                    t.template_type,
                    t.template_sub_type,
                    int(t.enabled),
                    t.default_resource_bundle_id,
                    json.dumps(t.default_environment),
                    json.dumps(t.template_metadata),
                    t.publisher,
                    t.category,
                    t.created_at,
                    t.created_at,
                    _dumps(entity),
                )
            )
            file_rows.extend(files)
        with self._lock, self._transaction():
            self._listings.clear()
            self._db.executemany(
                "INSERT INTO templates VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
            )
            self._db.executemany("INSERT INTO template_files VALUES (?, ?, ?, ?, ?, ?)", file_rows)
        return [r[0] for r in rows]

    def count_templates(self) -> int:
        """How many templates are stored."""
        with self._lock:
            return self._db.execute("SELECT count(*) FROM templates").fetchone()[0]

    def get_template(self, template_id: str) -> dict[str, Any] | None:
        """One template as the API shows it, or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT body FROM templates WHERE id = ?", (template_id,)
            ).fetchone()
        return None if row is None else json.loads(row["body"])

    def list_templates(self, q: TemplateQuery) -> tuple[list[dict[str, Any]], int]:
        """One page of templates matching the query, and the total number matching."""
        bodies, total = self.list_template_bodies(q)
        return [json.loads(b) for b in bodies], total

    def list_template_bodies(self, q: TemplateQuery) -> tuple[list[str], int]:
        """Like :meth:`list_templates`, each template as its stored JSON text."""
        where, params = [], []
        if q.search:
            where.append(
                "(instr(py_lower(t.name), ?) > 0 OR instr(py_lower(t.description), ?) > 0)"
            )
            params += [q.search.lower(), q.search.lower()]
        if q.tag:
            where.append(
                "EXISTS (SELECT 1 FROM json_each(t.template_metadata, '$.tags') j"
                " WHERE py_lower(j.value) = ?)"
            )
            params.append(q.tag.lower())
        for column, value in (
            ("template_type", q.template_type),
            ("template_sub_type", q.template_sub_type),
            ("publisher", q.publisher),
            ("category", q.category),
        ):
            if value:  # an empty filter value filters nothing
                where.append(f"t.{column} = ?")
                params.append(value)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        order = order_clause(q.order_by, TEMPLATE_ORDER, "t.created_at", prefix="t.")
        with self._lock:
            rowids = self._listing(f"FROM templates t {clause} ORDER BY {order}", params)
            page = rowids[q.offset : q.offset + q.limit]
            marks = ", ".join("?" * len(page))
            bodies = dict(
                self._db.execute(
                    f"SELECT rowid, body FROM templates WHERE rowid IN ({marks})", page
                ).fetchall()
            )
        return [bodies[rowid] for rowid in page], len(rowids)

    def _listing(self, query: str, params: list[SqlValue]) -> list[int]:
        """The rowids a listing query selects, in order: kept until the next template write.

        A page is then a slice of it, where ``LIMIT/OFFSET`` would walk past every row before
        the page and count them all again, page after page (quadratic in the catalogue's size).
        """
        key = (query, tuple(params))
        rowids = self._listings.get(key)
        if rowids is None:
            if len(self._listings) >= _KEPT_LISTINGS:
                self._listings.clear()
            cursor = self._db.execute(f"SELECT t.rowid {query}", params)
            rowids = self._listings[key] = [row[0] for row in cursor]
        return rowids

    def update_template(
        self, template_id: str, changes: dict[str, Any], files: list[tuple[str, bytes]] | None
    ) -> dict[str, Any] | None:
        """Apply column changes (and replace files when given); the updated entity or None."""
        columns = {
            "name": "name",
            "description": "description",
            "templateType": "template_type",
            "templateSubType": "template_sub_type",
            "enabled": "enabled",
            "defaultResourceBundleId": "default_resource_bundle_id",
            "defaultEnvironment": "default_environment",
            "templateMetadata": "template_metadata",
            "publisher": "publisher",
            "category": "category",
        }
        sets: list[str] = ["updated_at = ?"]
        params: list[Any] = [now_iso()]
        for key, value in changes.items():
            column = columns[key]
            if isinstance(value, (dict, list)):
                value = json.dumps(value)
            elif isinstance(value, bool):
                value = int(value)
            sets.append(f"{column} = ?")
            params.append(value)
        with self._lock, self._transaction():
            self._listings.clear()
            cur = self._db.execute(
                f"UPDATE templates SET {', '.join(sets)} WHERE id = ?", [*params, template_id]
            )
            if cur.rowcount == 0:
                return None
            if files is not None:
                self._db.execute("DELETE FROM template_files WHERE template_id = ?", (template_id,))
                self._db.executemany(
                    "INSERT INTO template_files VALUES (?, ?, ?, ?, ?, ?)",
                    _file_rows(template_id, files, now_iso()),
                )
            row = self._db.execute("SELECT * FROM templates WHERE id = ?", (template_id,))
            entity = self._entities([row.fetchone()])[0]
            self._db.execute(
                "UPDATE templates SET body = ? WHERE id = ?", (_dumps(entity), template_id)
            )
        return entity

    def delete_template(self, template_id: str) -> bool:
        """Delete a template and its files; False when there was none."""
        with self._lock, self._transaction():
            self._listings.clear()
            self._db.execute("DELETE FROM template_files WHERE template_id = ?", (template_id,))
            cur = self._db.execute("DELETE FROM templates WHERE id = ?", (template_id,))
            return cur.rowcount > 0

    def get_file(self, template_id: str, file_id: str) -> dict[str, Any] | None:
        """A template file as ``{id, filename, content}``, or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT id, name, content FROM template_files WHERE template_id = ? AND id = ?",
                (template_id, file_id),
            ).fetchone()
        if row is None:
            return None
        return {"id": row["id"], "filename": row["name"], **file_content(row["content"])}

    def template_files(self, template_id: str) -> list[dict[str, Any]]:
        """A template's files with their ids, names and creation times, in order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, name, created_at FROM template_files WHERE template_id = ?"
                " ORDER BY position",
                (template_id,),
            ).fetchall()
        return [dict(r) for r in rows]

    def _entities(self, rows: Sequence[sqlite3.Row]) -> list[dict[str, Any]]:
        ids = [r["id"] for r in rows]
        items: dict[str, list[dict[str, str]]] = {i: [] for i in ids}
        if ids:
            marks = ",".join("?" * len(ids))
            for f in self._db.execute(
                f"SELECT id, template_id, name FROM template_files WHERE template_id IN ({marks})"
                " ORDER BY template_id, position",
                ids,
            ):
                items[f["template_id"]].append({"id": f["id"], "name": f["name"]})
        return [
            {
                "id": r["id"],
                "name": r["name"],
                "description": r["description"],
                "templateType": r["template_type"],
                "templateSubType": r["template_sub_type"],
                "enabled": bool(r["enabled"]),
                "defaultResourceBundleId": r["default_resource_bundle_id"],
                "defaultEnvironment": json.loads(r["default_environment"]),
                "templateMetadata": json.loads(r["template_metadata"]),
                "items": items[r["id"]],
                "publisher": r["publisher"],
                "category": r["category"],
                "createdAt": r["created_at"],
                "updatedAt": r["updated_at"],
            }
            for r in rows
        ]

    # -- async jobs ---------------------------------------------------------------------------
    def insert_job(self, job: dict[str, Any]) -> None:
        """Store an async job (source creation in progress)."""
        with self._lock:
            self._db.execute(
                "INSERT INTO jobs VALUES (:id, :template_id, :role, :created, :created_ts,"
                " :delay_ms, :outcome, :source_id, :message)",
                job,
            )

    def get_job(self, job_id: str) -> dict[str, Any] | None:
        """An async job, or None."""
        with self._lock:
            row = self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else dict(row)

    def finish_job(self, job_id: str, source_id: str | None, message: str | None) -> bool:
        """Record a job's result; False when the job had already finished (nothing changes)."""
        with self._lock:
            return self.claim_job(job_id, source_id, message)

    def claim_job(self, job_id: str, source_id: str | None, message: str | None) -> bool:
        """Give an unfinished job its result (call under :attr:`lock`); False if it had one."""
        # Only an unfinished job takes a result: two polls racing to finish it make one source.
        cur = self._db.execute(
            "UPDATE jobs SET source_id = ?, message = ?"
            " WHERE id = ? AND source_id IS NULL AND message IS NULL",
            (source_id, message, job_id),
        )
        return cur.rowcount > 0

    # -- for the other stores on this database -------------------------------------------------
    @property
    def db(self) -> sqlite3.Connection:
        """The connection (use it under :attr:`lock`)."""
        return self._db

    @property
    def lock(self) -> threading.RLock:
        """The lock every use of the connection holds."""
        return self._lock

    def transaction(self) -> _Transaction:
        """``with store.lock, store.transaction():`` runs the block in one write transaction."""
        return _Transaction(self._db)

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *_: object) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")


def _file_rows(template_id: str, files: list[tuple[str, bytes]], created: str) -> list[tuple]:
    return [
        (new_id(), template_id, position, name, content, created)
        for position, (name, content) in enumerate(files)
    ]


def order_clause(
    order_by: str | None, columns: dict[str, str], default: str, prefix: str = ""
) -> str:
    """An ORDER BY clause for an API ``orderBy`` value (``-`` first: descending), rowid last."""
    tiebreak = f"{prefix}rowid"
    if not order_by:
        return f"{default}, {tiebreak}"
    descending = order_by.startswith("-")
    column = columns[order_by.lstrip("-")]
    direction = "DESC" if descending else "ASC"
    return f"{column} {direction}, {tiebreak} {direction}"


def _dumps(entity: dict[str, Any]) -> str:
    """An entity as compact JSON text, as the API sends it."""
    return json.dumps(entity, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _lower(value: SqlValue) -> SqlValue:
    return value.lower() if isinstance(value, str) else value


def file_content(content: bytes | str) -> dict[str, str]:
    """``{"content": text}``, or base64 with ``"encoding": "base64"`` for binary files (images)."""
    if isinstance(content, bytes):
        try:
            return {"content": content.decode("utf-8")}
        except UnicodeDecodeError:
            return {"content": base64.b64encode(content).decode("ascii"), "encoding": "base64"}
    return {"content": content}


def _private(path: Path) -> None:
    """Create ``path`` readable by its owner only, or make an existing one so."""
    if str(path) == ":memory:":
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
