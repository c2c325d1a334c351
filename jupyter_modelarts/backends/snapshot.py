"""Which files of a code dir a job takes along, the same rules for both backends.

The policy: the code dir lies under the backend's ``code_root`` (symlinks resolved, so a linked
code dir can't escape); ModelArts' limits (1000 files, 5 GB) and exclusions apply; a symlink
inside it is taken as a link when it resolves to a file or folder the snapshot takes, and any
other link (pointing outside, into a left-out folder, or broken) refuses the whole snapshot with
the list: a link is never followed out of the code dir, and never dropped silently.
"""

from __future__ import annotations

import asyncio
import bisect
import functools
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, TypeVar

from .. import kernel_path
from ..models import InvalidRequest, JobSpec

#: Name of the boot file made from inline ``code`` (a notebook cell).
INLINE_BOOT_FILE = "ma_boot.py"
MAX_CODE_FILES = 1000
MAX_CODE_BYTES = 5 * 1024**3
_EXCLUDED_DIRS = {".git", ".ipynb_checkpoints", "__pycache__", "node_modules", ".hg", ".svn"}
_LISTED_LINKS = 10

#: Threads that plan and copy snapshots, and nothing else: a submit never queues behind image
#: saves or output copies in the default executor, and those never queue behind a snapshot.
SNAPSHOT_WORKERS = 4
SNAPSHOT_POOL = ThreadPoolExecutor(max_workers=SNAPSHOT_WORKERS, thread_name_prefix="ma-snapshot")

T = TypeVar("T")


async def in_pool(pool: ThreadPoolExecutor, fn: Callable[..., T], *args) -> T:
    """Run ``fn(*args)`` on ``pool``'s threads, off the event loop."""
    return await asyncio.get_running_loop().run_in_executor(pool, functools.partial(fn, *args))


async def in_snapshot_pool(fn: Callable[..., T], *args) -> T:
    """Run ``fn(*args)`` on the snapshot threads."""
    return await in_pool(SNAPSHOT_POOL, fn, *args)


@dataclass
class CodePlan:
    """What a job takes from a code dir, as paths relative to ``root`` ('/'-separated)."""

    #: The code dir, symlinks resolved.
    root: str
    #: Folders, each after its parent.
    dirs: list[str]
    #: Regular files and their lstat at planning time.
    files: dict[str, os.stat_result]
    #: Symlinks kept as links: link path -> the file or folder it resolves to.
    links: dict[str, str]
    #: Every file a job can open, links followed: path -> regular file it reads. This is what
    #: OBS gets (it has no links): a link inside arrives as the content it points to, which can't
    #: leak anything since that content is in the snapshot anyway.
    uploads: dict[str, str]

    def has(self, rel: str) -> bool:
        return rel in self.uploads or rel in self.links or rel in self.dirs


def _is_virtualenv(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "pyvenv.cfg")) or os.path.isdir(
        os.path.join(path, "conda-meta")
    )


def _too_many() -> InvalidRequest:
    return InvalidRequest(
        f"code_dir has more than {MAX_CODE_FILES} files (the ModelArts limit); "
        "move data to OBS and pass it as an input",
        field="code_dir",
    )


def _too_big() -> InvalidRequest:
    return InvalidRequest(
        "code_dir is larger than 5 GB (the ModelArts limit); "
        "move data to OBS and pass it as an input",
        field="code_dir",
    )


def _walk(root: str) -> tuple[list[str], dict[str, os.stat_result], list[str]]:
    """Folders, regular files and symlinks under ``root``, never following a link."""
    dirs: list[str] = []
    files: dict[str, os.stat_result] = {}
    links: list[str] = []
    total = 0
    pending = [""]
    while pending:
        rel = pending.pop()
        with os.scandir(os.path.join(root, rel) if rel else root) as it:
            entries = sorted(it, key=lambda e: e.name)
        subdirs = []
        for entry in entries:
            path = f"{rel}/{entry.name}" if rel else entry.name
            if entry.is_symlink() or entry.is_dir(follow_symlinks=False):
                # The exclusions go by name and content, links included (a linked venv stays out).
                # The folder lending kernels this package is the server's, never the user's code
                # (it sits in a code dir when Jupyter's runtime dir is under the server's root).
                if (
                    entry.name in _EXCLUDED_DIRS
                    or entry.name.endswith(kernel_path.MARKER)
                    or _is_virtualenv(entry.path)
                ):
                    continue
                if entry.is_symlink():
                    links.append(path)
                else:
                    subdirs.append(path)
            elif entry.is_file(follow_symlinks=False):
                st = entry.stat(follow_symlinks=False)
                files[path] = st
                total += st.st_size
                if len(files) > MAX_CODE_FILES:
                    raise _too_many()
                if total > MAX_CODE_BYTES:
                    raise _too_big()
            # Sockets, pipes and devices are no code: left out, as ever.
        dirs.extend(subdirs)
        pending.extend(reversed(subdirs))
    dirs.sort()  # a parent sorts before its children
    return dirs, files, links


