"""Local jobs through the REST API: real processes, real logs, real signals."""

import os
import textwrap

import pytest

from conftest import pid_alive
from jupyter_modelarts.models import log_piece

FINAL = ("Completed", "Failed", "Terminated")


async def submit(api, expect=201, **spec):
    spec.setdefault("name", "test-job")
    return await api.call("POST", "jobs", spec, expect=expect)


async def wait_final(api, job_id, timeout=30):
    return await api.wait_for(f"jobs/{job_id}", lambda j: j["phase"] in FINAL, timeout)


async def full_log(api, job_id, task):
    chunks, offset = [], 0
    while True:
        chunk = await api.get(f"jobs/{job_id}/logs", task=task, offset=str(offset))
        chunks.append(chunk["content"])
        if chunk["next_offset"] == offset:
            return "".join(chunks), chunk
        offset = chunk["next_offset"]


async def test_two_node_job_each_worker_sees_its_index(api):
    code = textwrap.dedent("""
        import os, sys
        print("task", os.environ["VC_TASK_INDEX"], "of", os.environ["MA_NUM_HOSTS"],
              "rank", os.environ["RANK"], "world", os.environ["WORLD_SIZE"],
              "master", os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"])
        print("args", sys.argv[1:])
    """)
    _, job = await submit(api, code=code, nodes=2, parameters={"lr": "0.1", "epochs": 3})
    assert job["phase"] in ("Pending", "Running")
    assert [t["name"] for t in job["tasks"]] == ["worker-0", "worker-1"]
    job = await wait_final(api, job["id"])
    assert job["phase"] == "Completed", job
    assert job["exit_code"] == 0
    assert [t["phase"] for t in job["tasks"]] == ["Completed", "Completed"]
    for index in (0, 1):
        log, chunk = await full_log(api, job["id"], f"worker-{index}")
        assert f"task {index} of 2 rank {index} world 2 master 127.0.0.1" in log
        assert "args ['--lr=0.1', '--epochs=3']" in log
        assert chunk["complete"] is True


async def test_failing_script_is_failed_with_its_exit_code(api):
    _, job = await submit(api, code="import sys\nprint('bad input')\nsys.exit(3)\n")
    job = await wait_final(api, job["id"])
    assert job["phase"] == "Failed"
    assert job["exit_code"] == 3
    assert "worker-0 exited with code 3" in job["message"]
    log, _ = await full_log(api, job["id"], "worker-0")
    assert "bad input" in log


async def test_one_failed_worker_fails_the_job_and_stops_its_peer(api):
    code = textwrap.dedent("""
        import os, sys, time
        if os.environ["VC_TASK_INDEX"] == "1":
            sys.exit(7)
        time.sleep(60)
    """)
    _, job = await submit(api, code=code, nodes=2)
    job = await wait_final(api, job["id"], timeout=20)
    assert job["phase"] == "Failed"
    assert job["exit_code"] == 7
    assert "worker-1" in job["message"]


async def test_stop_terminates_the_process_group(api, ma_dirs):
    code = textwrap.dedent("""
        import os, subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        print("pids", os.getpid(), child.pid, flush=True)
        time.sleep(120)
    """)
    _, job = await submit(api, code=code)
    chunk = await api.wait_for(f"jobs/{job['id']}/logs", lambda c: "pids" in c["content"])
    pids = [int(p) for p in chunk["content"].split("pids")[1].split()[:2]]
    assert all(pid_alive(p) for p in pids)
    _, stopped = await api.call("POST", f"jobs/{job['id']}/stop", expect=202)
    assert stopped["phase"] == "Terminating"
    job = await wait_final(api, job["id"])
    assert job["phase"] == "Terminated"
    assert not any(pid_alive(p) for p in pids)
    code, error = await api.call("POST", f"jobs/{job['id']}/stop")
    assert code == 409 and error["field"] == "job_id"


async def test_stop_escalates_to_sigkill_after_the_grace_period(api):
    code = (
        "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('ready', flush=True)\ntime.sleep(120)\n"
    )
    _, job = await submit(api, code=code)
    await api.wait_for(f"jobs/{job['id']}/logs", lambda c: "ready" in c["content"])
    await api.call("POST", f"jobs/{job['id']}/stop", expect=202)
    job = await wait_final(api, job["id"], timeout=15)
    assert job["phase"] == "Terminated"


