"""Training logs of any length, read by byte offset from a local mirror of each task's log.

ModelArts serves a task's log by lines (``show_training_job_logs_from_aom``: at most 500 lines a
page, each page naming where the next one starts) and, once the job has ended, as an object in
its OBS log export. Our REST API reads by byte offset. Each task gets a file under the backend's
state dir that only ever grows: a reader asking past its end grows it from where it stops, so no
byte is fetched twice, however many readers follow the task or how often they ask. A log that is
still being written is asked for new lines at most once per interval. Once the job has ended,
the rest comes from its OBS export in large byte ranges (the exact bytes), when the export holds
what the mirror has so far and ends with the newest line the line API knows (else it may still
be uploading, and the line API goes on).

The raw log route streams a mirror whole or in part (``open``: a descriptor of its file, so an
eviction meanwhile never cuts a stream short) and the server's watcher asks its ``size``; both
bring it up to date first, a running task's no more than once per interval for all callers.

The mirrors are a cache: each is dropped when unused for ``ttl_s``, and the least recently used
go first once all of them hold more than ``max_bytes`` (the one being read stays, even alone
over the bound). A dropped mirror is fetched again if read again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Optional
from urllib.parse import quote, unquote

from ...models import LogChunk, log_piece
from ..base import LogFile

#: Lines per page of the line API: the most it allows.
PAGE_LINES = 500
#: Bytes per ranged read of an exported log: a few reads of the REST API at once.
OBS_CHUNK = 4 * 1024 * 1024
#: Bytes compared before the rest of a log is taken from its export instead of the line API.
_OVERLAP = 4096
#: A mirror grown to this many bytes holds everything its source has.
_ALL = 2**62

Pages = Callable[[Optional[str]], Awaitable[Optional["Page"]]]
Newest = Callable[[], Awaitable[Optional["Page"]]]
Exports = Callable[[], Awaitable[Optional["Export"]]]


@dataclass
class Page:
    """Lines of a log from the line API, as bytes (each line ends with a newline)."""

    data: bytes
    cursor: str | None  # where the next page starts (the last line's number)
    lines: int


@dataclass
class Export:
    """A task's log exported to OBS: its size and a reader of byte ranges ``[start, stop)``."""

    size: int
    read: Callable[[int, int], Awaitable[bytes]]


class _Mirror:
    def __init__(self, job_id: str, task: str, path: str):
        self.job_id = job_id
        self.task = task
        self.path = path
        self.meta_path = path[: -len(".log")] + ".json"
        self.size = 0
        self.cursor: str | None = None  # line API: where the next page starts
        # "lines" or "obs": once bytes of the export are here, the line cursor is stale.
        self.source = "lines"
        self.complete = False  # the task has ended and every byte of its log is here
        self.used = 0.0  # wall clock of the last read, for the TTL and the LRU order
        self.caught_up = float("-inf")  # monotonic time the source last had nothing more
        self.export: Export | None = None  # the OBS export, once adopted in this process
        self.export_tried = False
        self._lock: asyncio.Lock | None = None

    @property
    def lock(self) -> asyncio.Lock:
        if self._lock is None:  # made on the loop that uses it (Python 3.9 binds at creation)
            self._lock = asyncio.Lock()
        return self._lock

    @property
    def busy(self) -> bool:
        return self._lock is not None and self._lock.locked()

    def meta(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "cursor": self.cursor,
            "source": self.source,
            "complete": self.complete,
            "used": self.used,
        }


