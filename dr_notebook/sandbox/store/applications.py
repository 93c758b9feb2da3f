"""Storage of custom applications: state columns plus a JSON body (API fields, history, log)."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dr_notebook.sandbox.store.database import Store, now_iso, order_clause
from dr_notebook.sandbox.store.sources import SourceStore

APPLICATION_ORDER = {
    "name": "name COLLATE NOCASE",
    "createdAt": "created_at",
    "updatedAt": "updated_at",
}
# Statuses of an application whose process (real or simulated) should be up.
LIVE_STATUSES = ("building", "running")


@dataclass
class AppRecord:
    """One stored application: the columns the sandbox acts on and the JSON body."""

    id: str
    name: str
    source_id: str | None
    version_id: str
    status: str
    status_id: str
    role: str
    run_id: str
    ready_ts: float | None
    port: int | None
    created_at: str
    updated_at: str
    body: dict[str, Any]

    @property
    def api(self) -> dict[str, Any]:
        """The application as the API shows it (without the caller's permissions)."""
        return {
            "id": self.id,
            "name": self.name,
            "customApplicationSourceId": self.source_id,
            "customApplicationSourceVersionId": self.version_id,
            "status": self.status,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            **self.body["fields"],
            "buildError": self.body.get("buildError"),
        }


class ApplicationStore:
    """Applications on the shared Store; every change is one transaction."""

    def __init__(self, store: Store, sources: SourceStore) -> None:
        self.store = store
        self.sources = sources

    def insert(self, record: AppRecord, *, freeze: bool = True) -> None:
        """Store a new application (and freeze the version it is built from)."""
        with self.store.lock, self.store.transaction():
            if freeze:
                self.sources.freeze(record.version_id)
            self.store.db.execute(
                "INSERT INTO applications VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                _row(record),
            )

    def get(self, app_id: str) -> AppRecord | None:
        """One application, or None."""
        return self._one("SELECT * FROM applications WHERE id = ?", app_id)

    def by_status_id(self, status_id: str) -> AppRecord | None:
        """The application an async creation status belongs to, or None."""
        return self._one("SELECT * FROM applications WHERE status_id = ?", status_id)

    def list(
        self,
        *,
        name: str | None,
        source_id: str | None,
        status: str | None,
        order_by: str | None,
        offset: int,
        limit: int,
    ) -> tuple[list[AppRecord], int]:
        """A page of applications matching the filters, and how many match."""
        self.promote_due()
        where, params = [], []
        if name:
            where.append("instr(py_lower(name), ?) > 0")
            params.append(name.lower())
        if source_id:
            where.append("source_id = ?")
            params.append(source_id)
        if status:
            where.append("status = ?")
            params.append(status)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        order = order_clause(order_by, APPLICATION_ORDER, "created_at")
        db = self.store.db
        with self.store.lock:
            total = db.execute(f"SELECT count(*) FROM applications {clause}", params).fetchone()[0]
            rows = db.execute(
                f"SELECT * FROM applications {clause} ORDER BY {order} LIMIT ? OFFSET ?",
                [*params, limit, offset],
            ).fetchall()
        return [_record(r) for r in rows], total

    def name_in_use(self, name: str) -> bool:
        """Whether an application has exactly this name."""
        with self.store.lock:
            found = self.store.db.execute(
                "SELECT 1 FROM applications WHERE name = ? LIMIT 1", (name,)
            ).fetchone()
        return found is not None

    def modify(
        self, app_id: str, change: Callable[[AppRecord], object], *, freeze: str | None = None
    ) -> AppRecord | None:
        """Apply ``change`` to the stored application and write it back, in one transaction
        (freezing the version ``freeze`` with it); the changed record, or None if it is gone."""
        with self.store.lock, self.store.transaction():
            row = self.store.db.execute(
                "SELECT * FROM applications WHERE id = ?", (app_id,)
            ).fetchone()
            if row is None:
                return None
            record = _record(row)
            before = _row(record)
            change(record)
            record.updated_at = now_iso()
            if freeze is not None:
                self.sources.freeze(freeze)
            # Only the columns the change touched: nothing else is written back.
            after = zip(_COLUMNS, _row(record), before, strict=True)
            changed = {column: new for column, new, old in after if new != old}
            changed.pop("id", None)
            assignments = ", ".join(f"{column} = ?" for column in changed)
            self.store.db.execute(
                f"UPDATE applications SET {assignments} WHERE id = ?",
                (*changed.values(), app_id),
            )
        return record

    def report(
        self, app_id: str, run_id: str, status: str, build_error: str | None, build_log: str
    ) -> bool:
        """Record what a run reached, unless the application has started another run since."""
        with self.store.lock, self.store.transaction():
            row = self.store.db.execute(
                "SELECT * FROM applications WHERE id = ? AND run_id = ?", (app_id, run_id)
            ).fetchone()
            if row is None:
                return False
            record = _record(row)
            record.status = status
            record.body["buildError"] = build_error
            record.body["buildLog"] = build_log
            record.updated_at = now_iso()
            self.store.db.execute(
                "UPDATE applications SET status = ?, updated_at = ?, body = ? WHERE id = ?",
                (status, record.updated_at, json.dumps(record.body), app_id),
            )
        return True

    def delete(self, app_id: str) -> bool:
        """Forget an application; False when there was none."""
        with self.store.lock:
            cur = self.store.db.execute("DELETE FROM applications WHERE id = ?", (app_id,))
        return cur.rowcount > 0

    def promote_due(self) -> None:
        """Simulated applications whose start delay has passed are running now."""
        with self.store.lock:
            self.store.db.execute(
                "UPDATE applications SET status = 'running', updated_at = ?"
                " WHERE status = 'building' AND ready_ts IS NOT NULL AND ready_ts <= ?",
                (now_iso(), time.time()),
            )

    def stop_live(self) -> list[str]:
        """At start-up: nothing runs yet, so live applications are stopped; their ids."""
        marks = ",".join("?" * len(LIVE_STATUSES))
        with self.store.lock, self.store.transaction():
            ids = [r[0] for r in self.store.db.execute(
                f"SELECT id FROM applications WHERE status IN ({marks})", LIVE_STATUSES
            )]  # fmt: skip
            self.store.db.execute(
                f"UPDATE applications SET status = 'stopped' WHERE status IN ({marks})",
                LIVE_STATUSES,
            )
        return ids

    def _one(self, query: str, key: str) -> AppRecord | None:
        self.promote_due()
        with self.store.lock:
            row = self.store.db.execute(query, (key,)).fetchone()
        return None if row is None else _record(row)


_COLUMNS = (
    "id", "name", "source_id", "version_id", "status", "status_id", "role", "run_id",
    "ready_ts", "port", "created_at", "updated_at", "body",
)  # fmt: skip


def _row(r: AppRecord) -> tuple[Any, ...]:
    return (
        r.id, r.name, r.source_id, r.version_id, r.status, r.status_id, r.role, r.run_id,
        r.ready_ts, r.port, r.created_at, r.updated_at, json.dumps(r.body),
    )  # fmt: skip


def _record(row: sqlite3.Row) -> AppRecord:
    return AppRecord(
        id=row["id"],
        name=row["name"],
        source_id=row["source_id"],
        version_id=row["version_id"],
        status=row["status"],
        status_id=row["status_id"],
        role=row["role"],
        run_id=row["run_id"],
        ready_ts=row["ready_ts"],
        port=row["port"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        body=json.loads(row["body"]),
    )
