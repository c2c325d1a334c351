"""What browser tabs cost and how soon they show a change, with 300 jobs in the history.

Usage: python bench/tabs.py [--seconds 60] [--jobs 5] [--history 300]

Starts its own Jupyter server (local backend, temp state, auto-stop on) and submits --history
jobs, each with a 3.4 KB cell as its code (the size the issue measured per list entry). Then
headless Chromium (/usr/bin/chromium through ui-tests' playwright-core: bench/tabs_browser.js)
opens JupyterLab tabs with the ModelArts panel and prints, next to the issue's goals:
- API requests per minute of one idle tab, of each of three idle tabs, and of a hidden tab (the
  page told it is hidden) over --seconds, and what the hidden tab asks when it comes back;
- for --jobs jobs, the time from each phase change on the server (the job's started_at and
  ended_at) to its display in every tab's panel and in a notebook cell output;
- the bytes of each pushed event a tab received, and of what it fetched per update;
- the bytes per entry of GET /jobs, and (the baseline, in this run) of a whole job, which is
  what each list entry was before lists paged summaries.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

from _server import TOKEN, api_client, launch, wait_until_answering

HERE = os.path.dirname(os.path.abspath(__file__))
# A notebook cell of the size the issue measured (3,429 B per job in the old list).
CELL = "# " + "a training cell, as long as the cells the issue measured " * 56 + "\nprint('done')\n"
FINAL = ("Completed", "Failed", "Terminated", "Abnormal")


def seed(client, count: int) -> None:
    """Submit ``count`` quick jobs and wait until they have all ended."""
    ids = []
    for i in range(count):
        response = client.post("jobs", json={"name": f"history-{i:03d}", "code": CELL})
        response.raise_for_status()
        ids.append(response.json()["id"])
    while True:
        page = client.get("jobs", params={"limit": 500}).json()
        if all(job["phase"] in FINAL for job in page["jobs"]):
            return


def entry_bytes(client, count: int) -> tuple[float, float]:
    """Bytes per entry of the first page of ``count`` jobs, and of a whole job (the baseline)."""
    listed = client.get("jobs", params={"limit": count})
    jobs = listed.json()["jobs"]
    whole = [len(client.get(f"jobs/{job['id']}").content) for job in jobs[:20]]
    return len(listed.content) / len(jobs), statistics.mean(whole)


def fmt_ms(values: list[float]) -> str:
    return f"median {statistics.median(values):5.0f} ms, max {max(values):5.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60, help="idle window (default 60)")
    parser.add_argument("--jobs", type=int, default=5, help="jobs whose changes are timed")
    parser.add_argument("--history", type=int, default=300, help="jobs in the history")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server, port = launch(
            tmp,
            sections={"LabApp": {"check_for_updates_class": "jupyterlab.NeverCheckForUpdate"}},
            auto_stop_enabled=True,
            auto_stop_duration=7200.0,
            # The timed jobs all run at once, each until its trigger file appears.
            max_concurrent_jobs=args.jobs + 1,
        )
        client = api_client(port)
        try:
            wait_until_answering(server, client, "instance")
            print(f"seeding {args.history} jobs…", file=sys.stderr)
            seed(client, args.history)
            per_entry, whole_job = entry_bytes(client, args.history)
            triggers = os.path.join(tmp, "triggers")
            os.mkdir(triggers)
            plan = {
                "base": f"http://127.0.0.1:{port}/",
                "token": TOKEN,
                "seconds": args.seconds,
                "jobs": args.jobs,
                "triggers": triggers,
            }
            print("browser…", file=sys.stderr)
            done = subprocess.run(
                ["node", os.path.join(HERE, "tabs_browser.js"), json.dumps(plan)],
                stdout=subprocess.PIPE,
                check=True,
            )
            out = json.loads(done.stdout)
        finally:
            client.close()
            server.terminate()
            server.wait(timeout=30)

    running = [ms for job in out["jobs"] for ms in job["running"]]
    completed_tabs = [ms for job in out["jobs"] for ms in job["completed"][:-1]]
    completed_cell = [job["completed"][-1] for job in out["jobs"]]
    frames = out["frames"]
    by_schema: dict[str, list[int]] = {}
    for frame in frames:
        by_schema.setdefault(frame["schema"], []).append(frame["bytes"])
    fetched = out["fetched"]
    fetched_bytes = sum(r["bytes"] for r in fetched)
    print(f"tabs of JupyterLab on one server, {args.history} jobs in the history")
    row("", "measured", "goal")
    row("requests/min, 1 idle tab", f"{out['idle1']:.1f}", "<= 1  (issue, before: 24)")
    idle3 = ", ".join(f"{r:.1f}" for r in out["idle3"])
    row("requests/min, each of 3 idle tabs", idle3, "<= 1  (before: 74 for three)")
    row("requests/min, a hidden tab", f"{out['hidden']:.1f}", "<= 1")
    row("requests of the hidden tab coming back", str(out["backToFront"]), "one refresh")
    row("phase change -> Running, 3 panels", fmt_ms(running), "<= 1000 ms (before: <= 10 s)")
    row("phase change -> Completed, 3 panels", fmt_ms(completed_tabs), "<= 1000 ms")
    row("phase change -> Completed, cell output", fmt_ms(completed_cell), "<= 1000 ms")
    for schema, sizes in sorted(by_schema.items()):
        text = f"{len(sizes)} frames, mean {statistics.mean(sizes):.0f}, max {max(sizes)}"
        row(f"bytes per {schema.split('/')[0]} event (ws frame)", text, "<= 10240")
    per_update = fetched_bytes / out["updates"]
    row(
        "bytes a tab fetched per job update",
        f"{len(fetched)} responses, {per_update:.0f} per update",
        "<= 10240 (the cell outputs' log reads)",
    )
    row(
        "bytes per GET /jobs entry",
        f"{per_entry:.0f}",
        f"<= 600 (baseline, a whole job: {whole_job:.0f}; issue: 3,429)",
    )


def row(label: str, measured: str, goal: str) -> None:
    print(f"{label:42}{measured:>34}  {goal}")


if __name__ == "__main__":
    main()
