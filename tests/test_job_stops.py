"""Stops that survive a crash, no process left behind, stop/delete during the code snapshot,
and metrics that stay cheap however long the history (issue 9, items 3 and 4)."""

import asyncio
import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import time
import tracemalloc

from conftest import fresh_backend, pid_alive

FINAL = ("Completed", "Failed", "Terminated")


def extension(serverapp):
    return next(iter(serverapp.extension_manager.extension_apps["jupyter_modelarts"]))


def wait_gone(pid, timeout=10):
    """Wait for a process we signalled to be gone (a zombie counts as gone)."""
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    return not pid_alive(pid)


def logged_pids(server, job_id, task, word):
    """The pids a task printed after ``word``, once it has printed them."""
    chunk = server.wait_for(f"jobs/{job_id}/logs?task={task}", lambda c: word in c["content"])
    return [int(p) for p in chunk["content"].split(word)[1].split("\n")[0].split()]


# Holds a write lease on a file: whoever opens it (a snapshot or an output copy reading it) waits
# until this process lets go, and it says when that happens. A slow copy, deterministically.
_LEASE = """
import fcntl, os, signal, sys
signal.signal(signal.SIGIO, lambda *_: print("opened", flush=True))
fd = os.open(sys.argv[1], os.O_RDONLY)
fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_WRLCK)
print("held", flush=True)
sys.stdin.readline()
"""