async def test_code_dir_snapshot_inputs_outputs(api, ma_dirs, jp_root_dir):
    code_dir = jp_root_dir / "project"
    (code_dir / "pkg").mkdir(parents=True)
    (code_dir / "pkg" / "helper.py").write_text("VALUE = 42\n")
    (code_dir / ".git").mkdir()
    (code_dir / ".git" / "HEAD").write_text("ref\n")
    (code_dir / "train.py").write_text(
        textwrap.dedent("""
        import argparse, os
        from pkg.helper import VALUE
        p = argparse.ArgumentParser()
        p.add_argument("--data"); p.add_argument("--model")
        a = p.parse_args()
        print("value", VALUE, "git", os.path.exists(".git"))
        print("data", open(os.path.join(a.data, "x.txt")).read())
        open(os.path.join(a.model, "weights.bin"), "w").write("trained")
    """)
    )
    (ma_dirs["objects"] / "bucket" / "in").mkdir()
    (ma_dirs["objects"] / "bucket" / "in" / "x.txt").write_text("hello-data")
    _, job = await submit(
        api,
        code_dir=str(code_dir),
        boot_file="train.py",
        inputs={"data": "obs://bucket/in/"},
        outputs={"model": "obs://bucket/out/model/"},
    )
    # The snapshot is taken at submit: later edits do not reach the job.
    (code_dir / "pkg" / "helper.py").write_text("VALUE = 0\n")
    job = await wait_final(api, job["id"])
    log, _ = await full_log(api, job["id"], "worker-0")
    assert job["phase"] == "Completed", log
    assert "value 42 git False" in log
    assert "data hello-data" in log
    assert (
        ma_dirs["objects"] / "bucket" / "out" / "model" / "weights.bin"
    ).read_text() == "trained"


async def test_command_job(api):
    _, job = await submit(api, command='echo from-shell $VC_TASK_INDEX "$@"', parameters={"k": "v"})
    job = await wait_final(api, job["id"])
    log, _ = await full_log(api, job["id"], "worker-0")
    assert job["phase"] == "Completed"
    assert "from-shell 0" in log


async def test_snapshot_limits_are_400_naming_the_limit(api, jp_root_dir):
    many = jp_root_dir / "many"
    many.mkdir()
    for i in range(1001):
        (many / f"f{i}.py").write_text("")
    code, error = await submit(api, expect=400, code_dir=str(many), code="print(1)")
    assert error["field"] == "code_dir" and "1000 files" in error["message"]
    big = jp_root_dir / "big"
    big.mkdir()
    with open(big / "weights.bin", "wb") as f:  # sparse: 5 GB + 1 byte without using the disk
        f.truncate(5 * 1024**3 + 1)
    code, error = await submit(api, expect=400, code_dir=str(big), code="print(1)")
    assert error["field"] == "code_dir" and "5 GB" in error["message"]
    # Excluded folders do not count towards the limit.
    ok = jp_root_dir / "ok"
    (ok / "__pycache__").mkdir(parents=True)
    (ok / "venv").mkdir()
    (ok / "venv" / "pyvenv.cfg").write_text("home = /usr\n")
    for i in range(1001):
        (ok / "__pycache__" / f"f{i}.pyc").write_text("")
        (ok / "venv" / f"f{i}").write_text("")
    await submit(api, code_dir=str(ok), code="print(1)")


async def test_bad_specs_get_400_naming_the_field(api):
    cases = [
        ({"code": "x"}, "name"),
        ({"name": "bad name!", "code": "x"}, "name"),
        ({"name": "job\n", "code": "x"}, "name"),
        ({"name": "j", "code": "x", "env": {"A\n": "1"}}, "env.A\n"),
        ({"name": "j"}, "code"),
        ({"name": "j", "code": "x", "command": "ls"}, "code"),
        ({"name": "j", "boot_file": "a.py"}, "code_dir"),
        ({"name": "j", "code": "x", "nodes": 0}, "nodes"),
        ({"name": "j", "code": "x", "nodes": "2"}, "nodes"),
        ({"name": "j", "code": "x", "env": {"MA_X": "1"}}, "env.MA_X"),
        ({"name": "j", "code": "x", "inputs": {"d": "s3://b/x/"}}, "inputs.d"),
        ({"name": "j", "code": "x", "flavor": "huge"}, "flavor"),
        ({"name": "j", "code": "x", "colour": "red"}, "colour"),
    ]
    for body, field in cases:
        code, error = await api.call("POST", "jobs", body)
        assert code == 400, (body, code, error)
        assert error["field"] == field, (body, error)
    code, error = await api.call(
        "POST", "jobs", {"name": "j", "code": "x", "inputs": {"d": "obs://nobucket/x/"}}
    )
    assert code == 404 and error["field"] == "uri"


