"""Reading a big log, its tail, and how soon a new line shows, on the local backend.

Usage: python bench/logs.py [--lines 1000000]

Starts its own Jupyter server (local backend, temp state) and a job that prints --lines lines of
25 bytes (25 MB by default). Prints, next to `cat` of the same file in the same run:
- the whole log read through the raw route (GET /jobs/{id}/tasks/worker-0/log, streamed) and
  through the JSON chunk route (GET /jobs/{id}/logs, 64 KiB a request, as the job view read it);
- the time to get the last 64 KiB (Range: bytes=-65536), for this log and a one-line one.
Goals: >= 300 MB/s through the raw route; the tail in < 1 s whatever the size.
Then a job that prints a timestamped line every 150 ms, followed as a job view follows it: on
each log event (the server's watcher calls log_sizes) the new bytes are read with a Range from
the size known so far; it prints how long after its write each line was in hand. Goal: < 1 s.
Also printed: the same through polling the raw route every 10 ms (the route's own freshness).
"""

import argparse
import asyncio
import http.client
import json
import os
import statistics
import subprocess
import tempfile
import time

import httpx
from _server import TOKEN, api_client, launch, wait_until_answering
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

FINAL = ("Completed", "Failed", "Terminated")
TAIL = 64 * 1024
LOG_EVENT = "https://jupyter-modelarts.github.io/events/log/v1"
BIG = """
import sys
out = sys.stdout.buffer
for block in range(0, {lines}, 10000):
    out.write("".join(
        f"step {{i:07d}} loss {{(i % 9973) / 9973:.4f}}\\n"
        for i in range(block, min(block + 10000, {lines}))
    ).encode())
"""
TICKS = 30
TICKING = f"""
import time
for _ in range({TICKS}):
    print(f"{{time.time():.6f}}", flush=True)
    time.sleep(0.15)
"""


def run_job(client: httpx.Client, name: str, code: str) -> str:
    job = client.post("jobs", json={"name": name, "code": code})
    job.raise_for_status()
    return job.json()["id"]


def wait_job(client: httpx.Client, job_id: str) -> None:
    while True:
        phase = client.get(f"jobs/{job_id}").json()["phase"]
        if phase in FINAL:
            if phase != "Completed":
                raise SystemExit(f"the job {job_id} ended {phase}")
            return
        time.sleep(0.05)


def best(runs: int, measure) -> float:
    return min(measure() for _ in range(runs))