@contextlib.contextmanager
def leased(path):
    holder = subprocess.Popen(
        [sys.executable, "-c", _LEASE, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline() == "held\n"
        yield holder
    finally:
        holder.kill()  # lets go of the lease
        holder.wait()


def opened(holder, timeout=20):
    """Whether someone opened the leased file (and now waits on it) within ``timeout``."""
    ready, _, _ = select.select([holder.stdout], [], [], timeout)
    return bool(ready) and holder.stdout.readline() == "opened\n"


# Ignores SIGTERM but says so in its log, so the test knows the stop's SIGTERM has been sent.
_TERM_IGNORED = """
import os, signal, sys, time
signal.signal(signal.SIGTERM, lambda *_: print("got TERM", flush=True))
open(os.path.join(os.environ["MA_JOB_DIR"], "ready-" + os.environ["VC_TASK_INDEX"]), "w")
print("pid", os.getpid(), flush=True)
while True:
    time.sleep(1)
"""
# Worker 1 fails once worker 0 has its handler: the job stops worker 0, which ignores SIGTERM.
_PEER_FAILS = """
import os, sys, time
if os.environ["VC_TASK_INDEX"] == "1":
    while not os.path.exists(os.path.join(os.environ["MA_JOB_DIR"], "ready-0")):
        time.sleep(0.02)
    sys.exit(7)
"""


# Leaves a background child behind and ends (once the test says so, through the file $GO).
_LEAVES_A_CHILD = (
    'sleep 300 & echo "ids $PPID $!"; while [ ! -e "$GO" ]; do sleep 0.02; done; exit 0'
)


# Writes its output, then ends once the test says so.
_WRITES_AN_OUTPUT = """
import argparse, os, time
p = argparse.ArgumentParser(); p.add_argument("--model"); a = p.parse_args()
with open(os.path.join(a.model, "weights.bin"), "w") as f:
    f.write("trained")
print("wrote", os.path.join(a.model, "weights.bin"), flush=True)
while not os.path.exists(os.environ["GO"]):
    time.sleep(0.02)
"""


def test_a_kill_9_of_the_server_loses_no_stop_no_leftover_and_no_output_copy(
    servers, ma_config, ma_dirs, tmp_path
):
    """What a crash of the server lost, one restart for all (a server starts in seconds):
    - the SIGKILL after the grace was a timer in memory: a job ignoring SIGTERM stayed
      Terminating forever (the peer of a failed worker, Running);
    - a task that ended while no server watched left its background children running for good;
    - the output copy ran on the event loop (a 1 GB output stalled every request for 2.4 s); now
      the server answers meanwhile, and a copy cut short is done again at start-up."""
    go_child, go_out = tmp_path / "go-child", tmp_path / "go-out"
    first = servers(ma_config, "first")

    def submit(name, nodes=1, **spec):
        return first.call("POST", "jobs", {"name": name, "nodes": nodes, **spec}, expect=201)

    child_job = submit("child", command=_LEAVES_A_CHILD, env={"GO": str(go_child)})
    out_job = submit(
        "out",
        code=_WRITES_AN_OUTPUT,
        outputs={"model": "obs://bucket/out/"},
        env={"GO": str(go_out)},
    )
    wrapper, child = logged_pids(first, child_job["id"], "worker-0", "ids")
    chunk = first.wait_for(f"jobs/{out_job['id']}/logs", lambda c: "wrote" in c["content"])
    with leased(chunk["content"].split()[1]) as holder:
        go_out.touch()  # the job ends; the copy of its output waits on the lease
        assert opened(holder)
        copying = first.call("GET", f"jobs/{out_job['id']}")
        assert copying["phase"] == "Running", copying
        assert [t["phase"] for t in copying["tasks"]] == ["Completed"]

        stopped = submit("stopped", code=_TERM_IGNORED)
        peer = submit("peer", nodes=2, code=_PEER_FAILS + _TERM_IGNORED)
        (stopped_pid,) = logged_pids(first, stopped["id"], "worker-0", "pid")
        (peer_pid,) = logged_pids(first, peer["id"], "worker-0", "pid")
        assert first.call("POST", f"jobs/{stopped['id']}/stop", expect=202)["phase"] == (
            "Terminating"
        )
        logged_pids(first, stopped["id"], "worker-0", "got TERM")
        logged_pids(first, peer["id"], "worker-0", "got TERM")
        first.kill(signal.SIGKILL)  # well within the 2 s grace, in the middle of the copy
    go_child.touch()
    assert wait_gone(wrapper)  # the task ended while no server was there to see it
    assert pid_alive(child)
    copied = ma_dirs["objects"] / "bucket" / "out" / "weights.bin"
    assert not copied.exists()

    second = servers(ma_config, "second")

    def final(job):
        return second.wait_for(f"jobs/{job['id']}", lambda j: j["phase"] in FINAL, timeout=10)

    assert final(stopped)["phase"] == "Terminated"
    job = final(peer)
    assert job["phase"] == "Failed" and job["exit_code"] == 7, job
    assert wait_gone(stopped_pid) and wait_gone(peer_pid)
    assert final(child_job)["phase"] == "Completed"
    assert wait_gone(child)
    assert final(out_job)["phase"] == "Completed"
    assert copied.read_text() == "trained"


async def test_leftover_processes_die_when_their_task_ends_or_is_stopped(api, tmp_path):
    """`sleep 300 &` outlived its job: nothing signalled the group once the wrapper had exited,
    neither at its end nor at a later stop of the job."""
    go = tmp_path / "go"
    go.touch()
    _, ended = await api.call(
        "POST",
        "jobs",
        {"name": "ends", "command": _LEAVES_A_CHILD, "env": {"GO": str(go)}},
        expect=201,
    )
    # Worker 0 leaves a child and ends; worker 1 runs until the job is stopped.
    two = 'if [ "$VC_TASK_INDEX" = 1 ]; then exec sleep 300; fi; ' + _LEAVES_A_CHILD
    _, stopped = await api.call(
        "POST",
        "jobs",
        {"name": "stopped", "command": two, "nodes": 2, "env": {"GO": str(go)}},
        expect=201,
    )
    children = []
    for job in (ended, stopped):
        chunk = await api.wait_for(
            f"jobs/{job['id']}/logs", lambda c: "ids" in c["content"], task="worker-0"
        )
        children.append(int(chunk["content"].split()[2]))
    ended = await api.wait_for(f"jobs/{ended['id']}", lambda j: j["phase"] in FINAL)
    assert ended["phase"] == "Completed"
    await api.wait_for(
        f"jobs/{stopped['id']}", lambda j: j["tasks"][0]["phase"] == "Completed", timeout=10
    )
    await api.call("POST", f"jobs/{stopped['id']}/stop", expect=202)
    stopped = await api.wait_for(f"jobs/{stopped['id']}", lambda j: j["phase"] in FINAL)
    assert stopped["phase"] == "Terminated"
    for pid in children:
        assert await asyncio.to_thread(wait_gone, pid)


async def submit_during_a_slow_snapshot(api, jp_root_dir, during):
    """Submit a code_dir job whose snapshot waits on a lease; call ``during(job)`` meanwhile;
    returns what the submit answered."""
    project = jp_root_dir / "project"
    project.mkdir()
    (project / "train.py").write_text("print('ran')\n")
    with leased(project / "train.py") as holder:
        submit = asyncio.ensure_future(
            api.call(
                "POST", "jobs", {"name": "slow", "code_dir": "project", "boot_file": "train.py"}
            )
        )
        assert await asyncio.to_thread(opened, holder)
        (job,) = (await api.get("jobs"))["jobs"]
        assert job["phase"] == "Creating"
        await during(job)
    return await asyncio.wait_for(submit, 20)


async def test_a_stop_during_the_snapshot_is_honoured(api, jp_root_dir):
    """The submit saved its stale record back as Pending after the snapshot and ran the job."""

    async def stop(job):
        _, stopped = await api.call("POST", f"jobs/{job['id']}/stop", expect=202)
        assert stopped["phase"] == "Terminated"

    code, job = await submit_during_a_slow_snapshot(api, jp_root_dir, stop)
    assert code == 201 and job["phase"] == "Terminated", job
    job = await api.get(f"jobs/{job['id']}")
    assert job["phase"] == "Terminated" and job["started_at"] is None
    assert [t["phase"] for t in job["tasks"]] == ["Terminated"]


async def test_a_delete_during_the_snapshot_is_honoured(api, jp_root_dir, jp_serverapp):
    """A job stopped and deleted while its code was copied came back (as Pending, then ran)."""
    deleted = []

    async def stop_and_delete(job):
        await api.call("POST", f"jobs/{job['id']}/stop", expect=202)
        await api.call("DELETE", f"jobs/{job['id']}", expect=204)
        deleted.append(job["id"])

    code, error = await submit_during_a_slow_snapshot(api, jp_root_dir, stop_and_delete)
    assert code == 404 and error["field"] == "job_id", error
    assert (await api.get("jobs"))["jobs"] == []
    await api.call("GET", f"jobs/{deleted[0]}", expect=404)
    runner = extension(jp_serverapp).backend.jobs
    assert not os.path.exists(os.path.join(runner.jobs_dir, deleted[0]))


def history(start_ms, points, interval_ms=2000):
    """A metrics file's lines as the sampler writes them: one point every ``interval_ms``."""
    return "".join(
        json.dumps({"t": start_ms + i * interval_ms, "cpu": i % 400 / 2, "mem": 1000 + i % 97})
        + "\n"
        for i in range(points)
    )


async def peak_bytes_of(call):
    """What a call answers, and the most memory Python held for it at once."""
    tracemalloc.start()
    try:
        answer = await call
        return answer, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


async def test_metrics_stay_bounded_however_long_the_history(api, jp_serverapp):
    """Every call re-parsed the whole metrics file on the event loop (2.8 s for 72 hours): now
    a running job answers from memory and an ended one from the file's tail."""
    _, job = await api.call(
        "POST", "jobs", {"name": "m", "code": "import time\ntime.sleep(300)\n"}, expect=201
    )
    running = await api.wait_for(
        f"jobs/{job['id']}/metrics", lambda m: len(m["series"][1]["points"]) >= 2
    )
    sampled = running["series"][1]["points"]
    # A server started anew (as after a crash) goes on from what the file holds.
    restarted = fresh_backend(jp_serverapp)
    await restarted.start()
    try:
        again = (await restarted.get_metrics(job["id"])).to_json()
    finally:
        await restarted.close()
    assert again["series"][1]["points"][: len(sampled)] == sampled

    runner = extension(jp_serverapp).backend.jobs
    path = os.path.join(runner.jobs_dir, job["id"], "tasks", "worker-0", "metrics.jsonl")
    hours72 = 72 * 3600 * 1000 // 2000  # points of 72 hours, one every 2 s (the default)
    old = history(job["created_at"] - 72 * 3600 * 1000, hours72)
    with open(path, "a") as f:  # in the file, not what this server sampled
        f.write(old)
    metrics, peak = await peak_bytes_of(api.get(f"jobs/{job['id']}/metrics"))
    assert peak < 4 * 2**20, peak
    cpu, mem = metrics["series"]
    assert mem["points"][: len(sampled)] == sampled
    assert all(t >= job["created_at"] for t, _ in cpu["points"] + mem["points"])

    await api.call("POST", f"jobs/{job['id']}/stop", expect=202)
    await api.wait_for(f"jobs/{job['id']}", lambda j: j["phase"] in FINAL)
    with open(path, "w") as f:  # 72 hours of history of an ended job: only its tail is read
        f.write(old)
    metrics, peak = await peak_bytes_of(api.get(f"jobs/{job['id']}/metrics"))
    assert peak < 4 * 2**20, peak
    last = [json.loads(line) for line in old.splitlines()[-720:]]
    cpu, mem = metrics["series"]
    assert cpu["points"] == [[p["t"], p["cpu"]] for p in last]
    assert mem["points"] == [[p["t"], p["mem"]] for p in last]
