"""Local engines: the server's Python kernelspecs, so a job runs where its kernel's code ran.

Each engine's interpreter is the Python its kernel runs, found the way jupyter_client finds it at
launch. Paths are never resolved through symlinks: a venv's ``bin/python`` links to the base
Python, and resolving it would lose the venv and its packages.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import platform
import re
import shutil
import subprocess
import sys
from typing import Any

from ...models import Engine, InvalidRequest

_VERSION_PROBE = "import platform; print(platform.python_version())"
_PROBE_TIMEOUT_S = 5.0
# What jupyter_client replaces with its own sys.executable when it launches a kernel.
_SERVER_PYTHON_NAMES = {
    "python",
    "python{}".format(*sys.version_info),
    "python{}.{}".format(*sys.version_info),
}


def kernel_interpreter(argv0: str) -> str | None:
    """The Python a kernelspec whose argv starts with ``argv0`` runs; None when not found."""
    if argv0 in _SERVER_PYTHON_NAMES:
        return sys.executable
    if os.path.isabs(argv0):
        return argv0
    return shutil.which(argv0)


class KernelEngines:
    """The engines of the local backend, listed from the server's kernelspec manager."""

    def __init__(self, serverapp: Any, log: Any):
        self.serverapp = serverapp
        self.log = log
        self._versions: dict[tuple[str, int | None], str | None] = {}

    async def engines(self) -> list[Engine]:
        """One engine per Python kernelspec whose interpreter runs, the default kernel's first."""
        specs = await asyncio.to_thread(self.serverapp.kernel_spec_manager.get_all_specs)
        if inspect.isawaitable(specs):  # e.g. a gateway's kernelspec manager
            specs = await specs
        candidates = []
        for name, entry in specs.items():
            spec = entry.get("spec") or {}
            argv = spec.get("argv") or []
            if not str(spec.get("language", "")).lower().startswith("python") or not argv:
                continue
            interpreter = kernel_interpreter(argv[0])
            if interpreter is None:
                self._warn_once((argv[0], None), f"kernelspec {name!r}: {argv[0]!r} not found")
                continue
            candidates.append((name, spec.get("display_name") or name, interpreter))
        versions = await asyncio.gather(
            *(asyncio.to_thread(self._version, name, path) for name, _, path in candidates)
        )
        engines = [
            Engine(id=name, name=display, version=version, image=None, interpreter=path)
            for (name, display, path), version in zip(candidates, versions)
            if version is not None
        ]
        if not engines:
            return [
                Engine(
                    id="python3",
                    name="Python 3 (this server)",
                    version=platform.python_version(),
                    image=None,
                    interpreter=sys.executable,
                )
            ]
        default = self.serverapp.kernel_manager.default_kernel_name
        engines.sort(key=lambda e: (e.id != default, e.name.lower(), e.id))
        return engines

    async def resolve(self, engine_id: str | None) -> Engine:
        """The engine named ``engine_id``, or the default one when None."""
        engines = await self.engines()
        if engine_id is None:
            return engines[0]
        for engine in engines:
            if engine.id == engine_id:
                return engine
        known = ", ".join(e.id for e in engines)
        raise InvalidRequest(
            f"unknown engine {engine_id!r}; this server's Python kernelspecs are {known}",
            field="engine",
        )

    def _warn_once(self, key: tuple[str, int | None], message: str) -> None:
        if key not in self._versions:
            self._versions[key] = None
            self.log.warning("%s; it is not offered as an engine", message)

    def _version(self, name: str, interpreter: str) -> str | None:
        """The Python version of ``interpreter`` (worker thread), cached by path and mtime."""
        try:
            key = (interpreter, os.stat(interpreter).st_mtime_ns)
        except OSError as err:
            self._warn_once((interpreter, None), f"kernelspec {name!r}: {err}")
            return None
        if key in self._versions:
            return self._versions[key]
        try:
            out = subprocess.run(
                [interpreter, "-c", _VERSION_PROBE],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=_PROBE_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired:
            # Not cached: a busy machine may answer next time.
            self.log.warning("kernelspec %r: %s did not answer in time", name, interpreter)
            return None
        except OSError as err:
            self._warn_once(key, f"kernelspec {name!r}: {interpreter} does not run ({err})")
            return None
        version = out.stdout.strip()
        if out.returncode != 0 or not re.fullmatch(r"\d+\.\d+\S*", version):
            detail = (out.stderr.strip().splitlines() or [f"exit code {out.returncode}"])[-1]
            self._warn_once(key, f"kernelspec {name!r}: {interpreter} is not a Python ({detail})")
            return None
        self._versions[key] = version
        return version
