"""What the frontend costs a browser: gzip bytes of JavaScript at page load and in all.

Usage: python bench/bundle.py [--labextensions DIR]

Reads the built labextension (jupyter_modelarts/labextension; build it first with
`jlpm build:prod`) and, as baselines in the same run, every other prebuilt extension in the
environment's share/jupyter/labextensions (ipywidgets' manager, anywidget, ...). For each it
prints the gzip -9 size of the JavaScript JupyterLab loads at start (remoteEntry and the chunks
its `./extension` and `./style` modules need) and of all its JavaScript (with the chunks loaded
on first use). The issue's budget is 40 KB.
"""

import argparse
import gzip
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OURS = HERE.parent / "jupyter_modelarts" / "labextension"
BUDGET_KB = 40.0
# In rspack's and webpack's remoteEntry: "./extension":()=>Promise.all([n.e(1),n.e(2)]).then(...)
EXPOSED = re.compile(r'"\./(?:extension|style)":\(\)=>(.*?)\.then')
CHUNK = re.compile(r"\.e\((\d+)\)")


def gzipped(path: Path) -> int:
    return len(gzip.compress(path.read_bytes(), 9))


def measure(extension: Path) -> tuple[float, float, int]:
    """KB gzip at load, KB gzip in all, and the number of JavaScript files."""
    static = extension / "static"
    build = json.loads((extension / "package.json").read_text())["jupyterlab"]["_build"]
    entry = extension / build["load"]
    files = {p.name: p for p in static.glob("*.js")}
    at_load = {entry.name}
    for exposure in EXPOSED.findall(entry.read_text()):
        for chunk in CHUNK.findall(exposure):
            at_load.update(name for name in files if name.startswith(chunk + "."))
    if "style.js" in files:
        at_load.add("style.js")
    load = sum(gzipped(files[name]) for name in at_load) / 1000
    total = sum(gzipped(p) for p in files.values()) / 1000
    return load, total, len(files)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--labextensions",
        type=Path,
        default=Path(sys.prefix) / "share" / "jupyter" / "labextensions",
        help="where the baseline extensions are installed",
    )
    args = parser.parse_args()
    if not (OURS / "static").is_dir():
        sys.exit("no built labextension: run `jlpm build:prod` first")
    rows = [("jupyter-modelarts (ours)", *measure(OURS))]
    for package in sorted(args.labextensions.rglob("package.json")):
        extension = package.parent
        if extension.name == "jupyter-modelarts" or not (extension / "static").is_dir():
            continue
        name = str(extension.relative_to(args.labextensions))
        rows.append((name + " (baseline)", *measure(extension)))
    print(f"{'extension':<48} {'at load':>9} {'in all':>9} {'files':>6}")
    for name, load, total, count in rows:
        print(f"{name:<48} {load:>6.1f} KB {total:>6.1f} KB {count:>6}")
    load, total = rows[0][1], rows[0][2]
    print(
        f"budget {BUDGET_KB:.0f} KB: at load {load:.1f} KB ({load - BUDGET_KB:+.1f}), "
        f"in all {total:.1f} KB ({total - BUDGET_KB:+.1f})"
    )


if __name__ == "__main__":
    main()
