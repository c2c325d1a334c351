"""Local files sent to OBS: one read pass for their MD5s, bodies streamed from disk, and the
changed-files uploader.

Files go up streamed from disk: their MD5 is taken on worker threads in one read pass (the
whole file's and, for a multipart upload, each part's), and bodies are read a chunk at a time as
httpx sends them, so memory stays at a few chunks per transfer whatever the file size.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import queue
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO, Union

from ...models import InvalidRequest, NotFound, ObsUri
from ..snapshot import in_pool

if TYPE_CHECKING:
    from .obs import ObsClient

MiB = 1024 * 1024
#: Bytes per read, both when hashing and when feeding a request body.
CHUNK = MiB
#: OBS allows 10,000 parts and at least 100 KB in each part but the last.
MAX_PARTS = 10_000
MIN_PART_SIZE = 100 * 1024

# MD5 passes are CPU-bound (hashlib frees the GIL), body reads are short: each on its own threads,
# so a long hash never delays the next chunk of a body being sent.
HASH_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ma-obs-hash")
_READ_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="ma-obs-read")

#: A request body: bytes, or a factory making a fresh chunk stream for every attempt.
Body = Union[bytes, Callable[[], AsyncIterator[bytes]], None]


@dataclass
class FileDigest:
    """One read pass over a file: its size and MD5 and, when it goes up in parts, each part's
    MD5; a file of at most one chunk also keeps its bytes, so it is never read twice."""

    size: int
    md5: bytes
    part_size: int | None = None
    parts: list[bytes] = field(default_factory=list)
    data: bytes | None = None

    @property
    def hex(self) -> str:
        return self.md5.hex()


def digest_file(path: str, part_size_for: Callable[[int], int | None]) -> FileDigest:
    """Hash ``path`` (on a worker thread: this blocks) with ``part_size_for(size)`` as the part
    size, None for a single PUT."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        part_size = part_size_for(size)
        if size <= CHUNK:
            data = f.read(CHUNK + 1)
            if len(data) != size:
                raise changed_while_read(path)
            md5 = hashlib.md5(data).digest()
            return FileDigest(size, md5, part_size, [md5] if part_size else [], data)
        whole = hashlib.md5()
        parts = _PartHasher(part_size) if part_size else None
        total = 0
        try:
            while True:
                chunk = f.read(CHUNK)
                if not chunk:
                    break
                total += len(chunk)
                if parts:
                    parts.feed(chunk)
                whole.update(chunk)
        finally:
            digests = parts.finish() if parts else []
    if total != size:
        raise changed_while_read(path)
    return FileDigest(size, whole.digest(), part_size, digests)


class _PartHasher:
    """Part MD5s on a thread of their own, fed the chunks the whole-file MD5 reads: the one
    pass then takes about the time of one MD5, not two (hashlib frees the GIL)."""

    def __init__(self, part_size: int):
        self.part_size = part_size
        self.digests: list[bytes] = []
        self.queue: queue.Queue[bytes | None] = queue.Queue(maxsize=4)
        self.thread = threading.Thread(target=self._run, name="ma-obs-part-md5", daemon=True)
        self.thread.start()

    def feed(self, chunk: bytes) -> None:
        self.queue.put(chunk)

    def finish(self) -> list[bytes]:
        self.queue.put(None)
        self.thread.join()
        return self.digests

    def _run(self) -> None:
        part, filled = hashlib.md5(), 0
        while True:
            chunk = self.queue.get()
            if chunk is None:
                break
            view = memoryview(chunk)
            while view:
                take = min(len(view), self.part_size - filled)
                part.update(view[:take])
                filled += take
                view = view[take:]
                if filled == self.part_size:
                    self.digests.append(part.digest())
                    part, filled = hashlib.md5(), 0
        if filled:
            self.digests.append(part.digest())


def changed_while_read(path: str) -> InvalidRequest:
    return InvalidRequest(f"{path} changed while it was being uploaded; submit again")


def _read_at(f: BinaryIO, offset: int, n: int) -> bytes:
    f.seek(offset)
    return f.read(n)


