"""The local code store: a job's code is hard links to read-only copies kept once per file.

A job's ``code`` folder is real folders, the kept symlinks, and for each file a hard link to a
store entry: a copy of the source taken at submit, so editing the source later (in place or by
rename) never reaches the job, while a re-submit of unchanged files links the entries again
instead of copying them.

An entry is named by the source's identity (device, inode, size, mtime_ns, ctime_ns) rather than
by a hash of its content: a first submit then reads each byte once, as ``cp -r`` does, and a
re-submit reads none. Any write to the source changes its mtime and ctime (ctime can't be set
back), so a changed file never matches an old entry. The content check is on both ends: a copy
becomes an entry only if its source was the same after the copy as when opened (a file written
while being copied reaches the job but is not kept for others), and an entry's size and mtime
must still be the source's when it is linked again (a job running as root could write through
its read-only link).

A file is copied into the job's folder, and only once complete linked into the store under its
entry name, in the background (the job has its files already; the next snapshot waits for it).
A link is atomic, so no half-written file ever bears an entry's name: the job's own folder is the
temporary name, and a crash fails that job at restart. An entry whose link count is 1 belongs to
no job any more (a deleted job's folder is gone): it is removed before this process's first
snapshot and after each snapshot, as is anything in the store that isn't an entry true to its
name.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import shutil
import stat
import threading
from concurrent import futures

from ..snapshot import SNAPSHOT_POOL, SNAPSHOT_WORKERS, CodePlan, in_snapshot_pool

log = logging.getLogger(__name__)

_CPUS = os.cpu_count() or 1
# Small files cost Python's per-file work, which a second thread only contends for (the GIL):
# 1,000 of them took 64 ms on two threads against 42 ms on one. Big ones are copied in the kernel,
# so each core may take a share of the bytes: one thread per this many, up to one per core.
_BYTES_PER_THREAD = 64 * 2**20
# What a kernel or file system answers when it can't do a fast copy between these two files.
_NO_FAST_COPY = (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSOCK)


def _identity(st: os.stat_result) -> tuple[int, ...]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _entry_name(st: os.stat_result) -> str:
    return "{:x}-{:x}-{:x}-{:x}-{:x}".format(*_identity(st))


def _promised(name: str) -> tuple[int, int] | None:
    """The size and mtime an entry's name says it has (those of its copy), or None for a name
    that is no entry's."""
    try:
        _, _, size, mtime_ns, _ = (int(part, 16) for part in name.split("-"))
    except ValueError:
        return None
    return size, mtime_ns


def _rewind(src: int, dst: int) -> None:
    os.lseek(src, 0, os.SEEK_SET)
    os.lseek(dst, 0, os.SEEK_SET)
    os.ftruncate(dst, 0)


def _copy_data(src: int, dst: int, size: int) -> None:
    """Copy a file of ``size`` bytes by descriptors: in the kernel (copy_file_range, else
    sendfile) where it can, else through a buffer. A file that shrank meanwhile stops short, one
    that grew is cut at ``size``: either way its identity changed, so the copy isn't kept."""
    if hasattr(os, "copy_file_range"):
        try:
            copied = 0
            while copied < size:
                step = os.copy_file_range(src, dst, size - copied)
                if not step:
                    return  # the source shrank
                copied += step
            return
        except OSError as err:
            if err.errno not in _NO_FAST_COPY:
                raise
            _rewind(src, dst)
    try:
        offset = 0
        while offset < size:
            sent = os.sendfile(dst, src, offset, size - offset)
            if not sent:
                return
            offset += sent
        return
    except OSError as err:
        if err.errno not in _NO_FAST_COPY:
            raise
        _rewind(src, dst)
    with open(src, "rb", closefd=False) as fsrc, open(dst, "wb", closefd=False) as fdst:
        shutil.copyfileobj(fsrc, fdst)


def _link(entry: str, dest: str) -> None:
    try:
        os.link(entry, dest)
    except FileNotFoundError:
        raise  # the entry was pruned meanwhile: the caller copies the source anew
    except OSError:
        # No hard links here (another file system, the link limit): a plain copy.
        shutil.copy2(entry, dest)


