"""SQLite records of jobs, mounts, images and the lease, so nothing is lost across restarts."""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE INDEX IF NOT EXISTS records_by_time ON records (kind, created_at);
CREATE INDEX IF NOT EXISTS records_by_phase ON records (kind, json_extract(data, '$.phase'));
"""
# The same expression as the index's, so filters by phase use it (the watcher asks every tick).
_PHASE = "json_extract(data, '$.phase')"
_WORKSPACE = "COALESCE(json_extract(data, '$.spec.workspace_id'), '0')"
# Orders of a page (see page()): an expression of the record, its collation, and whether a
# record may lack it.
_ORDERS = {
    "created": ("created_at", "", False),
    "name": ("json_extract(data, '$.name')", " COLLATE NOCASE", True),
    "phase": (_PHASE, "", True),
    # A running job's duration counts to now (a parameter); one never started has none.
    "duration": (
        "COALESCE(json_extract(data, '$.ended_at'), ?) - json_extract(data, '$.started_at')",
        "",
        True,
    ),
}


class Store:
    """Documents keyed by (kind, id), each a JSON object with a ``created_at`` in epoch ms.

    Writes are small and commit at once (WAL, synchronous=NORMAL), so a ``kill -9`` of the server
    loses nothing that an API call already answered. Worker threads share the one connection
    (big lists are read off the event loop), so each statement holds a lock.
    """

    KINDS = ("job", "mount", "image", "setting")

    def __init__(self, path: str):
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        self.path = path
        # One server per store: two would both follow and launch the same jobs. The kernel drops
        # the lock when the holder dies, even by kill -9.
        self._lock = open(path + ".lock", "a+")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.seek(0)
            holder = self._lock.read().strip() or "another process"
            self._lock.close()
            raise StoreInUse(
                f"{os.path.dirname(path)} is in use by another Jupyter server ({holder}); give "
                "this one its own c.ModelArtsApp.state_dir"
            ) from None
        self._lock.truncate(0)
        self._lock.write(f"pid {os.getpid()}")
        self._lock.flush()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._db_lock = threading.Lock()

    def put(self, kind: str, record_id: str, data: dict[str, Any]) -> None:
        assert kind in self.KINDS, kind
        with self._db_lock:
            self._db.execute(
                "INSERT INTO records (kind, id, created_at, data) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (kind, id) DO UPDATE SET data = excluded.data",
                (kind, record_id, int(data.get("created_at", 0)), json.dumps(data)),
            )

    def get(self, kind: str, record_id: str) -> dict[str, Any] | None:
        with self._db_lock:
            row = self._db.execute(
                "SELECT data FROM records WHERE kind = ? AND id = ?", (kind, record_id)
            ).fetchone()
        return json.loads(row[0]) if row else None

    def list(self, kind: str, *, phases: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        """Records of a kind, newest first; with ``phases``, only those in one of them."""
        query = "SELECT data FROM records WHERE kind = ?"
        if phases:
            query += f" AND {_PHASE} IN ({','.join('?' * len(phases))})"
        with self._db_lock:
            rows = self._db.execute(query + " ORDER BY created_at DESC, id", (kind, *phases))
            texts = [r[0] for r in rows.fetchall()]
        return [json.loads(text) for text in texts]

    def page(
        self,
        kind: str,
        fields: dict[str, str],
        *,
        phases: tuple[str, ...] = (),
        workspace: str | None = None,
        exclude: tuple[str, ...] = (),
        sort: str = "created",
        descending: bool = True,
        offset: int = 0,
        limit: int = -1,
        now: int = 0,
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of the records of a kind, each only the ``fields`` (name → JSON path of a
        scalar), and how many records match: with ``phases``, those in one of them; with
        ``workspace``, those of that workspace (a record without one is of the default "0");
        less the ids in ``exclude``. Ordered by ``sort`` (see _ORDERS; ``now`` for a duration
        still growing), then by creation time and id the same way, so pages never overlap;
        records without the sort's value come last. ``limit`` -1 is no limit."""
        where = "kind = ?"
        args: list[Any] = [kind]
        if phases:
            where += f" AND {_PHASE} IN ({','.join('?' * len(phases))})"
            args += phases
        if workspace is not None:
            where += f" AND {_WORKSPACE} = ?"
            args.append(workspace)
        if exclude:
            where += " AND id NOT IN (SELECT value FROM json_each(?))"
            args.append(json.dumps(list(exclude)))
        expression, collation, nullable = _ORDERS[sort]
        way = "DESC" if descending else "ASC"
        last = f"({expression}) IS NULL, " if nullable else ""
        order = f"{last}{expression}{collation} {way}, created_at {way}, id {way}"
        order_args = [now] * order.count("?")
        select = ", ".join("?, json_extract(data, ?)" for _ in fields)
        select_args = [item for pair in fields.items() for item in pair]
        with self._db_lock:
            (total,) = self._db.execute(
                f"SELECT COUNT(*) FROM records WHERE {where}", args
            ).fetchone()
            ids = self._db.execute(
                f"SELECT id FROM records WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?",
                (*args, *order_args, limit, offset),
            ).fetchall()
            # The fields only of the page's records (a sort never reads them all).
            found = self._db.execute(
                f"SELECT id, json_object({select}) FROM records "
                "WHERE kind = ? AND id IN (SELECT value FROM json_each(?))",
                (*select_args, kind, json.dumps([i for (i,) in ids])),
            ).fetchall()
        by_id = dict(found)
        return [json.loads(by_id[i]) for (i,) in ids], total

    def delete(self, kind: str, record_id: str) -> None:
        with self._db_lock:
            self._db.execute("DELETE FROM records WHERE kind = ? AND id = ?", (kind, record_id))

    def close(self) -> None:
        # After the statement a worker thread may still be running (its task was cancelled at
        # shutdown, its thread was not): closing under it crashed sqlite (a segfault on 3.9).
        with self._db_lock:
            self._db.close()
        self._lock.close()


class StoreInUse(RuntimeError):
    """Another live server holds this store."""
