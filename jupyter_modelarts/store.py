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
"""


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
            query += f" AND json_extract(data, '$.phase') IN ({','.join('?' * len(phases))})"
        with self._db_lock:
            rows = self._db.execute(query + " ORDER BY created_at DESC, id", (kind, *phases))
            texts = [r[0] for r in rows.fetchall()]
        return [json.loads(text) for text in texts]

    def delete(self, kind: str, record_id: str) -> None:
        with self._db_lock:
            self._db.execute("DELETE FROM records WHERE kind = ? AND id = ?", (kind, record_id))

    def close(self) -> None:
        self._db.close()
        self._lock.close()


class StoreInUse(RuntimeError):
    """Another live server holds this store."""
