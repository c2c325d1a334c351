"""How long the event loop keeps a plain request waiting while the server does heavy work.

Usage: python bench/loop.py [--seconds 6] [--image-mb 150] [--output-mb 1024]

Starts its own Jupyter server (local backend, temp state) and measures the latency of
GET /jupyter-modelarts/instance, a route that does nothing heavy, first idle, then while
(a) seven image saves run (image_paths: a folder of --image-mb MB of incompressible files),
(b) job views read a 72-hour metrics history (one point per metrics_interval, 2 s), five reads
    a second (a job view asks every 1-3 s),
(c) a job's 1 GB output is copied to the object store as the job ends.
Prints p50, p99 and max per case next to the idle figure of the same run. Goal: p99 <= 50 ms.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import httpx
from _server import TOKEN, api_client, launch, wait_until_answering

FINAL_JOB = ("Completed", "Failed", "Terminated")
FINAL_IMAGE = ("ACTIVE", "CREATE_FAILED")
METRICS_INTERVAL_S = 2.0


class Prober:
    """GET instance every 10 ms, on a connection of its own. Each latency counts from when the
    request was due, not sent: a stall of the server delays every request due meanwhile, and
    each of them counts (no coordinated omission)."""

    def __init__(self, port: int):
        self.port = port
        self.latencies: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with api_client(self.port) as http:
            due = done = time.perf_counter()
            while not self._stop.is_set():
                self._stop.wait(due - time.perf_counter())
                http.get("instance").raise_for_status()
                done = time.perf_counter()
                self.latencies.append(done - due)
                due += 0.01
            # Those that fell due during the last request would have waited until it ended.
            while due < done:
                self.latencies.append(done - due)
                due += 0.01

    def __enter__(self) -> "Prober":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def figures(self) -> tuple[float, float, float, int]:
        """p50, p99 and max in ms, and the number of requests."""
        cuts = statistics.quantiles(self.latencies, n=100, method="inclusive")
        return cuts[49] * 1000, cuts[98] * 1000, max(self.latencies) * 1000, len(self.latencies)


def wait_until(http: httpx.Client, path: str, done, timeout: float = 600) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = http.get(path).json()
        if done(body):
            return body
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting on {path}: {body}")
        time.sleep(0.2)


def write_random_tree(folder: str, total_mb: int, files: int = 20) -> None:
    os.makedirs(folder)
    block = os.urandom(1 << 20)
    per_file = max(1, total_mb // files)
    for i in range(files):
        with open(os.path.join(folder, f"blob-{i}.bin"), "wb") as f:
            for j in range(per_file):
                # A different first byte per MiB: nothing for gzip or a dedup to collapse.
                f.write(bytes([(i * per_file + j) % 256]) + block[1:])


def idle(port: int, seconds: float) -> Prober:
    with Prober(port) as prober:
        time.sleep(seconds)
    return prober


def image_saves(port: int, http: httpx.Client) -> Prober:
    with Prober(port) as prober:
        ids = []
        for i in range(7):
            answer = http.post("images", json={"name": f"loop-bench-{i}", "tag": "v1"})
            answer.raise_for_status()
            ids.append(answer.json()["id"])
        for image_id in ids:
            image = wait_until(http, f"images/{image_id}", lambda i: i["status"] in FINAL_IMAGE)
            if image["status"] != "ACTIVE":
                print(f"  (an image save ended {image['status']}: {image['status_message']})")
    return prober


_VIEWER = """
import sys, time, httpx
port, token, job_id, seconds, pause = sys.argv[1:]
http = httpx.Client(headers={"Authorization": f"token {token}"}, timeout=120)
url = f"http://127.0.0.1:{port}/jupyter-modelarts/jobs/{job_id}/metrics"
reads, points, end = 0, 0, time.monotonic() + float(seconds)
while time.monotonic() < end:
    points = len(http.get(url).json()["series"][0]["points"])
    reads += 1
    time.sleep(float(pause))