def cat(path: str) -> float:
    started = time.perf_counter()
    subprocess.run(["cat", path], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def raw_read(port: int, job_id: str, size: int) -> float:
    # The stdlib client reading into one buffer: as fast as curl here (httpx's Python-level
    # chunking costs it about half).
    connection = http.client.HTTPConnection("127.0.0.1", port)
    buffer = memoryview(bytearray(1024 * 1024))
    started = time.perf_counter()
    connection.request(
        "GET",
        f"/jupyter-modelarts/jobs/{job_id}/tasks/worker-0/log",
        headers={"Authorization": f"token {TOKEN}"},
    )
    response = connection.getresponse()
    assert response.status == 200, response.status
    got = 0
    while read := response.readinto(buffer):
        got += read
    elapsed = time.perf_counter() - started
    connection.close()
    assert got == size, (got, size)
    return elapsed


def chunk_read(client: httpx.Client, job_id: str, size: int) -> float:
    started = time.perf_counter()
    offset = 0
    while True:
        chunk = client.get(f"jobs/{job_id}/logs", params={"offset": offset}).json()
        if chunk["next_offset"] == offset:
            break
        offset = chunk["next_offset"]
    elapsed = time.perf_counter() - started
    assert offset == size, (offset, size)
    return elapsed


def tail_times(client: httpx.Client, job_id: str, times: int = 20) -> list[float]:
    found = []
    for _ in range(times):
        started = time.perf_counter()
        response = client.get(
            f"jobs/{job_id}/tasks/worker-0/log", headers={"Range": f"bytes=-{TAIL}"}
        )
        assert response.status_code in (200, 206), response.status_code
        found.append(time.perf_counter() - started)
    return found


def mb_s(size: int, seconds: float) -> str:
    return f"{size / seconds / 1e6:7.0f} MB/s ({seconds * 1000:6.1f} ms)"


def ms(values: list[float], what: str = "lines") -> str:
    return (
        f"median {statistics.median(values) * 1000:6.1f} ms, "
        f"max {max(values) * 1000:6.1f} ms ({len(values)} {what})"
    )


class Follower:
    """Follows one task's log from byte 0: reads what is new with a Range, and records for each
    line (an epoch timestamp) how long after its write it was in hand."""

    def __init__(self, client: httpx.AsyncClient, job_id: str):
        self.client = client
        self.path = f"jobs/{job_id}/tasks/worker-0/log"
        self.size = 0
        self.partial = b""
        self.delays: list[float] = []

    async def read_new(self) -> bool:
        """Reads past the known size; False once the log is complete and all read."""
        response = await self.client.get(self.path, headers={"Range": f"bytes={self.size}-"})
        if response.status_code in (200, 206):
            now = time.time()
            self.size += len(response.content)
            *lines, self.partial = (self.partial + response.content).split(b"\n")
            self.delays += [now - float(line) for line in lines]
        elif response.status_code != 416:
            raise SystemExit(f"{self.path}: {response.status_code} {response.text}")
        complete = response.headers["X-ModelArts-Log-Complete"] == "true"
        return not complete or response.status_code != 416


async def follow_by_events(port: int, client: httpx.AsyncClient) -> list[float]:
    request = HTTPRequest(
        f"ws://127.0.0.1:{port}/api/events/subscribe",
        headers={"Authorization": f"token {TOKEN}"},
    )
    socket = await websocket_connect(request)
    try:
        job = await client.post("jobs", json={"name": "ticks-events", "code": TICKING})
        follower = Follower(client, job.json()["id"])
        while True:
            try:
                message = await asyncio.wait_for(socket.read_message(), 5)
            except asyncio.TimeoutError:
                raise SystemExit("no log event in 5 s: is the server's watcher running?") from None
            if message is None:
                raise SystemExit("the events socket closed")
            event = json.loads(message)
            if event["schema_id"] != LOG_EVENT or event["job_id"] != job.json()["id"]:
                continue
            if event["size"] > follower.size:
                await follower.read_new()
            if len(follower.delays) >= TICKS:
                return follower.delays
    finally:
        socket.close()


async def follow_by_polling(client: httpx.AsyncClient) -> list[float]:
    job = await client.post("jobs", json={"name": "ticks-polled", "code": TICKING})
    follower = Follower(client, job.json()["id"])
    while await follower.read_new():
        await asyncio.sleep(0.01)
    return follower.delays


async def freshness(port: int) -> None:
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}/jupyter-modelarts/",
        headers={"Authorization": f"token {TOKEN}"},
        timeout=30,
    ) as client:
        polled = await follow_by_polling(client)
        print(f"new line in hand, polling the raw route every 10 ms: {ms(polled)}")
        by_events = await follow_by_events(port, client)
        print(f"new line in hand, log event + Range read:            {ms(by_events)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-logs-") as tmp:
        server, port = launch(tmp)
        try:
            client = api_client(port)
            wait_until_answering(server, client, "instance")
            big = run_job(client, "big-log", BIG.format(lines=args.lines))
            small = run_job(client, "small-log", "print('one line')")
            wait_job(client, big)
            wait_job(client, small)
            path = os.path.join(tmp, f"state-{port}", "jobs", big, "tasks", "worker-0", "log")
            size = os.path.getsize(path)
            print(f"log: {args.lines:,} lines, {size / 1e6:.1f} MB")
            baseline = best(3, lambda: cat(path))
            print(f"cat:                          {mb_s(size, baseline)}")
            raw = best(3, lambda: raw_read(port, big, size))
            print(
                f"raw route (1 MiB pieces):     {mb_s(size, raw)}, "
                f"{raw / baseline:.1f}x cat  (goal >= 300 MB/s)"
            )
            chunked = chunk_read(client, big, size)
            slower = chunked / baseline
            print(f"JSON chunk route (64 KiB):    {mb_s(size, chunked)}, {slower:.0f}x cat")
            for name, job_id in (("this log:", big), ("a one-line log:", small)):
                tails = tail_times(client, job_id)
                print(f"last 64 KiB of {name:16}{ms(tails, 'reads')}  (goal < 1 s)")
            asyncio.run(freshness(port))
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
