"""Which files of a code dir a job takes along: ModelArts limits and exclusions, both backends."""

from __future__ import annotations

import os

from ..models import InvalidRequest, JobSpec

#: Name of the boot file made from inline ``code`` (a notebook cell).
INLINE_BOOT_FILE = "ma_boot.py"
MAX_CODE_FILES = 1000
MAX_CODE_BYTES = 5 * 1024**3
_EXCLUDED_DIRS = {".git", ".ipynb_checkpoints", "__pycache__", "node_modules", ".hg", ".svn"}


def _is_virtualenv(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "pyvenv.cfg")) or os.path.isdir(
        os.path.join(path, "conda-meta")
    )


def plan_snapshot(code_dir: str) -> list[str]:
    """Relative paths to take from ``code_dir``, within ModelArts' upload limits (400 otherwise)."""
    if not os.path.isdir(code_dir):
        raise InvalidRequest(f"code_dir {code_dir} is not a folder", field="code_dir")
    files: list[str] = []
    total = 0
    for dirpath, dirnames, filenames in os.walk(code_dir):
        dirnames[:] = sorted(
            d
            for d in dirnames
            if d not in _EXCLUDED_DIRS and not _is_virtualenv(os.path.join(dirpath, d))
        )
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            if not os.path.isfile(path):
                continue
            files.append(os.path.relpath(path, code_dir))
            total += os.path.getsize(path)
            if len(files) > MAX_CODE_FILES:
                raise InvalidRequest(
                    f"code_dir has more than {MAX_CODE_FILES} files (the ModelArts limit); "
                    "move data to OBS and pass it as an input",
                    field="code_dir",
                )
            if total > MAX_CODE_BYTES:
                raise InvalidRequest(
                    "code_dir is larger than 5 GB (the ModelArts limit); "
                    "move data to OBS and pass it as an input",
                    field="code_dir",
                )
    return files


def resolve_code(spec: JobSpec, root_dir: str) -> tuple[str | None, list[str]]:
    """The absolute code dir of a spec (relative ones start at the server root) and its files."""
    if not spec.code_dir:
        return None, []
    code_dir = os.path.join(root_dir, os.path.expanduser(spec.code_dir))
    files = plan_snapshot(code_dir)
    if spec.boot_file and spec.boot_file not in files:
        raise InvalidRequest(f"boot_file {spec.boot_file} is not in code_dir", field="boot_file")
    if spec.code is not None and INLINE_BOOT_FILE in files:
        raise InvalidRequest(
            f"code_dir already has a {INLINE_BOOT_FILE}, the name the inline code would take",
            field="code_dir",
        )
    return code_dir, files
