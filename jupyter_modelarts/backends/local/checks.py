"""The local backend's checks: the folders it writes, the disk images go to, the kernelspecs.

Each function is blocking file work (run it in a worker thread) and never raises: what goes
wrong is the check's failure, said in its detail.
"""

from __future__ import annotations

import os
import shutil
import uuid
from typing import Any

from ...i18n import N_
from ...models import Check, CheckStatus

_PROBE_PREFIX = ".modelarts-doctor-"


def _check(check_id: str, title: str, status: CheckStatus, detail: str, fix: str = "") -> Check:
    return Check(id=check_id, area="local", title=title, status=status, detail=detail, fix=fix)


def _probe(folder: str) -> str | None:
    """Why a file cannot be written (and fsynced, and removed) in ``folder``; None when it can."""
    if not os.path.exists(folder):
        return N_(f"{folder} does not exist")
    if not os.path.isdir(folder):
        return N_(f"{folder} is not a folder")
    path = os.path.join(folder, f"{_PROBE_PREFIX}{uuid.uuid4().hex}")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as err:
        return N_(f"cannot create a file in {folder}: {err.strerror or err}")
    try:
        os.write(fd, b"probe")
        os.fsync(fd)
    except OSError as err:
        return N_(f"cannot write a file in {folder}: {err.strerror or err}")
    finally:
        os.close(fd)
        try:
            os.unlink(path)
        except OSError:
            pass
    return None


def writable_folder(check_id: str, title: str, folder: str, fix: str) -> Check:
    """Pass when ``folder`` is a folder a file can be written to."""
    problem = _probe(folder)
    if problem is None:
        return _check(check_id, title, CheckStatus.PASS, f"{folder} is writable")
    return _check(check_id, title, CheckStatus.FAIL, problem, fix)


def _existing(path: str) -> str:
    """``path``, or the nearest folder above it that exists (where it would be made)."""
    while not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


def _size(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def disk(images_dir: str, size_limit: int) -> Check:
    """Pass when the disk saved images are written to has room for an image as large as the
    limit allows."""
    title = N_("Free disk for saved images")
    where = _existing(images_dir)
    try:
        free = shutil.disk_usage(where).free
    except OSError as err:
        return _check(
            "local:disk",
            title,
            CheckStatus.FAIL,
            f"cannot read the free space of {where}: {err.strerror or err}",
            "Make the state folder (c.ModelArtsApp.state_dir) a folder on a readable disk.",
        )
    numbers = N_(f"{_size(free)} free at {where}, images may reach {_size(size_limit)}")
    if free >= size_limit:
        return _check("local:disk", title, CheckStatus.PASS, numbers)
    return _check(
        "local:disk",
        title,
        CheckStatus.FAIL,
        f"{numbers}: a save that large would run out of disk",
        "Free disk space, put the state folder (c.ModelArtsApp.state_dir) on a larger disk, or "
        "lower c.LocalBackend.image_size_limit.",
    )


def kernelspecs(specs: dict[str, Any], interpreter_of: Any) -> Check:
    """Pass when at least one Python kernelspec's interpreter is there to run (``interpreter_of``
    maps a kernelspec's argv[0] to its interpreter, or None)."""
    title = N_("Python kernelspecs")
    found, missing = [], []
    for name, entry in sorted(specs.items()):
        spec = entry.get("spec") or {}
        argv = spec.get("argv") or []
        if not str(spec.get("language", "")).lower().startswith("python") or not argv:
            continue
        path = interpreter_of(argv[0])
        runs = path is not None and os.path.isfile(path) and os.access(path, os.X_OK)
        (found if runs else missing).append(name)
    lost = N_(f"; {', '.join(missing)} name an interpreter that is not there") if missing else ""
    if found:
        names = ", ".join(found)
        # Not "found {names}{lost}": two placeholders side by side cannot be told apart when the
        # server translates the detail.
        detail = (
            N_(f"found {names}; {', '.join(missing)} name an interpreter that is not there")
            if missing
            else N_(f"found {names}")
        )
        return _check("local:kernelspecs", title, CheckStatus.PASS, detail)
    return _check(
        "local:kernelspecs",
        title,
        CheckStatus.FAIL,
        f"no Python kernelspec found{lost}: notebooks have no kernel to run in, and jobs fall "
        "back to the server's own Python",
        "Install one from the Python environment jobs should use: python -m ipykernel install "
        "--user --name <name> (then restart the server).",
    )
