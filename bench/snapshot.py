"""Snapshot cost of a submit against `cp -r` of the same folder: time and disk added.

Usage: python bench/snapshot.py [--rounds 7]

Starts its own Jupyter server (local backend, temp state under its root). Each round, for a code
folder of one 100 MB file and one of 1,000 small files: `cp -r` makes a fresh copy of it (timed:
the baseline), then that copy is submitted twice, each submit timed until the POST answers (the
snapshot is taken inside the submit) and measured for the disk it added (`du` of the state
folder before and after). A submit without code_dir, in the same round, is the fixed cost of a
submit (HTTP, records, starting the job); "snapshot" is a submit's time less that.

Ratios are taken within a round, where `cp -r` and the submits met the same load on the machine,
and the table shows the median of each figure over the rounds.
"""

import argparse
import os
import statistics
import subprocess
import tempfile
import time

import httpx
from _server import api_client, launch, wait_until_answering

BIG_BYTES = 100 * 2**20
SMALL_FILES = 1000


def du_bytes(path: str) -> int:
    """Disk used under ``path`` as `du` counts it (each hard-linked inode once)."""
    out = subprocess.run(["du", "-s", "-B1", path], check=True, capture_output=True, text=True)
    return int(out.stdout.split()[0])


def make_big(folder: str) -> None:
    os.makedirs(folder)
    with open(os.path.join(folder, "weights.bin"), "wb") as f:
        for _ in range(BIG_BYTES // 2**20):
            f.write(os.urandom(2**20))


def make_small(folder: str) -> None:
    # 1,000 files in all (the ModelArts limit) in 20 packages, a few hundred bytes each.
    for i in range(SMALL_FILES):
        package = os.path.join(folder, f"pkg{i % 20:02d}")
        os.makedirs(package, exist_ok=True)
        with open(os.path.join(package, f"mod{i:04d}.py"), "w") as f:
            f.write(f"VALUE_{i} = {i}\n" + "# padding\n" * (i % 40))


def time_cp(source: str, dest: str) -> tuple[float, int]:
    """Seconds of `cp -r source dest`, and the bytes the copy takes."""
    start = time.perf_counter()
    subprocess.run(["cp", "-r", source, dest], check=True)
    return time.perf_counter() - start, du_bytes(dest)


def time_submit(client: httpx.Client, state_dir: str, **spec) -> tuple[float, int]:
    """Seconds until the POST answers, and the bytes the state folder grew by."""
    before = du_bytes(state_dir)
    start = time.perf_counter()
    response = client.post("jobs", json={"name": "snap", "command": "true", **spec})
    seconds = time.perf_counter() - start
    response.raise_for_status()
    job = response.json()
    if job["phase"] in ("Failed", "Terminated"):
        raise SystemExit(f"the submit failed: {job['message']}")
    return seconds, du_bytes(state_dir) - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="rounds (default 7)")
    args = parser.parse_args()
    rounds: list[dict[tuple[str, str], tuple[float, int]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        make_big(os.path.join(tmp, "big"))
        make_small(os.path.join(tmp, "small"))
        server, port = launch(tmp, max_concurrent_jobs=4)
        client = api_client(port)
        state_dir = os.path.join(tmp, f"state-{port}")
        try:
            wait_until_answering(server, client, "instance")
            # Warm-up: the server's first-use costs (imports, sqlite pages) are not the figure.
            time_submit(client, state_dir)
            for n in range(args.rounds):
                figures = {("", "submit, no code_dir"): time_submit(client, state_dir)}
                for name, label in (("big", "one 100 MB file"), ("small", "1,000 small files")):
                    copy = f"{name}-{n}"
                    figures[label, "cp -r"] = time_cp(
                        os.path.join(tmp, name), os.path.join(tmp, copy)
                    )
                    for attempt in ("submit 1", "submit 2"):
                        figures[label, attempt] = time_submit(client, state_dir, code_dir=copy)
                rounds.append(figures)
        finally:
            client.close()
            server.terminate()
            server.wait(timeout=30)
    print(f"medians of {args.rounds} rounds; ratios to `cp -r` of the same round")
    print(
        f"{'code folder':<18} {'what':<20} {'time':>9} {'÷ cp -r':>8}  "
        f"{'snapshot':>9} {'÷ cp -r':>8}  {'disk added':>10}"
    )
    fixed = [r["", "submit, no code_dir"][0] for r in rounds]
    for key in rounds[0]:
        label, what = key
        times = [r[key][0] for r in rounds]
        added = statistics.median(r[key][1] for r in rounds) / 2**20
        line = f"{label:<18} {what:<20} {statistics.median(times) * 1000:6.1f} ms"
        if what.startswith("submit "):
            cp = [r[label, "cp -r"][0] for r in rounds]
            snap = [t - f for t, f in zip(times, fixed)]
            line += (
                f" {statistics.median(t / c for t, c in zip(times, cp)):7.2f}×  "
                f"{statistics.median(snap) * 1000:6.1f} ms "
                f"{statistics.median(s / c for s, c in zip(snap, cp)):7.2f}×"
            )
        else:
            line += f" {'':8}  {'':9} {'':8}"
        print(f"{line}  {added:7.2f} MB")


if __name__ == "__main__":
    main()
