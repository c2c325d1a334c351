"""Reaching every kernel the server starts, whatever Python environment the kernel lives in.

Kernels inherit the server's environment, so one ``PYTHONPATH`` entry makes
``%load_ext jupyter_modelarts`` work in a kernel that has nothing of ours installed: a folder
holding only a link named ``jupyter_modelarts`` to this very package. The kernel side needs
nothing but the standard library, and ``import jupyter_modelarts`` imports nothing heavy.
"""

from __future__ import annotations

import hashlib
import os

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


def with_entry(pythonpath: str | None, folder: str) -> str:
    """``pythonpath`` with ``folder`` appended (the user's own entries keep precedence)."""
    entries = [e for e in (pythonpath or "").split(os.pathsep) if e and MARKER not in e]
    return os.pathsep.join([*entries, folder])


def without_entry(pythonpath: str | None) -> str | None:
    """``pythonpath`` as the user had it: our entries removed; None when nothing is left."""
    entries = [e for e in (pythonpath or "").split(os.pathsep) if e and MARKER not in e]
    return os.pathsep.join(entries) or None
