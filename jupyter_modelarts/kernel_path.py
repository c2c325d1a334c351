"""Reaching every kernel the server starts, whatever Python environment the kernel lives in.

Kernels inherit the server's environment, so one ``PYTHONPATH`` entry makes
``%load_ext jupyter_modelarts`` work in a kernel that has nothing of ours installed: a folder
holding only a link named ``jupyter_modelarts`` to this very package. The kernel side needs
nothing but the standard library, and ``import jupyter_modelarts`` imports nothing heavy.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import MutableMapping

#: Every folder this module puts on PYTHONPATH ends with this name, so it can be taken out again.
MARKER = "jupyter_modelarts-kernel-path"
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def prepare(parent: str) -> str:
    """A folder under ``parent`` whose only entry is a link to this package; its path."""
    digest = hashlib.sha256(_PACKAGE_DIR.encode()).hexdigest()[:12]
    folder = os.path.join(parent, f"{digest}-{MARKER}")
    os.makedirs(folder, mode=0o700, exist_ok=True)
    link = os.path.join(folder, "jupyter_modelarts")
    if os.path.realpath(link) != os.path.realpath(_PACKAGE_DIR):
        staged = f"{link}.{os.getpid()}"
        os.symlink(_PACKAGE_DIR, staged)
        os.replace(staged, link)  # atomic: a kernel starting now sees the old link or the new one
    return folder


def _user_entries(pythonpath: str | None) -> list[str]:
    return [e for e in (pythonpath or "").split(os.pathsep) if e and MARKER not in e]


def with_entry(pythonpath: str | None, folder: str) -> str:
    """``pythonpath`` with ``folder`` appended (the user's own entries keep precedence)."""
    return os.pathsep.join([*_user_entries(pythonpath), folder])


def remove_entry(environ: MutableMapping[str, str]) -> None:
    """Give ``environ`` the PYTHONPATH the user had: our entries out, the variable gone when
    nothing is left."""
    entries = _user_entries(environ.get("PYTHONPATH"))
    if entries:
        environ["PYTHONPATH"] = os.pathsep.join(entries)
    else:
        environ.pop("PYTHONPATH", None)
