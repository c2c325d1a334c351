"""What the checks cost: a run of POST /doctor on the local backend and on the fake ModelArts
(with a round trip of latency added to every upstream call), next to GET /instance on the same
server (one backend call: the floor of a request), and how many upstream calls a run makes.

Usage: python bench/doctor.py [--runs 10] [--latency-ms 30]
"""

import argparse
import statistics
import tempfile
import time

from _server import api_client, wait_until_answering
from _server import launch as start_server
from cloud_jobs import launch as start_cloud_server
from cloud_jobs import start_fake


def timed(client, method: str, path: str, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        response = client.request(method, path)
        times.append((time.perf_counter() - start) * 1000)
        response.raise_for_status()
    return times


def show(label: str, times: list[float]) -> None:
    print(f"  {label:<34} median {statistics.median(times):7.1f} ms   max {max(times):7.1f} ms")


def measure(client, runs: int, fake=None) -> dict:
    report = client.get("doctor").json()  # the run at start-up, ended
    show("GET /instance (floor)", timed(client, "GET", "instance", runs))
    show("GET /doctor (the kept report)", timed(client, "GET", "doctor", runs))
    calls = len(fake.calls) if fake else 0
    show("POST /doctor (a run of the checks)", timed(client, "POST", "doctor", runs))
    if fake:
        # The watcher's looks in the same seconds are counted too (a few).
        print(f"  {(len(fake.calls) - calls) / runs:.0f} upstream calls a run")
    return report


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--latency-ms", type=float, default=30.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server, port = start_server(tmp)
        try:
            client = api_client(port)
            wait_until_answering(server, client, "instance")
            print("local backend:")
            report = measure(client, args.runs)
            print(f"  {len(report['checks'])} checks")
        finally:
            server.terminate()
            server.wait()

        fake = start_fake(tmp)
        try:
            server, client = start_cloud_server(tmp, fake)
            try:
                client.get("doctor")
                fake.set_faults(rate=1.0, kinds=("latency",), latency_s=args.latency_ms / 1000)
                print(f"ModelArts backend (fake, {args.latency_ms:g} ms added to every call):")
                report = measure(client, args.runs, fake)
                print(f"  {len(report['checks'])} checks")
            finally:
                server.terminate()
                server.wait()
        finally:
            fake.stop()


if __name__ == "__main__":
    main()