class TaskLogs:
    """The mirrors of every task's log, under ``root``."""

    def __init__(
        self,
        root: str,
        *,
        max_bytes: int,
        ttl_s: float,
        interval_s: float,
        log: logging.Logger | None = None,
    ):
        self.root = root
        self.max_bytes = max_bytes
        self.ttl_s = ttl_s
        self.interval_s = interval_s
        self.log = log or logging.getLogger(__name__)
        self._mirrors: OrderedDict[tuple[str, str], _Mirror] = OrderedDict()  # LRU first
        self._loaded = False

    @property
    def total_bytes(self) -> int:
        self._load()
        return sum(m.size for m in self._mirrors.values())

    def __contains__(self, key: tuple[str, str]) -> bool:
        self._load()
        return key in self._mirrors

    # -- reading -------------------------------------------------------------------------

    async def read(
        self,
        job_id: str,
        task: str,
        offset: int,
        limit: int,
        *,
        ended: bool,
        pages: Pages,
        newest: Newest | None = None,
        export: Exports | None = None,
    ) -> LogChunk:
        """At most ``limit`` bytes from ``offset``, fetching only what the mirror lacks.

        ``pages(cursor)`` gives the lines after ``cursor`` (None: from the first) and
        ``newest()`` the last line, each None when the job is gone; ``export()`` the ended
        job's OBS export, or None if it has none.
        """
        # log_piece needs a few bytes past the limit to end on a character boundary.
        want = offset + limit + 4
        async with self._filled(job_id, task, want, ended, pages, newest, export) as mirror:
            # Under the lock: eviction passes over a busy mirror, so its file stays.
            start = min(offset, mirror.size)
            data = b""
            if start < mirror.size:
                data = await asyncio.to_thread(
                    _read_at, mirror.path, start, min(limit + 4, mirror.size - start)
                )
            size, complete = mirror.size, mirror.complete
        piece = log_piece(data, limit, complete)
        end = start + len(piece)
        return LogChunk(
            task=task,
            offset=start,
            next_offset=end,
            size=size,
            content=piece.decode("utf-8", errors="replace"),
            complete=complete and end >= size,
        )

    async def open(
        self,
        job_id: str,
        task: str,
        *,
        ended: bool,
        pages: Pages,
        newest: Newest | None = None,
        export: Exports | None = None,
    ) -> LogFile:
        """The whole log as far as the source has it, to stream (a running task's source is
        asked at most once per interval); the caller closes it."""
        async with self._filled(job_id, task, _ALL, ended, pages, newest, export) as mirror:
            # Opened under the lock: the size is the file's, and the descriptor outlives an
            # eviction that deletes the file.
            return await asyncio.to_thread(LogFile.open, mirror.path, mirror.complete)

    async def size(
        self,
        job_id: str,
        task: str,
        *,
        ended: bool,
        pages: Pages,
        newest: Newest | None = None,
        export: Exports | None = None,
    ) -> int:
        """The log's size as far as the source has it (asked as :meth:`open` does)."""
        async with self._filled(job_id, task, _ALL, ended, pages, newest, export) as mirror:
            return mirror.size

    @contextlib.asynccontextmanager
    async def _filled(
        self,
        job_id: str,
        task: str,
        want: int,
        ended: bool,
        pages: Pages,
        newest: Newest | None,
        export: Exports | None,
    ) -> AsyncIterator[_Mirror]:
        """The task's mirror, locked, grown to ``want`` bytes where the source allows."""
        await self._load_off_loop()  # a folder scan, once per process
        mirror = self._mirror(job_id, task)
        async with mirror.lock:
            if not mirror.complete and mirror.size < want:
                if mirror.source == "obs":
                    await self._grow_from_export(mirror, want, newest, export)
                else:
                    await self._grow(mirror, want, ended, pages, newest, export)
            yield mirror
        self._evict(keep=mirror)

    async def _grow(
        self,
        mirror: _Mirror,
        want: int,
        ended: bool,
        pages: Pages,
        newest: Newest | None,
        export: Exports | None,
    ) -> None:
        if ended and export is not None and not mirror.export_tried:
            mirror.export_tried = True
            found = await self._adoptable(mirror, newest, export)
            if found is not None:
                mirror.source, mirror.export = "obs", found
                self._save(mirror)
                await self._grow_from_export(mirror, want, newest, export)
                return
        while mirror.size < want and not mirror.complete:
            # A live log asked again within the interval: nothing more was there just now.
            if not ended and time.monotonic() - mirror.caught_up < self.interval_s:
                return
            page = await pages(mirror.cursor)
            if page is None:  # the job is gone: what we have is all there will be
                mirror.caught_up = time.monotonic()
                mirror.complete = ended
                self._save(mirror)
                return
            if page.data:
                await self._append(mirror, page.data)
            if page.lines and page.cursor is not None:
                mirror.cursor = page.cursor
            last = page.lines < PAGE_LINES
            if last:
                mirror.caught_up = time.monotonic()
                mirror.complete = ended
            self._save(mirror)
            if last:
                return

    async def _adoptable(
        self, mirror: _Mirror, newest: Newest | None, export: Exports
    ) -> Export | None:
        """The ended task's OBS export if it starts with what the mirror holds and ends with
        the newest line the line API has; else None."""
        try:
            found = await export()
            if found is None or found.size < mirror.size:
                return None
            if mirror.size:
                start = max(0, mirror.size - _OVERLAP)
                ours = await asyncio.to_thread(_read_at, mirror.path, start, mirror.size - start)
                if await found.read(start, mirror.size) != ours:
                    return None  # the line API replaced a bad character: keep to it
            last = await newest() if newest is not None else None
            if last is not None and last.lines:
                # The line API ends each line with a newline; the export's last may have none.
                tail = await found.read(max(0, found.size - len(last.data)), found.size)
                if not (tail.endswith(last.data) or (tail + b"\n").endswith(last.data)):
                    return None  # an export older than the log: it may still be uploading
            return found
        except Exception as err:
            self.log.warning("log export of %s/%s unreadable: %s", mirror.job_id, mirror.task, err)
            return None

    async def _grow_from_export(
        self, mirror: _Mirror, want: int, newest: Newest | None, export: Exports | None
    ) -> None:
        if mirror.export is None:  # after a restart or a failure: checked again, per interval
            now = time.monotonic()
            if export is None or now - mirror.caught_up < self.interval_s:
                return
            mirror.caught_up = now
            mirror.export = await self._adoptable(mirror, newest, export)
            if mirror.export is None:
                return
        found = mirror.export
        try:
            while mirror.size < min(want, found.size):
                stop = min(found.size, max(want, mirror.size + OBS_CHUNK))
                data = await found.read(mirror.size, stop)
                if len(data) != stop - mirror.size:
                    raise OSError(f"got {len(data)} bytes of the export, not {stop - mirror.size}")
                await self._append(mirror, data)
                self._save(mirror)
        except Exception as err:
            self.log.warning("log export of %s/%s unreadable: %s", mirror.job_id, mirror.task, err)
            mirror.export = None
            return
        if mirror.size >= found.size:
            mirror.complete = True
            self._save(mirror)

    # -- the mirrors on disk ---------------------------------------------------------------

    def _mirror(self, job_id: str, task: str) -> _Mirror:
        self._load()
        key = (job_id, task)
        mirror = self._mirrors.get(key)
        if mirror is None:
            folder = os.path.join(self.root, _name(job_id))
            os.makedirs(folder, exist_ok=True)
            mirror = _Mirror(job_id, task, os.path.join(folder, _name(task) + ".log"))
            self._mirrors[key] = mirror
        self._mirrors.move_to_end(key)
        mirror.used = time.time()
        return mirror

    async def _load_off_loop(self) -> None:
        if not self._loaded:
            found = await asyncio.to_thread(self._scan)
            if not self._loaded:  # another reader did it meanwhile
                self._install(found)

    def _load(self) -> None:
        if not self._loaded:
            self._install(self._scan())

    def _install(self, found: list[_Mirror]) -> None:
        self._loaded = True
        for mirror in sorted(found, key=lambda m: m.used):
            self._mirrors[(mirror.job_id, mirror.task)] = mirror

    def _scan(self) -> list[_Mirror]:
        """The mirrors a previous run left, cut back to what their records vouch for."""
        found: list[_Mirror] = []
        with contextlib.suppress(FileNotFoundError):
            for job_dir in os.scandir(self.root):
                if job_dir.is_dir():
                    for entry in os.scandir(job_dir.path):
                        if entry.name.endswith(".json"):
                            mirror = self._from_disk(job_dir.name, entry.path)
                            if mirror is not None:
                                found.append(mirror)
        return found

    def _from_disk(self, job_dir: str, meta_path: str) -> _Mirror | None:
        path = meta_path[: -len(".json")] + ".log"
        try:
            with open(meta_path) as f:
                meta = json.load(f)
            size = int(meta["size"])
            with open(path, "r+b") as f:
                f.truncate(size)  # bytes appended after the record was last written
        except (OSError, ValueError, KeyError, TypeError):
            for leftover in (meta_path, path):
                with contextlib.suppress(OSError):
                    os.unlink(leftover)
            return None
        mirror = _Mirror(unquote(job_dir), unquote(os.path.basename(path)[: -len(".log")]), path)
        mirror.size = size
        mirror.cursor = meta.get("cursor")
        mirror.source = "obs" if meta.get("source") == "obs" else "lines"
        mirror.complete = bool(meta.get("complete"))
        mirror.used = float(meta.get("used") or 0.0)
        return mirror

    async def _append(self, mirror: _Mirror, data: bytes) -> None:
        await asyncio.to_thread(_append_to, mirror.path, data)
        mirror.size += len(data)

    def _save(self, mirror: _Mirror) -> None:
        # Written after the bytes it vouches for, atomically.
        temp = mirror.meta_path + ".tmp"
        with open(temp, "w") as f:
            json.dump(mirror.meta(), f)
        os.replace(temp, mirror.meta_path)

    async def forget(self, job_id: str) -> None:
        """Drop every mirror of a job (it was deleted)."""
        await self._load_off_loop()
        for key in [k for k in self._mirrors if k[0] == job_id]:
            self._drop(self._mirrors[key])
        await asyncio.to_thread(
            shutil.rmtree, os.path.join(self.root, _name(job_id)), ignore_errors=True
        )

    def _evict(self, keep: _Mirror) -> None:
        now = time.time()
        total = self.total_bytes
        for mirror in list(self._mirrors.values()):
            if now - mirror.used <= self.ttl_s and total <= self.max_bytes:
                break  # the rest were used more recently
            if mirror is keep or mirror.busy:
                continue
            total -= mirror.size
            self._drop(mirror)

    def _drop(self, mirror: _Mirror) -> None:
        self._mirrors.pop((mirror.job_id, mirror.task), None)
        for path in (mirror.path, mirror.meta_path):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        with contextlib.suppress(OSError):
            os.rmdir(os.path.dirname(mirror.path))  # only once no other task is left in it


def _read_at(path: str, start: int, size: int) -> bytes:
    with open(path, "rb") as f:
        f.seek(start)
        return f.read(size)


def _append_to(path: str, data: bytes) -> None:
    with open(path, "ab") as f:
        f.write(data)


def _name(text: str) -> str:
    """A job id or task name as one file name: never a path, never '.' or '..'."""
    return quote(text, safe="").replace(".", "%2E")
