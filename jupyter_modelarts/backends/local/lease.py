"""The local auto-stop lease: a real timer whose stop time survives restarts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from ...models import Conflict, Lease, now_ms
from ...store import Store

_RECORD = "lease"


class LeaseTimer:
    """Stops the server at ``stop_at`` (epoch ms) unless renewed; the stop time is in the store."""

    def __init__(
        self, store: Store, *, enabled: bool, duration_s: float, on_expire: Callable[[str], None]
    ):
        self.store = store
        self.enabled = enabled
        self.duration_s = duration_s
        self.on_expire = on_expire
        self._handle: asyncio.TimerHandle | None = None

    def _record(self) -> dict | None:
        return self.store.get("setting", _RECORD)

    def start(self) -> None:
        if not self.enabled:
            return
        record = self._record()
        if record is None or record["stop_at"] <= now_ms():
            # A server that starts after its stop time was stopped: like a ModelArts start, the
            # lease begins anew.
            record = self._write(self.duration_s)
        self._schedule(record["stop_at"])

    def close(self) -> None:
        if self._handle:
            self._handle.cancel()

    def _write(self, duration_s: float) -> dict:
        now = now_ms()
        record = {
            "created_at": 0,
            "renewed_at": now,
            "duration_s": duration_s,
            "stop_at": now + int(duration_s * 1000),
        }
        self.store.put("setting", _RECORD, record)
        return record

    def _schedule(self, stop_at: int) -> None:
        if self._handle:
            self._handle.cancel()
        delay = max(0.0, stop_at / 1000 - time.time())
        self._handle = asyncio.get_running_loop().call_later(delay, self._fire)

    def _fire(self) -> None:
        record = self._record()
        if record and record["stop_at"] > now_ms():  # renewed by another path meanwhile
            self._schedule(record["stop_at"])
            return
        stop_at = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record["stop_at"] / 1000))
        self.on_expire(f"auto-stop: the lease ran out at {stop_at}; renew it to keep working")

    def get(self) -> Lease:
        record = self._record() if self.enabled else None
        if record is None:
            return Lease(enabled=False)
        return Lease(
            enabled=True,
            type="TIMING",
            duration_s=int(record["duration_s"]),
            renewed_at=record["renewed_at"],
            stop_at=record["stop_at"],
            remaining_s=max(0.0, (record["stop_at"] - now_ms()) / 1000),
        )

    def renew(self, duration_s: int) -> Lease:
        if not self.enabled:
            raise Conflict(
                "auto-stop is off on this server; there is no lease to renew "
                "(enable it with c.LocalBackend.auto_stop_enabled = True)",
                field="duration_s",
            )
        record = self._write(duration_s)
        self._schedule(record["stop_at"])
        return self.get()
