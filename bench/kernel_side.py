"""The kernel side's cost in a kernel: import time, and the size of a kernel-only install.

Usage: python bench/kernel_side.py [-n 15] [--python PATH ...] [--install]

For each base Python (default: pyenv's 3.8 and 3.13), a new venv holding only ipykernel stands
for a kernel environment. Import time (python -X importtime, median of N runs): the kernel side
imported after IPython (which a kernel has loaded already), next to IPython's own import as the
baseline, the package reached the way the server lends it to kernels (a PYTHONPATH folder
holding a link to it). --install builds the wheel and measures what `pip install <wheel>` adds
to that venv on disk, against the ipykernel-only venv.
"""

import argparse
import glob
import os
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from jupyter_modelarts import kernel_path  # noqa: E402


def pyenv_python(minor: str) -> str | None:
    found = sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{minor}.*/bin/python3")))
    return found[-1] if found else None


def import_ms(python: str, env: dict[str, str], runs: int) -> tuple[float, float]:
    """Median import times (``-X importtime``, cumulative, top level) of IPython, and of the
    kernel side imported after it, in ms; one warm-up run first writes the bytecode caches."""
    argv = [python, "-X", "importtime", "-c", "import IPython, jupyter_modelarts.kernel"]
    ipython, ours = [], []
    for round_ in range(runs + 1):
        stderr = subprocess.run(argv, env=env, check=True, capture_output=True, text=True).stderr
        top = [line.split("|") for line in stderr.splitlines() if "| " in line]
        top = [(int(c), name) for _, c, name in top if c.strip().isdigit() and name[1] != " "]
        if round_:
            ipython.append(sum(c for c, name in top if name.strip() == "IPython") / 1000)
            ours.append(sum(c for c, n in top if n.strip().startswith("jupyter_modelarts")) / 1000)
    return statistics.median(ipython), statistics.median(ours)


def du_mib(path: str) -> float:
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            full = os.path.join(folder, name)
            if not os.path.islink(full):
                total += os.path.getsize(full)
    return total / 2**20


def kernel_venv(python: str, tmp: str) -> str:
    """A venv of ``python`` holding only ipykernel, as a kernel environment; its python."""
    venv = os.path.join(tmp, f"venv-{os.path.basename(os.path.dirname(os.path.dirname(python)))}")
    subprocess.run([python, "-m", "venv", venv], check=True)
    venv_python = os.path.join(venv, "bin", "python")
    subprocess.run(
        [venv_python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "ipykernel"],
        check=True,
    )
    return venv_python


def import_times(python: str, runs: int, tmp: str) -> None:
    env = {**os.environ, "PYTHONPATH": kernel_path.prepare(tmp)}
    ipython, ours = import_ms(python, env, runs)
    print(f"{python}: import IPython {ipython:.1f} ms; then the kernel side {ours:.1f} ms")


def install_size(python: str, wheel: str) -> None:
    venv = os.path.dirname(os.path.dirname(python))
    before = du_mib(venv)
    subprocess.run([python, "-m", "pip", "install", "-q", wheel], check=True)
    added = du_mib(venv) - before
    frozen = subprocess.run(
        [python, "-m", "pip", "freeze"], capture_output=True, text=True, check=True
    ).stdout
    jupyter = [line.split(" @ ")[0] for line in frozen.splitlines() if "jupyter" in line.lower()]
    print(
        f"{python}: ipykernel-only venv {before:.1f} MiB; `pip install jupyter_modelarts` adds "
        f"{added:.1f} MiB; Jupyter packages then: {', '.join(jupyter)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=15, help="runs of each import (default 15)")
    parser.add_argument("--python", action="append", help="base Pythons (repeatable)")
    parser.add_argument("--install", action="store_true", help="also measure a kernel install")
    args = parser.parse_args()
    bases = args.python or [p for p in (pyenv_python("3.8"), pyenv_python("3.13")) if p]
    with tempfile.TemporaryDirectory() as tmp:
        pythons = [kernel_venv(base, tmp) for base in bases]
        for python in pythons:
            import_times(python, args.n, tmp)
        if args.install:
            root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
            subprocess.run(
                [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", root, "-w", tmp],
                check=True,
            )
            [wheel] = glob.glob(os.path.join(tmp, "jupyter_modelarts-*.whl"))
            for python in pythons:
                install_size(python, wheel)


if __name__ == "__main__":
    main()