def _classify_links(
    root: str, dirs: list[str], files: dict[str, os.stat_result], links: list[str]
) -> dict[str, str]:
    """Each link's target inside the snapshot; 400 listing those that have none."""
    taken = set(dirs)
    kept: dict[str, str] = {}
    refused: list[str] = []
    for rel in links:
        target = os.path.realpath(os.path.join(root, rel))
        inside = os.path.relpath(target, root)
        if not os.path.exists(target):
            refused.append(f"{rel} (broken)")
        elif inside == os.pardir or inside.startswith(os.pardir + os.sep):
            refused.append(f"{rel} (points outside)")
        elif inside == os.curdir:
            kept[rel] = ""
        elif inside in files or inside in taken:
            kept[rel] = inside
        else:
            refused.append(f"{rel} (points to something the snapshot leaves out)")
    if refused:
        more = len(refused) - _LISTED_LINKS
        listing = ", ".join(refused[:_LISTED_LINKS]) + (f" and {more} more" if more > 0 else "")
        raise InvalidRequest(
            "code_dir has symlinks the snapshot can't take (it keeps only links to files and "
            f"folders it takes along, inside code_dir): {listing}",
            field="code_dir",
        )
    return kept


def _under(names: list[str], folder: str) -> Iterator[str]:
    """The names of a sorted list that lie under ``folder`` ('' is the root)."""
    if not folder:
        yield from names
        return
    prefix = folder + "/"
    for name in names[bisect.bisect_left(names, prefix) :]:
        if not name.startswith(prefix):
            return
        yield name


def _flatten(files: dict[str, os.stat_result], links: dict[str, str]) -> dict[str, str]:
    """Every path a job can open as a file, links followed, within the ModelArts limits."""
    file_names, link_names = sorted(files), sorted(links)
    uploads: dict[str, str] = {}
    total = 0
    expanded = 0

    def add(path: str, source: str) -> None:
        nonlocal total
        uploads[path] = source
        total += files[source].st_size
        if len(uploads) > MAX_CODE_FILES:
            raise _too_many()
        if total > MAX_CODE_BYTES:
            raise _too_big()

    def expand(folder: str, into: str, chain: frozenset[str]) -> None:
        nonlocal expanded
        cut = len(folder) + 1 if folder else 0
        for name in _under(file_names, folder):
            add(into + name[cut:], name)
        for link in _under(link_names, folder):
            target, path = links[link], into + link[cut:]
            if target in files:
                add(path, target)
                continue
            if link in chain:
                # Endless once followed, as OBS must: refused on both backends alike.
                raise InvalidRequest(
                    f"code_dir has a folder symlink that contains itself: {link}",
                    field="code_dir",
                )
            expanded += 1
            if expanded > MAX_CODE_FILES:
                raise _too_many()
            expand(target, path + "/", chain | {link})

    expand("", "", frozenset())
    return uploads


def plan_snapshot(code_dir: str) -> CodePlan:
    """What to take from ``code_dir`` (its symlinks resolved), or a 400 saying why not."""
    root = os.path.realpath(code_dir)
    if not os.path.isdir(root):
        raise InvalidRequest(f"code_dir {code_dir} is not a folder", field="code_dir")
    try:
        dirs, files, found_links = _walk(root)
    except OSError as err:  # a folder it may not read, or one removed meanwhile
        where = os.path.relpath(err.filename, root) if err.filename else code_dir
        raise InvalidRequest(
            f"could not read code_dir: {where}: {err.strerror}", field="code_dir"
        ) from err
    links = _classify_links(root, dirs, files, found_links)
    return CodePlan(root, dirs, files, links, _flatten(files, links))


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def resolve_code(
    spec: JobSpec, root_dir: str, code_root: str
) -> tuple[str | None, CodePlan | None]:
    """A spec's code dir (a relative one starts at the server root, and it must lie under
    ``code_root``), symlinks resolved, and its plan; (None, None) when the spec has none."""
    if not spec.code_dir:
        return None, None
    code_dir = os.path.join(root_dir, os.path.expanduser(spec.code_dir))
    allowed = os.path.realpath(os.path.expanduser(code_root))
    if not _inside(os.path.realpath(code_dir), allowed):
        raise InvalidRequest(
            f"code_dir {spec.code_dir} is outside {allowed}, the folder jobs take code from "
            "(the backend's code_root setting)",
            field="code_dir",
        )
    plan = plan_snapshot(code_dir)
    if spec.boot_file and spec.boot_file not in plan.uploads:
        raise InvalidRequest(f"boot_file {spec.boot_file} is not in code_dir", field="boot_file")
    if spec.code is not None and plan.has(INLINE_BOOT_FILE):
        raise InvalidRequest(
            f"code_dir already has a {INLINE_BOOT_FILE}, the name the inline code would take",
            field="code_dir",
        )
    return plan.root, plan
