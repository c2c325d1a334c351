"""The ModelArts backend through our REST API, against the fake cloud over real HTTP."""

import asyncio
import textwrap
import time

import pytest

from conftest import fresh_backend

FINAL = ("Completed", "Failed", "Terminated", "Abnormal")


@pytest.fixture
def jp_server_config(cloud_jp_server_config):
    return cloud_jp_server_config


async def wait_job(api, job_id, timeout=60):
    return await api.wait_for(f"jobs/{job_id}", lambda j: j["phase"] in FINAL, timeout)


async def test_every_operation_end_to_end(api, fake, jp_root_dir):
    instance = await api.get("instance")
    assert instance["backend"] == "modelarts" and instance["id"] == fake.instance_id
    assert instance["status"] == "RUNNING"

    before = (await api.get("lease"))["stop_at"]
    _, lease = await api.call("PATCH", "lease", {"duration_s": 7200}, expect=200)
    assert lease["stop_at"] >= time.time() * 1000 + 7190_000 > before
    code, error = await api.call("PATCH", "lease", {"duration_s": 60})
    assert code == 400 and error["field"] == "duration_s"

    _, mount = await api.call(
        "POST", "mounts", {"uri": "obs://bucket/data/", "mount_path": "/data/d/"}, expect=202
    )
    assert mount["status"] == "MOUNTING"
    await api.wait_for(f"mounts/{mount['id']}", lambda m: m["status"] == "MOUNTED")
    assert [m["id"] for m in (await api.get("mounts"))["mounts"]] == [mount["id"]]
    await api.call("DELETE", f"mounts/{mount['id']}", expect=202)
    await api.wait_for("mounts", lambda b: b["mounts"] == [])

    _, image = await api.call("POST", "images", {"name": "my-env", "tag": "v1"}, expect=202)
    image = await api.wait_for(f"images/{image['id']}", lambda i: i["status"] == "ACTIVE")
    assert image["location"]

    code_dir = jp_root_dir / "project"
    code_dir.mkdir()
    (code_dir / "helper.py").write_text("GREETING = 'hi from OBS'\n")
    (code_dir / "train.py").write_text(
        textwrap.dedent("""
        import os, sys
        from helper import GREETING
        print(GREETING, "task", os.environ["VC_TASK_INDEX"], sys.argv[1:], flush=True)
    """)
    )
    _, job = await api.call(
        "POST",
        "jobs",
        {
            "name": "cloud-job",
            "code_dir": str(code_dir),
            "boot_file": "train.py",
            "nodes": 2,
            "parameters": {"lr": "0.1"},
        },
        expect=201,
    )
    assert job["backend"] == "modelarts" and [t["name"] for t in job["tasks"]] == [
        "worker-0",
        "worker-1",
    ]
    code_key = fake.jobs_named("cloud-job")[0]["algorithm"]["code_dir"][len("/bucket/") :]
    assert code_key.startswith("jobs/cloud-job/") and code_key.endswith("/code/")
    assert fake.buckets["bucket"][f"{code_key}helper.py"] == b"GREETING = 'hi from OBS'\n"
    job = await wait_job(api, job["id"])
    assert job["phase"] == "Completed", job
    for index in (0, 1):
        log = await api.log_text(job["id"], f"worker-{index}")
        assert f"hi from OBS task {index} ['--lr=0.1']" in log
    assert [j["id"] for j in (await api.get("jobs"))["jobs"]] == [job["id"]]

    _, long_job = await api.call(
        "POST",
        "jobs",
        {"name": "long-job", "code": "import time\nprint('up', flush=True)\ntime.sleep(120)\n"},
        expect=201,
    )
    await api.wait_for(f"jobs/{long_job['id']}", lambda j: j["phase"] == "Running", 60)
    await api.call("POST", f"jobs/{long_job['id']}/stop", expect=202)
    stopped = await wait_job(api, long_job["id"])
    assert stopped["phase"] == "Terminated"
    await api.call("DELETE", f"jobs/{long_job['id']}", expect=204)
    assert [j["id"] for j in (await api.get("jobs"))["jobs"]] == [job["id"]]