def file_body(
    path: str, offset: int, length: int, sent: Callable[[int], None] | None = None
) -> Callable[[], AsyncIterator[bytes]]:
    """A body factory streaming ``length`` bytes of ``path`` from ``offset``, read a chunk at a
    time off the event loop; ``sent(n)`` is told of each chunk handed to httpx."""

    async def chunks() -> AsyncIterator[bytes]:
        f = await in_pool(_READ_POOL, open, path, "rb")
        try:
            done = 0
            while done < length:
                data = await in_pool(
                    _READ_POOL, _read_at, f, offset + done, min(CHUNK, length - done)
                )
                if not data:
                    raise changed_while_read(path)
                done += len(data)
                if sent:
                    sent(len(data))
                yield data
        finally:
            f.close()

    return chunks


@dataclass
class UploadResult:
    uploaded: int
    skipped: int  # already at their key with the same MD5
    bytes_uploaded: int
    copied: int = 0  # copied within OBS from ``reuse``
    #: rel -> MD5 (hex) of every file now at the destination.
    md5s: dict[str, str] = field(default_factory=dict, compare=False)


async def upload_dir(
    obs: ObsClient,
    local_dir: str,
    files: list[str],
    dest: ObsUri,
    *,
    sources: Mapping[str, str] | None = None,
    progress: Callable[[int, int, int, int], None] | None = None,
    concurrency: int = 4,
    reuse: Mapping[str, str] | None = None,
    check_existing: bool = True,
) -> UploadResult:
    """Upload ``local_dir/<rel>`` to ``dest.key + rel`` for each rel; ``sources`` names another
    file of ``local_dir`` to read for a rel (a symlink's target).

    A file is not sent when ``check_existing`` finds it at its key already (a listed ETag equal
    to its MD5), nor when ``reuse`` (MD5 -> key in ``dest.bucket``) has its bytes: those are
    copied within OBS. ``progress(files done, files, bytes done, bytes)`` follows sent bytes.
    """
    sources = sources or {}
    reuse = reuse or {}
    for rel in files:
        parts = rel.split("/")
        if rel.startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise InvalidRequest(f"{rel!r} is not a relative path inside {local_dir}")
    sizes = await asyncio.to_thread(
        lambda: [
            os.path.getsize(os.path.join(local_dir, *sources.get(rel, rel).split("/")))
            for rel in files
        ]
    )
    total_bytes = sum(sizes)
    remote = await obs.list_objects(dest.bucket, dest.key) if check_existing else {}
    result = UploadResult(uploaded=0, skipped=0, bytes_uploaded=0)
    done = bytes_done = 0
    if progress:
        progress(0, len(files), 0, total_bytes)
    semaphore = asyncio.Semaphore(concurrency)

    def advance(n: int) -> None:
        nonlocal bytes_done
        bytes_done += n
        if progress:
            progress(done, len(files), bytes_done, total_bytes)

    async def one(rel: str, size: int) -> None:
        nonlocal done
        key = dest.key + rel
        streamed = 0

        def sent(n: int) -> None:
            nonlocal streamed
            streamed += n
            advance(n)

        async with semaphore:
            source = os.path.join(local_dir, *sources.get(rel, rel).split("/"))
            digest = await in_pool(HASH_POOL, digest_file, source, obs.part_size_for)
            result.md5s[rel] = digest.hex
            if remote.get(key) == digest.hex:
                result.skipped += 1
            elif digest.hex in reuse and await _copied(obs, dest.bucket, reuse[digest.hex], key):
                result.copied += 1
            else:
                await obs.upload_file(dest.bucket, key, source, digest=digest, progress=sent)
                result.uploaded += 1
                result.bytes_uploaded += digest.size
        done += 1
        advance(size - streamed)

    await all_or_none([one(rel, size) for rel, size in zip(files, sizes)])
    return result


async def all_or_none(coroutines: list[Awaitable[None]]) -> None:
    """Run them together; the first failure (or our cancellation) stops the others before it
    propagates, so no transfer goes on behind an error."""
    tasks = [asyncio.ensure_future(c) for c in coroutines]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _copied(obs: ObsClient, bucket: str, source: str, key: str) -> bool:
    """Copy ``source`` to ``key``; False when the source has gone meanwhile."""
    try:
        await obs.copy_object(bucket, source, bucket, key)
    except NotFound:
        return False
    return True
