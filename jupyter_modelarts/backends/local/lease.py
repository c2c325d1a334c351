"""The local auto-stop lease, of either kind, whose state survives restarts.

TIMING: a real timer stops the server at ``stop_at`` unless renewed. IDLE: a background loop
looks at the server's kernels, terminals, jobs and browser activity (see ``activity.py``) and
stops it once nothing happened for ``duration_s``. The store keeps the kind, the duration, the
stop time and the last activity.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from ...activity import Activity
from ...models import Conflict, Lease, now_ms
from ...store import Store

_RECORD = "lease"
#: Seconds between looks at what is going on, at most (a quarter of a short period).
IDLE_LOOK_S = 15.0
#: The last activity is written to the store when it moved by this much (not at every look).
_PERSIST_MS = 30_000


def _clock(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ms / 1000))


class LeaseTimer:
    """Stops the server when the lease runs out: at ``stop_at`` (TIMING), or after
    ``duration_s`` without activity (IDLE)."""

    def __init__(
        self,
        store: Store,
        *,
        enabled: bool,
        duration_s: float,
        on_expire: Callable[[str], None],
        kind: str = "TIMING",
        activity: Activity | None = None,
        live_jobs: Callable[[], bool] = lambda: False,
        log: Any = None,
    ):
        self.store = store
        self.enabled = enabled
        self.duration_s = duration_s
        self.kind = kind  # the configured kind, for a lease that begins anew
        self.on_expire = on_expire
        self.activity = activity or Activity(None)
        self.live_jobs = live_jobs  # blocking (a store query): called in a thread
        self.log = log
        self._handle: asyncio.TimerHandle | None = None
        self._idle_task: asyncio.Task | None = None
        self._stopping = False
        self._busy: list[str] = []
        self._last_activity = 0  # IDLE: epoch ms of the latest activity seen
        self._failing: str | None = None

    def _record(self) -> dict | None:
        return self.store.get("setting", _RECORD)

    def start(self) -> None:
        if not self.enabled:
            return
        record = self._record()
        if record is None or record.get("configured", "TIMING") != self.kind:
            record = self._write(self.duration_s, self.kind)
        elif self._over(record):
            # A server that starts after its lease ran out was stopped: like a ModelArts start,
            # the lease begins anew, of the kind last chosen.
            record = self._write(self.duration_s, record.get("type", "TIMING"))
        self._run(record)

    def close(self) -> None:
        self._stopping = True  # the idle loop ends on it even if a cancel is swallowed
        if self._handle:
            self._handle.cancel()
        if self._idle_task:
            self._idle_task.cancel()

    @staticmethod
    def _over(record: dict) -> bool:
        if record.get("type", "TIMING") == "IDLE":
            return record["last_activity"] + record["duration_s"] * 1000 <= now_ms()
        return record["stop_at"] <= now_ms()

    def _write(self, duration_s: float, kind: str) -> dict:
        now = now_ms()
        record = {
            "created_at": 0,
            "type": kind,
            "configured": self.kind,
            "renewed_at": now,
            "duration_s": duration_s,
            "stop_at": now + int(duration_s * 1000) if kind == "TIMING" else None,
            "last_activity": now,  # a renewal is activity
        }
        self.store.put("setting", _RECORD, record)
        return record

    def _run(self, record: dict) -> None:
        """Follow the lease of ``record``: its timer (TIMING) or the idle loop (IDLE)."""
        if self._handle:
            self._handle.cancel()
            self._handle = None
        if record.get("type", "TIMING") == "TIMING":
            self._schedule(record["stop_at"])
            return
        self._busy = []
        self._last_activity = record["last_activity"]
        if self._idle_task is None or self._idle_task.done():
            self._idle_task = asyncio.get_running_loop().create_task(self._watch_idle())

    # -- TIMING ------------------------------------------------------------------------------

    def _schedule(self, stop_at: int) -> None:
        if self._handle:
            self._handle.cancel()
        delay = max(0.0, stop_at / 1000 - time.time())
        self._handle = asyncio.get_running_loop().call_later(delay, self._fire)

    def _fire(self) -> None:
        record = self._record()
        if not record or record.get("type", "TIMING") != "TIMING":
            return  # switched to IDLE meanwhile
        if record["stop_at"] > now_ms():  # renewed by another path meanwhile
            self._schedule(record["stop_at"])
            return
        self.on_expire(
            f"auto-stop: the lease ran out at {_clock(record['stop_at'])}; renew it to keep working"
        )

    # -- IDLE --------------------------------------------------------------------------------

    async def _watch_idle(self) -> None:
        """Look at what goes on until the period passes idle (then stop the server), the
        lease turns TIMING, or the server stops. A failing look is logged and tried again; the
        server never stops on one (what it would miss might be busy)."""
        why = "the server stops"
        try:
            while not self._stopping:
                period_s = min(IDLE_LOOK_S, max(0.25, self.duration_s / 4))
                try:
                    record = self._record()
                    if not record or record.get("type") != "IDLE":
                        why = "the lease is no longer IDLE"
                        break
                    period_s = min(IDLE_LOOK_S, max(0.25, record["duration_s"] / 4))
                    await self._look(int(record["duration_s"] * 1000))
                except Exception as err:
                    reason = f"{type(err).__name__}: {err}"
                    if reason != self._failing and self.log:
                        self.log.exception("jupyter_modelarts: looking for activity failed")
                    self._failing = reason
                else:
                    if self._failing is not None and self.log:
                        self.log.info("jupyter_modelarts: looking for activity works again")
                    self._failing = None
                    idle_since = self._idle_since()
                    if not self._busy and idle_since + record["duration_s"] * 1000 <= now_ms():
                        why = "the instance was idle for the whole period"
                        self._stopping = True
                        self.on_expire(
                            f"auto-stop: idle for {record['duration_s']:g} s, since "
                            f"{_clock(idle_since)} (no kernel running, no job, no terminal or "
                            "browser activity); renew the lease to keep working"
                        )
                        return
                await asyncio.sleep(period_s)
        finally:
            if self.log:
                self.log.info("jupyter_modelarts: idle auto-stop check ended: %s", why)

    async def _look(self, period_ms: int) -> None:
        busy, seen = self.activity.look(recent_ms=min(10_000, period_ms // 4))
        if await asyncio.to_thread(self.live_jobs):
            busy.append("job")
        now = now_ms()
        if busy:
            seen = now
        if self._busy and not busy:
            seen = max(seen or 0, now)  # busy until this look: idle from now
        if seen is not None and seen > self._last_activity:
            self._last_activity = seen
        self._busy = busy
        latest = self._record()  # read again: a renewal may have come meanwhile
        if (
            latest
            and latest.get("type") == "IDLE"
            and self._idle_since() - latest["last_activity"] >= min(_PERSIST_MS, period_ms // 4)
        ):
            # Kept for a restart (a server back within the period goes on counting); a small
            # write, seldom, on the loop so that no renewal can come between read and write.
            self.store.put("setting", _RECORD, {**latest, "last_activity": self._idle_since()})

    def _idle_since(self) -> int:
        return max(self._last_activity, self.activity.browser_at or 0)

    def activity_seen(self) -> None:
        """The browser saw the user act (``POST /activity``)."""
        self.activity.browser_seen()

    # -- the API -----------------------------------------------------------------------------

    def get(self) -> Lease:
        record = self._record() if self.enabled else None
        if record is None:
            return Lease(enabled=False)
        if record.get("type", "TIMING") == "TIMING":
            return Lease(
                enabled=True,
                type="TIMING",
                duration_s=int(record["duration_s"]),
                renewed_at=record["renewed_at"],
                stop_at=record["stop_at"],
                remaining_s=max(0.0, (record["stop_at"] - now_ms()) / 1000),
            )
        busy = list(self._busy)
        idle_since = None if busy else max(self._idle_since(), record["last_activity"])
        stop_at = None if idle_since is None else idle_since + int(record["duration_s"] * 1000)
        return Lease(
            enabled=True,
            type="IDLE",
            duration_s=int(record["duration_s"]),
            renewed_at=record["renewed_at"],
            stop_at=stop_at,
            remaining_s=None if stop_at is None else max(0.0, (stop_at - now_ms()) / 1000),
            idle_since=idle_since,
            busy=busy,
        )

    def renew(self, duration_s: int, kind: str | None = None) -> Lease:
        """Renew from now, for ``duration_s`` (TIMING) or with that idle period (IDLE);
        ``kind`` None keeps the current kind."""
        if not self.enabled:
            raise Conflict(
                "auto-stop is off on this server; there is no lease to renew "
                "(enable it with c.LocalBackend.auto_stop_enabled = True)",
                field="duration_s",
            )
        current = (self._record() or {}).get("type", "TIMING")
        record = self._write(duration_s, kind or current)
        self._run(record)
        return self.get()