async def test_log_reads_always_make_progress_through_multibyte_text(api):
    text = "中文 🙂 é\n"
    _, job = await api.call("POST", "jobs", {"name": "utf8", "code": f"print({text[:-1]!r})"})
    job = await wait_job(api, job["id"])
    offset, pieces = 0, []
    for _ in range(len(text.encode()) + 1):
        chunk = await api.get(
            f"jobs/{job['id']}/logs", task="worker-0", offset=str(offset), limit="1"
        )
        pieces.append(chunk["content"])
        if chunk["complete"]:
            break
        assert chunk["next_offset"] > offset, chunk
        offset = chunk["next_offset"]
    assert text in "".join(pieces)


async def test_idempotent_operations_survive_a_third_of_calls_failing(api, fake):
    fake.set_faults(rate=0.34, kinds=("503", "429", "latency", "drop"), seed=7, latency_s=0.2)
    _, job = await api.call("POST", "jobs", {"name": "faulty", "code": "print('ok')"}, expect=201)
    for _ in range(3):
        await api.get("instance")
        await api.get("lease")
        await api.call("PATCH", "lease", {"duration_s": 3600}, expect=200)
        await api.get("mounts")
        await api.get("images")
        await api.get("flavors")
        await api.get(f"jobs/{job['id']}")
        await asyncio.sleep(1.1)  # past the cache interval: every round reaches the fake
    fake.clear_faults()
    searched = fake.jobs_named("faulty")
    assert len(searched) == 1, searched
    assert len(fake.calls) > 30


@pytest.mark.parametrize("kind", ["drop_after", "503", "429", "drop"])
async def test_a_submit_that_saw_failures_makes_exactly_one_job(api, fake, kind):
    fake.set_faults(rate=1.0, kinds=(kind,), paths=r"/training-jobs$", seed=1)
    task = asyncio.ensure_future(
        api.call("POST", "jobs", {"name": f"once-{kind.replace('_', '-')}", "code": "print(1)"})
    )
    await asyncio.sleep(1.5)
    fake.clear_faults()
    code, job = await task
    assert code == 201, job
    assert len(fake.jobs_named(f"once-{kind.replace('_', '-')}")) == 1


async def test_fifty_pollers_cost_one_lease_call_per_interval(api, fake):
    before = fake.count("GET", r"/lease$")
    deadline = time.monotonic() + 10

    async def poll():
        while time.monotonic() < deadline:
            await api.get("lease")

    started = time.monotonic()
    await asyncio.gather(*(poll() for _ in range(50)))
    intervals = (time.monotonic() - started) / 1.0
    calls = fake.count("GET", r"/lease$") - before
    print(f"50 pollers, {intervals:.1f} intervals: {calls} upstream lease calls")
    assert 1 <= calls <= int(intervals) + 1, (calls, intervals)


async def test_missing_permission_names_the_iam_action(api, fake):
    fake.deny("modelarts:notebook:updateStopPolicy")
    code, error = await api.call("PATCH", "lease", {"duration_s": 3600})
    assert code == 403
    assert "modelarts:notebook:updateStopPolicy" in error["message"]
    assert error["code"] == "ModelArts.0108" and error["request_id"]


async def test_jobs_are_reconciled_after_a_restart(api, fake, jp_serverapp):
    _, job = await api.call("POST", "jobs", {"name": "recon", "code": "print(1)"}, expect=201)
    await asyncio.sleep(3)  # the job ends upstream while nobody asks
    backend = fresh_backend(jp_serverapp)
    await backend.start()
    await asyncio.sleep(1)
    stored = backend.store.get("job", job["id"])
    assert stored["phase"] == "Completed", stored
    await backend.close()


async def test_no_credentials_is_a_clear_503(api, jp_serverapp, monkeypatch):
    for name in ("HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK"):
        monkeypatch.delenv(name)
    backend = fresh_backend(jp_serverapp)
    settings = jp_serverapp.web_app.settings
    settings["modelarts_backend"], configured = backend, settings["modelarts_backend"]
    try:
        code, error = await api.call("GET", "instance")
    finally:
        settings["modelarts_backend"] = configured
        await backend.close()
    assert code == 503 and "HUAWEICLOUD_SDK_AK" in error["message"], error