print(reads, points)
"""


def metrics_job(http: httpx.Client, state_dir: str) -> str:
    """An ended job whose task's metrics file holds 72 hours of history."""
    job = http.post("jobs", json={"name": "history", "code": "print('hello')"}).json()
    job = wait_until(http, f"jobs/{job['id']}", lambda j: j["phase"] in FINAL_JOB)
    path = os.path.join(state_dir, "jobs", job["id"], "tasks", "worker-0", "metrics.jsonl")
    points = int(72 * 3600 / METRICS_INTERVAL_S)
    start_ms = job["created_at"] - 72 * 3600 * 1000
    with open(path, "w") as f:
        for i in range(points):
            t = start_ms + int(i * METRICS_INTERVAL_S * 1000)
            f.write(json.dumps({"t": t, "cpu": round(95 + i % 13 * 0.7, 1), "mem": 2048.5}) + "\n")
    print(f"  (b) {points} points ({os.path.getsize(path) / 2**20:.1f} MB) of history")
    return job["id"]


def metrics_reads(port: int, job_id: str, seconds: float, pause: float) -> Prober:
    """Job views reading the metrics, ``pause`` s apart (one view asks every 1-3 s), from a
    process of their own so that their parsing doesn't hold up the prober's thread."""
    viewer = subprocess.Popen(
        [sys.executable, "-c", _VIEWER, str(port), TOKEN, job_id, str(seconds), str(pause)],
        stdout=subprocess.PIPE,
        text=True,
    )
    with Prober(port) as prober:
        reads, points_each = viewer.communicate()[0].split()
    print(f"  (b) {reads} metrics reads {pause * 1000:.0f} ms apart, {points_each} points each")
    return prober


def output_copy(port: int, http: httpx.Client, output_mb: int) -> Prober:
    code = (
        "import argparse, os\n"
        "p = argparse.ArgumentParser(); p.add_argument('--model'); a = p.parse_args()\n"
        "block = os.urandom(1 << 20)\n"
        "with open(os.path.join(a.model, 'weights.bin'), 'wb') as f:\n"
        f"    for _ in range({output_mb}): f.write(block)\n"
    )
    with Prober(port) as prober:
        # From the submit: the job writes its output, then the server copies it as it ends.
        job = http.post(
            "jobs",
            json={"name": "output", "code": code, "outputs": {"model": "obs://bucket/out/"}},
        ).json()
        job = wait_until(http, f"jobs/{job['id']}", lambda j: j["phase"] in FINAL_JOB)
    if job["phase"] != "Completed":
        raise SystemExit(f"the output job ended {job['phase']}: {job['message']}")
    return prober


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6, help="idle and (b) duration")
    parser.add_argument("--image-mb", type=int, default=150, help="size of image_paths (MB)")
    parser.add_argument("--output-mb", type=int, default=1024, help="size of the job output")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env_dir = os.path.join(tmp, "env")
        write_random_tree(env_dir, args.image_mb)
        os.makedirs(os.path.join(tmp, "objects", "bucket"))
        server, port = launch(
            tmp,
            object_store_root=os.path.join(tmp, "objects"),
            image_paths=[env_dir],
            metrics_interval=METRICS_INTERVAL_S,
        )
        state_dir = os.path.join(tmp, f"state-{port}")
        http = api_client(port)
        try:
            wait_until_answering(server, http, "instance")
            rows = [("idle", idle(port, args.seconds))]
            rows.append(("(a) 7 image saves", image_saves(port, http)))
            job_id = metrics_job(http, state_dir)
            rows.append(
                ("(b) 72 h metrics, 5 reads/s", metrics_reads(port, job_id, args.seconds, 0.2))
            )
            rows.append(
                (f"(c) {args.output_mb} MB output copy", output_copy(port, http, args.output_mb))
            )
        finally:
            http.close()
            server.terminate()
            server.wait(timeout=60)
    print(f"GET /jupyter-modelarts/instance latency ({os.cpu_count()} cores); goal p99 <= 50 ms")
    print(f"{'case':<32} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'requests':>9}")
    for name, prober in rows:
        p50, p99, worst, count = prober.figures()
        print(f"{name:<32} {p50:8.1f} {p99:8.1f} {worst:8.1f} {count:9d}")


if __name__ == "__main__":
    main()