class CodeStore:
    """The entries under ``folder`` (see the module's docstring)."""

    def __init__(self, folder: str):
        self.folder = folder
        self._swept = False
        self._sweep_lock = threading.Lock()
        self._pruning = threading.Lock()
        # The entries' names and what each promises (size, mtime), read by the first sweep: a
        # first copy needs no failed link to learn that it is one, and a prune parses no name
        # twice. Single dict operations are atomic under the GIL.
        self._names: dict[str, tuple[int, int]] = {}
        # Futures of the pool rather than of a loop: a server restarted in this process waits
        # for them as well.
        self._keeping: set[futures.Future] = set()

    async def snapshot(self, plan: CodePlan, dest: str) -> None:
        """Lay ``plan`` out in the existing folder ``dest``."""
        if self._keeping:
            # What earlier snapshots copied is what a re-submit links: wait until it is kept.
            await asyncio.wait([asyncio.wrap_future(f) for f in list(self._keeping)])
        await in_snapshot_pool(self._prepare, plan, dest)
        files = sorted(plan.files)
        total = sum(plan.files[rel].st_size for rel in files)
        threads = max(1, min(SNAPSHOT_WORKERS, _CPUS, len(files), total // _BYTES_PER_THREAD))
        size = -(-len(files) // threads)
        # Consecutive files share folders: each thread works in its own, not against the others.
        parts = await asyncio.gather(
            *(
                in_snapshot_pool(self._place_files, plan, files[i * size : (i + 1) * size], dest)
                for i in range(threads)
            )
        )
        # Entries are kept in the background: the job has its files already.
        keep = SNAPSHOT_POOL.submit(self._keep, [c for p in parts for c in p])
        self._keeping.add(keep)
        keep.add_done_callback(self._kept)

    def _kept(self, future: futures.Future) -> None:
        self._keeping.discard(future)
        if not future.cancelled() and future.exception():
            log.warning("keeping copies in the code store failed: %s", future.exception())
        # Not part of the keeping a next snapshot waits for.
        self.prune_soon()

    def prune_soon(self) -> None:
        """Remove, in the snapshot pool, what no job uses any more (after a job's delete)."""
        SNAPSHOT_POOL.submit(self._prune_in_background)

    def _prepare(self, plan: CodePlan, dest: str) -> None:
        with self._sweep_lock:
            if not self._swept:
                os.makedirs(self.folder, exist_ok=True)
                self._prune()
                self._swept = True
        for rel in plan.dirs:
            os.mkdir(os.path.join(dest, rel))
        for rel, target in plan.links.items():
            # Relative, so the link points into the job's copy rather than at the source.
            os.symlink(
                os.path.relpath(target or os.curdir, os.path.dirname(rel) or os.curdir),
                os.path.join(dest, rel),
            )

    def _place_files(
        self, plan: CodePlan, files: list[str], dest: str
    ) -> list[tuple[str, os.stat_result]]:
        """Link or copy each file into ``dest``; returns the copies to keep (where, as what)."""
        copies = []
        for rel in files:
            target = os.path.join(dest, rel)
            st = plan.files[rel]
            name = _entry_name(st)
            if name in self._names:
                try:
                    _link(os.path.join(self.folder, name), target)
                except FileNotFoundError:
                    self._names.pop(name, None)  # pruned meanwhile
                else:
                    kept = os.lstat(target)
                    if (kept.st_size, kept.st_mtime_ns) == (st.st_size, st.st_mtime_ns):
                        continue
                    # Written through a job's link (by root): no longer the source's content.
                    os.unlink(target)
                    self._remove(name)
            copied = self._copy_in(os.path.join(plan.root, rel), target)
            if copied is not None:
                copies.append((target, copied))
        return copies

    @staticmethod
    def _copy_in(source: str, target: str) -> os.stat_result | None:
        """Copy ``source`` to ``target`` read-only; returns what the source was, if it did not
        change meanwhile."""
        # A link swapped in since planning is refused, never followed; a pipe doesn't block.
        flags = os.O_RDONLY | os.O_NOFOLLOW
        try:
            src = os.open(source, flags | os.O_NONBLOCK)
        except BlockingIOError:
            # Only a file another program holds a lease on answers so: wait for it, as cp does.
            src = os.open(source, flags)
        try:
            before = os.fstat(src)
            if not stat.S_ISREG(before.st_mode):
                raise OSError(errno.EINVAL, "no longer a regular file", source)
            mode = (stat.S_IMODE(before.st_mode) & 0o555) | 0o400  # read-only, as the job sees it
            dst = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            try:
                _copy_data(src, dst, before.st_size)
                os.utime(dst, ns=(before.st_atime_ns, before.st_mtime_ns))
            finally:
                os.close(dst)
            # Written while being copied: the job has this copy, nobody else gets it.
            return before if _identity(os.fstat(src)) == _identity(before) else None
        finally:
            os.close(src)

    def _keep(self, copies: list[tuple[str, os.stat_result]]) -> None:
        """Give each copy its entry's name."""
        for target, source in copies:
            name = _entry_name(source)
            # Another snapshot may have kept the same file first, the job may have been deleted,
            # or the store can't link (another file system): the job has its copy either way.
            with contextlib.suppress(OSError):
                os.link(target, os.path.join(self.folder, name))
                self._names[name] = (source.st_size, source.st_mtime_ns)

    def _prune_in_background(self) -> None:
        # One prune at a time; one that finds another running leaves the store to it.
        if not self._pruning.acquire(blocking=False):
            return
        try:
            self._prune()
        except Exception:
            log.exception("pruning the code store %s failed", self.folder)
        finally:
            self._pruning.release()

    def _remove(self, name: str) -> None:
        self._names.pop(name, None)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(self.folder, name))

    def _prune(self) -> None:
        """Remove the entries no job links to, and whatever isn't an entry true to its name."""
        with os.scandir(self.folder) as it:
            for item in it:
                try:
                    st = item.stat(follow_symlinks=False)
                    promised = self._names.get(item.name) or _promised(item.name)
                    if st.st_nlink == 1 or (st.st_size, st.st_mtime_ns) != promised:
                        # A snapshot linking it right now then finds it gone and copies anew;
                        # one that linked it first keeps its link: no job loses a file.
                        self._remove(item.name)
                    else:
                        self._names[item.name] = promised
                except OSError as err:
                    log.warning("could not prune %s from the code store: %s", item.path, err)


_STORES: dict[str, CodeStore] = {}


def code_store(folder: str) -> CodeStore:
    """The one store of ``folder`` in this process, so its start-up sweep runs once."""
    store = _STORES.get(folder)
    if store is None:
        store = _STORES[folder] = CodeStore(folder)
    return store
