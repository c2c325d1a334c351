"""Submit a hello-world job through the REST API N times; compare with a bare `python -c` spawn.

Usage: python bench/submit.py [-n 20]

Starts its own Jupyter server (local backend, temp state), then prints the medians of
submit → Running and submit → Completed next to the median of a bare interpreter spawn measured
in the same run, and their ratios.
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time

import httpx
from _server import api_client, launch, wait_until_answering


def start_server(tmp: str) -> tuple[subprocess.Popen, httpx.Client]:
    server, port = launch(tmp, max_concurrent_jobs=1)
    client = api_client(port, timeout=30)
    wait_until_answering(server, client, "instance")
    return server, client


def run_job(client: httpx.Client) -> tuple[float, float]:
    """Seconds from submit to Running and to Completed, polling every 5 ms."""
    start = time.perf_counter()
    response = client.post("jobs", json={"name": "hello", "code": "print('hello world')"})
    response.raise_for_status()
    job = response.json()
    running = time.perf_counter() - start if job["phase"] == "Running" else None
    while job["phase"] not in ("Completed", "Failed", "Terminated"):
        time.sleep(0.005)
        job = client.get(f"jobs/{job['id']}").json()
        if running is None and job["phase"] != "Pending":
            running = time.perf_counter() - start
    if job["phase"] != "Completed":
        raise SystemExit(f"the job ended {job['phase']}: {job['message']}")
    return running, time.perf_counter() - start


def bare_spawn() -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", "print('hello world')"], check=True, stdout=subprocess.DEVNULL
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20, help="jobs to submit (default 20)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server, client = start_server(tmp)
        try:
            run_job(client)  # warm-up: first-use costs (imports, sqlite pages) are not the figure
            runs = [run_job(client) for _ in range(args.n)]
            spawns = [bare_spawn() for _ in range(args.n)]
        finally:
            client.close()
            server.terminate()
            server.wait(timeout=30)
    to_running = statistics.median(r for r, _ in runs) * 1000
    to_completed = statistics.median(c for _, c in runs) * 1000
    spawn = statistics.median(spawns) * 1000
    print(f"jobs: {args.n} hello-world submits through the REST API (local backend)")
    print(f"median bare `python -c` spawn (baseline):  {spawn:7.1f} ms")
    print(f"median submit → Running:                   {to_running:7.1f} ms")
    print(
        f"median submit → Completed:                 {to_completed:7.1f} ms  "
        f"(ratio to baseline {to_completed / spawn:.2f}, +{to_completed - spawn:.1f} ms)"
    )


if __name__ == "__main__":
    main()
