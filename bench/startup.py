"""Server start-up with and without the extension: time until the API answers, and memory.

Usage: python bench/startup.py [-n 5]

Starts `jupyter server` N times bare and N times with jupyter_modelarts (local backend, temp
state) and prints the medians of time-to-ready and resident memory, and their differences.
"""

import argparse
import statistics
import tempfile
import time

import httpx
import psutil
from _server import TOKEN, launch, wait_until_answering


def start_once(tmp: str, with_extension: bool) -> tuple[float, float]:
    """Seconds until GET /api/status answers; resident memory then, in MiB."""
    start = time.perf_counter()
    server, port = launch(tmp, extension=with_extension)
    try:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}/", headers={"Authorization": f"token {TOKEN}"}
        ) as client:
            wait_until_answering(server, client, "api/status")
        ready = time.perf_counter() - start
        rss = psutil.Process(server.pid).memory_info().rss / 2**20
    finally:
        server.terminate()
        server.wait(timeout=30)
    return ready, rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=5, help="starts of each kind (default 5)")
    args = parser.parse_args()
    runs: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.n):  # interleaved, so drift in machine load hits both alike
            for with_extension in (False, True):
                runs[with_extension].append(start_once(tmp, with_extension))
    bare_t = statistics.median(t for t, _ in runs[False])
    ext_t = statistics.median(t for t, _ in runs[True])
    bare_m = statistics.median(m for _, m in runs[False])
    ext_m = statistics.median(m for _, m in runs[True])
    print(f"starts: {args.n} of each, medians")
    print(f"bare jupyter server:        ready {bare_t * 1000:7.0f} ms   RSS {bare_m:6.1f} MiB")
    print(f"with jupyter_modelarts:     ready {ext_t * 1000:7.0f} ms   RSS {ext_m:6.1f} MiB")
    print(
        f"difference:                 {100 * (ext_t / bare_t - 1):+6.1f} %        "
        f"{ext_m - bare_m:+6.1f} MiB"
    )


if __name__ == "__main__":
    main()
