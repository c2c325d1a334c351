"""Kernel environments on other Pythons, as in a ModelArts notebook: the server in one venv, its
kernels in others.

``kernel_envs`` builds, once per test session, a venv for Python 3.8 and one for 3.13 (from
``~/.pyenv/versions``), each holding only ipykernel (pip picks a release for that Python) and
``kernel_only_pkg``, a module the server's venv lacks, plus a kernelspec for each. Point a server at
them with ``JUPYTER_PATH=<kernel_envs.data_dir>``.
"""

from __future__ import annotations

import glob
import json
import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

_PYENV_VERSIONS = os.path.join(
    os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv"), "versions"
)
_WANTED = ("3.8", "3.13")


@dataclass(frozen=True)
class KernelEnv:
    """One venv and its kernelspec."""

    key: str  # "py38": also kernel_only_pkg.WHERE in this venv
    python: str  # <venv>/bin/python, the path the kernelspec runs (a link, not resolved)
    kernel_name: str
    display_name: str


@dataclass(frozen=True)
class KernelEnvs:
    data_dir: str  # a Jupyter data dir holding kernels/<name>/: put it on JUPYTER_PATH
    envs: dict[str, KernelEnv]  # by minor version: "3.8", "3.13"

    def __getitem__(self, minor: str) -> KernelEnv:
        return self.envs[minor]


def _base_python(minor: str) -> str:
    """The newest ~/.pyenv/versions/<minor>.* interpreter."""
    found = glob.glob(os.path.join(_PYENV_VERSIONS, f"{minor}.*", "bin", "python3"))
    if not found:
        message = f"no Python {minor} in {_PYENV_VERSIONS} (`pyenv install {minor}` adds it)"
        if os.environ.get("CI", "").lower() in ("1", "true"):
            pytest.fail(message)
        pytest.skip(message)
    return max(found, key=lambda p: [int(x) for x in re.findall(r"\d+", p.split(os.sep)[-3])])


def _run(argv: list[str]) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout


def _build(root: str, data_dir: str, minor: str, base: str) -> KernelEnv:
    key = "py" + minor.replace(".", "")
    venv = os.path.join(root, key)
    # No pip in the venv and no .pyc up front: half the CPU time of a plain venv + pip install.
    _run([base, "-m", "venv", "--without-pip", venv])
    python = os.path.join(venv, "bin", "python")
    pip = [base, "-m", "pip", "--python", python, "install", "-q", "--no-compile"]
    _run([*pip, "--disable-pip-version-check", "ipykernel"])
    purelib = _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
    with open(os.path.join(purelib.strip(), "kernel_only_pkg.py"), "w") as f:
        f.write(f'"""Only in the {key} kernel env."""\n\nWHERE = "{key}"\n')
    env = KernelEnv(
        key=key,
        python=python,
        kernel_name=f"kernel-env-{key}",
        display_name=f"Python {minor} (kernel env)",
    )
    spec_dir = os.path.join(data_dir, "kernels", env.kernel_name)
    os.makedirs(spec_dir)
    spec = {
        "argv": [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": env.display_name,
        "language": "python",
    }
    with open(os.path.join(spec_dir, "kernel.json"), "w") as f:
        json.dump(spec, f, indent=1)
    return env


@pytest.fixture(scope="session")
def kernel_envs(tmp_path_factory) -> KernelEnvs:
    bases = {minor: _base_python(minor) for minor in _WANTED}
    root = str(tmp_path_factory.mktemp("kernel-envs"))
    data_dir = os.path.join(root, "share", "jupyter")
    with ThreadPoolExecutor(len(bases)) as pool:
        futures = {m: pool.submit(_build, root, data_dir, m, b) for m, b in bases.items()}
        envs = {minor: future.result() for minor, future in futures.items()}
    return KernelEnvs(data_dir=data_dir, envs=envs)