@pytest.mark.parametrize("limit", [1, 2, 3, 5])
async def test_log_reads_always_make_progress_through_multibyte_text(api, limit):
    """limit=1 at a 3- or 4-byte character used to return next_offset unchanged forever."""
    text = "中文 ok 🙂 é\n" * 3
    _, job = await submit(api, code=f"print({text[:-1]!r})\n")
    job = await wait_final(api, job["id"])
    offset, pieces = 0, []
    for _ in range(len(text.encode()) + 1):
        chunk = await api.get(f"jobs/{job['id']}/logs", offset=str(offset), limit=str(limit))
        pieces.append(chunk["content"])
        if chunk["complete"]:
            break
        assert chunk["next_offset"] > offset, chunk
        offset = chunk["next_offset"]
    assert "".join(pieces) == text


def test_log_piece_ends_on_characters_and_waits_for_an_unfinished_one():
    three, four = "中".encode(), "🙂".encode()
    assert log_piece(b"ab" + three, 3, ended=False) == b"ab"
    assert log_piece(three + b"x", 1, ended=False) == three
    assert log_piece(four, 2, ended=False) == four
    assert log_piece(three[:2], 1, ended=False) == b""  # the writer has not finished it
    assert log_piece(three[:2], 1, ended=True) == three[:2]  # it never will
    assert log_piece(three[1:] + b"x", 1, ended=False) == three[1:2]  # a stray byte moves on


async def test_logs_follow_by_offset_and_bad_queries(api):
    _, job = await submit(api, code="for i in range(2000): print('line', i, 'é')\n")
    job = await wait_final(api, job["id"])
    offset, pieces = 0, []
    while True:
        chunk = await api.get(f"jobs/{job['id']}/logs", offset=str(offset), limit="1000")
        assert chunk["offset"] == offset
        pieces.append(chunk["content"])
        if chunk["complete"]:
            break
        offset = chunk["next_offset"]
    text = "".join(pieces)
    assert text.count("é") == 2000 and "line 1999 é" in text
    for params, field in (
        ({"offset": "-1"}, "offset"),
        ({"limit": "abc"}, "limit"),
        ({"task": "worker-9"}, "task"),
    ):
        code, error = await api.call("GET", f"jobs/{job['id']}/logs", **params)
        assert code in (400, 404) and error["field"] == field


async def test_list_filter_delete_and_metrics(api):
    _, job = await submit(api, code="import time\nx = [0] * 10**6\ntime.sleep(1.5)\n")
    job = await wait_final(api, job["id"])
    metrics = await api.get(f"jobs/{job['id']}/metrics")
    mem = next(s for s in metrics["series"] if s["metric"] == "memUsage")
    assert mem["task"] == "worker-0" and len(mem["points"]) >= 2
    assert mem["unit"] == "%" and all(0 < p[1] <= 100 for p in mem["points"])
    listed = await api.get("jobs", phase="Completed")
    assert [j["id"] for j in listed["jobs"]] == [job["id"]]
    assert (await api.get("jobs", phase="Running"))["jobs"] == []
    code, error = await api.call("GET", "jobs", phase="Bogus")
    assert code == 400 and error["field"] == "phase"
    await api.call("DELETE", f"jobs/{job['id']}", expect=204)
    code, error = await api.call("GET", f"jobs/{job['id']}")
    assert code == 404


async def test_concurrency_limit_queues_jobs_as_pending(api, jp_serverapp):
    app = jp_serverapp.extension_manager.extension_apps["jupyter_modelarts"]
    runner = next(iter(app)).backend.jobs
    runner.max_concurrent = 1
    _, first = await submit(api, code="import time; time.sleep(1)")
    _, second = await submit(api, code="print('second')")
    assert first["phase"] == "Running" and second["phase"] == "Pending"
    second = await wait_final(api, second["id"])
    assert second["phase"] == "Completed"
    first = await api.get(f"jobs/{first['id']}")
    assert first["ended_at"] <= second["started_at"]


async def test_running_job_cannot_be_deleted(api):
    _, job = await submit(api, code="import time; time.sleep(30)")
    code, error = await api.call("DELETE", f"jobs/{job['id']}")
    assert code == 409 and "stop it" in error["message"]
    await api.call("POST", f"jobs/{job['id']}/stop", expect=202)
    await wait_final(api, job["id"])
    assert os.path.isdir
