"""SQLite records of jobs, mounts, images and the lease, so nothing is lost across restarts."""

from __future__ import annotations

import json
import os
import sqlite3
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
    loses nothing that an API call already answered.
    """

    KINDS = ("job", "mount", "image", "setting")

    def __init__(self, path: str):
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def put(self, kind: str, record_id: str, data: dict[str, Any]) -> None:
        assert kind in self.KINDS, kind
        self._db.execute(
            "INSERT INTO records (kind, id, created_at, data) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (kind, id) DO UPDATE SET data = excluded.data",
            (kind, record_id, int(data.get("created_at", 0)), json.dumps(data)),
        )

    def get(self, kind: str, record_id: str) -> dict[str, Any] | None:
        row = self._db.execute(
            "SELECT data FROM records WHERE kind = ? AND id = ?", (kind, record_id)
        ).fetchone()
        return json.loads(row[0]) if row else None

    def list(self, kind: str) -> list[dict[str, Any]]:
        """All records of a kind, newest first."""
        rows = self._db.execute(
            "SELECT data FROM records WHERE kind = ? ORDER BY created_at DESC, id", (kind,)
        ).fetchall()
        return [json.loads(r[0]) for r in rows]

    def delete(self, kind: str, record_id: str) -> None:
        self._db.execute("DELETE FROM records WHERE kind = ? AND id = ?", (kind, record_id))

    def close(self) -> None:
        self._db.close()
