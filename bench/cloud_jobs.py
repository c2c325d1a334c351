"""Upstream cost of listing cloud jobs, and the speed of reading a 50 MiB log, against the fake.

Usage: python bench/cloud_jobs.py [--viewers 20] [--seconds 5]

For 1, 10 and 100 live jobs (started on the fake ModelArts directly, as from the console), a
fresh Jupyter server on the ModelArts backend is polled by concurrent viewers (GET /jobs and
GET /jobs/{id}); it prints the upstream calls per cache interval. Then it reads a 50 MiB log
through GET /jobs/{id}/logs (1 MiB a request) from the line API (long and short lines) and from
the job's OBS log export, next to `cat` of the same file measured in the same run.
"""

import argparse
import asyncio
import math
import os
import subprocess
import sys
import tempfile
import time

import httpx
from _server import TOKEN, api_client, wait_until_answering
from _server import launch as start_server

sys.path.insert(
    0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests")
)
from fake_modelarts import FakeCloud  # noqa: E402

TTL_S = 1.0
SEARCHES, DETAILS, LINES = (
    r"/training-job-searches$",
    r"/training-jobs/[^/]+$",
    r"/training-jobs/[^/]+/logs/[^/]+$",
)
BIG_LOG = """
import sys
out = sys.stdout.buffer
body = b"x" * {width}
for i in range({lines}):
    out.write(b"%08d " % i + body + b"\\n")
"""


def launch(tmp: str, fake: FakeCloud) -> tuple[subprocess.Popen, httpx.Client]:
    base = fake.base_url
    server, port = start_server(
        tmp,
        sections={
            "ModelArtsApp": {
                "backend_class": "jupyter_modelarts.backends.modelarts.ModelArtsBackend"
            },
            "ModelArtsBackend": {
                "project_id": fake.project_id,
                "instance_id": fake.instance_id,
                "modelarts_endpoint": base,
                "iam_endpoint": base,
                "obs_endpoint": f"{base}/obs",
                "code_uri": "obs://bucket/jobs/",
                "cache_ttl": TTL_S,
                "credentials_file": "/nonexistent/credentials",
            },
        },
        env={"HUAWEICLOUD_SDK_AK": fake.ak, "HUAWEICLOUD_SDK_SK": fake.sk},
    )
    client = api_client(port)
    wait_until_answering(server, client, "flavors")
    return server, client


def start_fake(tmp: str) -> FakeCloud:
    fake = FakeCloud(workdir=os.path.join(tmp, f"fake-{time.monotonic_ns()}"), step_s=0.1)
    fake.start()
    fake.buckets["bucket"] = {}
    return fake


def wait_phase(fake: FakeCloud, job_id: str, phases: tuple[str, ...]) -> None:
    deadline = time.monotonic() + 120
    while fake.job_view(job_id)["status"]["phase"] not in phases:
        if time.monotonic() > deadline:
            raise SystemExit(f"job {job_id} never reached {phases}")
        time.sleep(0.05)


async def poll(base_url: str, ids: list[str], viewers: int, seconds: float) -> float:
    headers = {"Authorization": f"token {TOKEN}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as client:
        deadline = time.monotonic() + seconds

        async def viewer(index: int) -> None:
            while time.monotonic() < deadline:
                answer = await client.get("jobs", params={"limit": 500})
                listed = answer.raise_for_status().json()["jobs"]
                assert len(listed) == len(ids), len(listed)
                (await client.get(f"jobs/{ids[index % len(ids)]}")).raise_for_status()

        started = time.monotonic()
        await asyncio.gather(*(viewer(i) for i in range(viewers)))
        return time.monotonic() - started


def listing_cost(tmp: str, live: int, viewers: int, seconds: float) -> None:
    fake = start_fake(tmp)
    server, client = launch(tmp, fake)
    try:
        image = {"image_url": "swr.example.com/bench/idle:1"}
        ids = [
            fake.create_job(f"live-{i}", command="sleep 600", engine=image)["metadata"]["id"]
            for i in range(live)
        ]
        for job_id in ids:
            wait_phase(fake, job_id, ("Running",))
        client.get("jobs").raise_for_status()  # the first search of a new state dir
        searches, details = fake.count("POST", SEARCHES), fake.count("GET", DETAILS)
        elapsed = asyncio.run(poll(str(client.base_url), ids, viewers, seconds))
        intervals = elapsed / TTL_S
        calls = fake.count("POST", SEARCHES) - searches
        per_job = fake.count("GET", DETAILS) - details
        print(
            f"{live:4d} live jobs, {viewers} viewers, {intervals:4.1f} intervals: "
            f"{calls} search calls, {calls / intervals:.2f} per interval (a search is "
            f"{math.ceil(live / 50)} page(s) of 50), {per_job} per-job calls"
        )
    finally:
        server.terminate()
        server.wait(20)
        client.close()
        fake.stop()


def read_log(client: httpx.Client, job_id: str) -> tuple[float, int]:
    started = time.perf_counter()
    offset, size = 0, 0
    while True:
        response = client.get(
            f"jobs/{job_id}/logs", params={"offset": offset, "limit": 2**20}
        ).raise_for_status()
        chunk = response.json()
        size += len(chunk["content"].encode())
        if chunk["complete"]:
            return time.perf_counter() - started, size
        offset = chunk["next_offset"]


def cat(path: str) -> float:
    started = time.perf_counter()
    subprocess.run(["cat", path], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def log_speed(tmp: str) -> None:
    fake = start_fake(tmp)
    server, client = launch(tmp, fake)
    try:
        cases = []
        for label, width, lines in (
            ("line API, 1 KiB lines", 1015, 52_000),
            ("line API, 100 B lines", 91, 525_000),
        ):
            code = BIG_LOG.format(width=width, lines=lines)
            job_id = fake.create_job(f"log-{width}", code)["metadata"]["id"]  # no export
            cases.append((label, job_id))
        code = BIG_LOG.format(width=1015, lines=52_000)
        submitted = client.post("jobs", json={"name": "exported", "code": code})
        cases.append(("OBS export, ranged", submitted.raise_for_status().json()["id"]))
        for _, job_id in cases:
            wait_phase(fake, job_id, ("Completed",))
        for label, job_id in cases:
            while client.get(f"jobs/{job_id}").json()["phase"] != "Completed":
                time.sleep(0.1)
            path = str(fake.training.jobs[job_id].log_path("worker-0"))
            size = os.path.getsize(path)
            pages_before = fake.count("GET", LINES)
            seconds, got = read_log(client, job_id)
            if got != size:
                raise SystemExit(f"{label}: read {got} bytes of {size}")
            pages = fake.count("GET", LINES) - pages_before
            again, _ = read_log(client, job_id)
            baseline = cat(path)
            print(
                f"{label:24s} {size / 2**20:5.1f} MiB: first read {seconds:6.2f} s "
                f"({size / 2**20 / seconds:6.1f} MiB/s, {pages} line pages), "
                f"again from the mirror {again:5.2f} s; cat {baseline * 1000:5.1f} ms"
            )
    finally:
        server.terminate()
        server.wait(20)
        client.close()
        fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, default=20, help="concurrent viewers (20)")
    parser.add_argument("--seconds", type=float, default=5.0, help="polling time per case (5)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for live in (1, 10, 100):
            listing_cost(tmp, live, args.viewers, args.seconds)
        log_speed(tmp)


if __name__ == "__main__":
    main()
