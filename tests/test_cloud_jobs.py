"""Cloud jobs through the REST API against the fake ModelArts over real HTTP: exactly-once
submits, every job of the account in one list (one search per interval), jobs deleted upstream,
logs of any length read without fetching a byte twice, and the bounded poll cache."""

import asyncio
import time

import pytest

from conftest import fresh_backend
from jupyter_modelarts.backends.modelarts.client import SharedPoll

FINAL = ("Completed", "Failed", "Terminated", "Abnormal")
SEARCHES = r"/training-job-searches$"
DETAILS = r"/training-jobs/[^/]+$"
LINES = r"/training-jobs/[^/]+/logs/[^/]+$"
SLEEPER = "import time\nprint('up', flush=True)\ntime.sleep(120)\n"
# ~1 KiB lines, some of them with multi-byte characters.
BIG_LOG = """
import sys
out = sys.stdout.buffer
body = ("0123456789abcdef" * 63).encode()
for i in range({lines}):
    out.write(b"%08d " % i + body + ("é中\\n" if i % 7 == 0 else "\\n").encode())
"""


@pytest.fixture
def cloud_config(cloud_config):
    # Short enough for a held create to outlive it within a test.
    return {**cloud_config, "request_timeout": 2.0}


@pytest.fixture
def jp_server_config(cloud_jp_server_config):
    return cloud_jp_server_config


@pytest.fixture
def backend(jp_serverapp):
    return jp_serverapp.web_app.settings["modelarts_backend"]


@pytest.fixture
def watcher_stopped(jp_serverapp, jp_asyncio_loop):
    """The server's watcher stopped (it follows the logs of running jobs), so that only the
    test's reads fetch logs."""
    app = next(iter(jp_serverapp.extension_manager.extension_apps["jupyter_modelarts"]))
    jp_asyncio_loop.run_until_complete(app.watcher.stop())


async def wait_fake(fake, job_id, phases, timeout=60):
    deadline = time.monotonic() + timeout
    while (view := fake.job_view(job_id))["status"]["phase"] not in phases:
        assert time.monotonic() < deadline, view["status"]
        await asyncio.sleep(0.05)
    return view


def search_filters(fake):
    return [body.get("filters") or [] for body in fake.bodies("POST", SEARCHES)]


# -- exactly-once submits ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["late", "500"])
async def test_a_create_that_lands_late_is_answered_with_its_job(api, fake, c, kind):
    # The first create outlives the client ("late": held past its timeout; "500": a gateway
    # error while the service goes on) and lands just before the resend, which ModelArts then
    # refuses as a duplicate name.
    fake.training.unique_names = True
    fake.set_faults(rate=1.0, kinds=(kind,), paths=r"/training-jobs$", times=1, latency_s=60)
    job = await c.call("POST", "jobs", {"name": "landed-late", "code": "print(1)"}, expect=201)
    fake.clear_faults()
    made = fake.jobs_named("landed-late")
    assert [j["metadata"]["id"] for j in made] == [job["id"]]
    creates = [c for c in fake.calls if c.method == "POST" and c.path.endswith("/training-jobs")]
    assert len(creates) == 2 and creates[-1].status == 400  # the resend, refused
    listed = await c.call("GET", "jobs", expect=200)
    assert [j["id"] for j in listed["jobs"]] == [job["id"]]
    assert (await api.get(f"jobs/{job['id']}"))["spec"]["code"] == "print(1)"


async def test_a_name_another_job_holds_is_a_409_naming_the_field(api, fake, c):
    fake.training.unique_names = True
    other = fake.create_job("taken", "print('not ours')")
    error = await c.call("POST", "jobs", {"name": "taken", "code": "print(1)"}, expect=409)
    assert error["field"] == "name" and error["code"] == "ModelArts.2751"
    assert "choose another name" in error["message"] and other["metadata"]["id"] in error["message"]
    assert len(fake.jobs_named("taken")) == 1


# -- one list of everything ------------------------------------------------------------------


async def test_jobs_started_elsewhere_are_listed_with_their_spec(api, fake, c, backend):
    fake.buckets["data"] = {"set/a.csv": b"1\n", "one.csv": b"2\n"}
    console = fake.create_job(
        "from-console",
        "import os, sys\nprint('console', sys.argv[1:], os.environ['MY_VAR'], flush=True)\n",
        nodes=2,
        parameters={"lr": "0.1"},
        inputs={"data_url": "/data/set/", "single": "obs://data/one.csv"},
        outputs={"train_url": "/data/out/"},
        env={"MY_VAR": "hello"},
        description="started in the console",
    )
    command = fake.create_job(
        "from-cli", command="echo cli", engine={"image_url": "swr.example.com/team/img:1"}
    )
    _, ours = await api.call("POST", "jobs", {"name": "ours", "code": "print(2)"}, expect=201)
    backend.store.put(  # a job the local backend ran before this server moved to ModelArts
        "job",
        "local-1",
        {
            "id": "local-1",
            "name": "old-local",
            "backend": "local",
            "phase": "Completed",
            "spec": {**ours["spec"], "name": "old-local"},
            "tasks": [],
            "exit_code": 0,
            "message": "",
            "created_at": 1,
            "started_at": None,
            "ended_at": None,
        },
    )
    listed = await c.call("GET", "jobs", expect=200)
    assert {j["name"] for j in listed["jobs"]} == {"from-console", "from-cli", "ours", "old-local"}
    by_name = {
        j["name"]: await c.call("GET", f"jobs/{j['id']}", expect=200)
        for j in listed["jobs"]
        if j["backend"] == "modelarts"
    }
    spec = by_name["from-console"]["spec"]
    assert by_name["from-console"]["id"] == console["metadata"]["id"]
    assert (
        spec["code_dir"] == "obs://console/from-console/code/" and spec["boot_file"] == "train.py"
    )
    assert spec["nodes"] == 2 and spec["flavor"] == "modelarts.vm.cpu.8u"
    assert spec["parameters"] == {"lr": "0.1"} and spec["env"] == {"MY_VAR": "hello"}
    assert spec["inputs"] == {"data_url": "obs://data/set/", "single": "obs://data/one.csv"}
    assert spec["outputs"] == {"train_url": "obs://data/out/"}
    assert spec["engine"] == "PyTorch:pytorch_1.8.0-cuda_10.2"
    assert spec["description"] == "started in the console"
    cli = by_name["from-cli"]
    assert cli["id"] == command["metadata"]["id"]
    assert cli["spec"]["command"] == ["/bin/sh", "-c", "echo cli"]
    assert cli["spec"]["image"] == "swr.example.com/team/img:1"
    assert by_name["ours"]["spec"] == ours["spec"]  # our own keep what was submitted
    done = await api.wait_for(
        f"jobs/{console['metadata']['id']}", lambda j: j["phase"] in FINAL, 60
    )
    c.check("GET", f"jobs/{done['id']}", 200, done)
    assert done["phase"] == "Completed", done
    log = await api.log_text(done["id"], "worker-1")
    assert log.startswith("console ['--lr=0.1', '--data_url=") and log.endswith(" hello\n"), log


@pytest.mark.parametrize("live", [1, 10])
async def test_one_search_per_interval_for_any_number_of_jobs_and_viewers(api, fake, live):
    ids = [fake.create_job(f"live-{i}", SLEEPER)["metadata"]["id"] for i in range(live)]
    for job_id in ids:
        await wait_fake(fake, job_id, ("Running",))
    await api.get("jobs")  # the first search of this state dir
    searches, details = fake.count("POST", SEARCHES), fake.count("GET", DETAILS)
    deadline = time.monotonic() + 4

    async def viewer():
        while time.monotonic() < deadline:
            listed = await api.get("jobs")
            assert sorted(j["id"] for j in listed["jobs"]) == sorted(ids)
            await api.get(f"jobs/{ids[0]}")

    started = time.monotonic()
    await asyncio.gather(*(viewer() for _ in range(20)))
    intervals = (time.monotonic() - started) / 1.0  # cache_ttl
    calls = fake.count("POST", SEARCHES) - searches
    print(f"{live} live jobs, 20 viewers, {intervals:.1f} intervals: {calls} searches")
    assert 1 <= calls <= int(intervals) + 1, (calls, intervals)
    assert fake.count("GET", DETAILS) == details  # never one call per job
    listed = await api.get("jobs")
    assert {j["phase"] for j in listed["jobs"]} == {"Running"}


async def test_the_phase_filter_is_applied_upstream(api, fake, c):
    running = fake.create_job("runs", SLEEPER)["metadata"]["id"]
    done = fake.create_job("ends", "print('bye')")["metadata"]["id"]
    await wait_fake(fake, running, ("Running",))
    await wait_fake(fake, done, FINAL)
    listed = await c.call("GET", "jobs", expect=200, phase="Running")
    assert [j["id"] for j in listed["jobs"]] == [running]
    assert any(
        {"key": "phase", "operator": "in", "value": ["Running"]} in f for f in search_filters(fake)
    )
    listed = await c.call("GET", "jobs", expect=200, phase="Completed")
    assert [j["id"] for j in listed["jobs"]] == [done]
    assert any(
        {"key": "phase", "operator": "in", "value": ["Completed"]} in f
        for f in search_filters(fake)
    )
    assert fake.count("GET", DETAILS) == 0


async def test_a_job_deleted_upstream_ends_and_delete_forgets_it(api, fake, c):
    _, job = await api.call("POST", "jobs", {"name": "doomed", "code": SLEEPER}, expect=201)
    await api.wait_for(f"jobs/{job['id']}", lambda j: j["phase"] == "Running", 60)
    fake.delete_job(job["id"])  # from the console, while it runs
    gone = await api.wait_for(f"jobs/{job['id']}", lambda j: j["phase"] in FINAL, 30)
    c.check("GET", f"jobs/{job['id']}", 200, gone)
    assert gone["phase"] == "Abnormal" and "no longer" in gone["message"], gone
    assert "Running when last seen" in gone["message"]
    assert all(t["phase"] == "Abnormal" and t["ended_at"] for t in gone["tasks"])
    listed = await api.get("jobs")
    assert [(j["id"], j["phase"]) for j in listed["jobs"]] == [(job["id"], "Abnormal")]
    asked = fake.count("GET", rf"/training-jobs/{job['id']}$")
    await asyncio.sleep(1.2)
    await api.get("jobs")
    assert fake.count("GET", rf"/training-jobs/{job['id']}$") == asked == 1  # asked once
    code, error = await api.call("POST", f"jobs/{job['id']}/stop")
    assert code == 409 and error["field"] == "job_id"
    await c.call("DELETE", f"jobs/{job['id']}", expect=204)
    assert (await api.get("jobs"))["jobs"] == []
    await c.call("GET", f"jobs/{job['id']}", expect=404)


# -- logs ------------------------------------------------------------------------------------


async def read_all(api, job_id, limit):
    data, offset = b"", 0
    while True:
        chunk = await api.get(
            f"jobs/{job_id}/logs", task="worker-0", offset=str(offset), limit=str(limit)
        )
        assert chunk["offset"] == offset
        data += chunk["content"].encode()
        if chunk["complete"]:
            return data
        assert chunk["next_offset"] > offset, chunk
        offset = chunk["next_offset"]


@pytest.mark.parametrize("source", ["lines", "export"])
async def test_a_log_past_the_preview_window_is_read_whole(api, fake, source, watcher_stopped):
    # 12 MiB: past ModelArts' 5 MiB preview (bench/cloud_jobs.py times a 50 MiB one).
    code = BIG_LOG.format(lines=12_500)
    if source == "lines":  # no log export: the line API, 500 lines a page
        job_id = fake.create_job("big-log", code)["metadata"]["id"]
    else:  # our submit exports its log to OBS, read in byte ranges once the job has ended
        _, job = await api.call("POST", "jobs", {"name": "big-log", "code": code}, expect=201)
        job_id = job["id"]
    await wait_fake(fake, job_id, FINAL)
    assert (await api.get(f"jobs/{job_id}"))["phase"] == "Completed"
    written = fake.training.jobs[job_id].log_path("worker-0").read_bytes()
    assert len(written) > 12 * 2**20
    assert await read_all(api, job_id, 2**20) == written
    served = fake.log_bytes_served(job_id)
    ranged = [r for r in fake.obs.requests if r.key.endswith(f"{job_id}-worker-0.log")]
    if source == "lines":
        assert served == len(written) and not ranged  # every byte fetched once
    else:  # 4 MiB ranges; the line API only showed the newest line, to check the export's end
        assert served == len(written.splitlines(keepends=True)[-1]) and len(ranged) >= 3
    # Read again: all from the mirror.
    before = len(fake.calls)
    assert await read_all(api, job_id, 2**20) == written
    upstream = [c for c in fake.calls[before:] if "/logs/" in c.path or c.path.startswith("/obs/")]
    assert upstream == []


async def test_an_export_that_lacks_the_newest_lines_is_not_trusted(api, fake, watcher_stopped):
    code = "for i in range(3000):\n    print('line', i)\n"
    _, job = await api.call("POST", "jobs", {"name": "stale", "code": code}, expect=201)
    await wait_fake(fake, job["id"], FINAL)
    written = fake.training.jobs[job["id"]].log_path("worker-0").read_bytes()
    (key,) = [k for k in fake.buckets["bucket"] if k.endswith(f"{job['id']}-worker-0.log")]
    fake.buckets["bucket"][key] = written[: len(written) // 2]  # still uploading
    await api.wait_for(f"jobs/{job['id']}", lambda j: j["phase"] == "Completed")
    assert await read_all(api, job["id"], 2**20) == written
    newest = len(written.splitlines(keepends=True)[-1])
    assert fake.log_bytes_served(job["id"]) == len(written) + newest  # from the line API


async def test_followers_never_fetch_a_byte_twice(api, fake):
    code = (
        "import time\n"
        "for i in range(150):\n"
        "    print('line', i, 'é' * (i % 5))\n"
        "    time.sleep(0.02)\n"
    )
    job_id = fake.create_job("followed", code)["metadata"]["id"]  # no export: the line API
    await wait_fake(fake, job_id, ("Running",) + FINAL)

    async def follow():
        data, offset = b"", 0
        while True:
            chunk = await api.get(
                f"jobs/{job_id}/logs", task="worker-0", offset=str(offset), limit="300"
            )
            data += chunk["content"].encode()
            offset = chunk["next_offset"]
            if chunk["complete"]:
                return data
            await asyncio.sleep(0.02)

    started = time.monotonic()
    results = await asyncio.gather(*(follow() for _ in range(5)))
    intervals = (time.monotonic() - started) / 1.0
    written = fake.training.jobs[job_id].log_path("worker-0").read_bytes()
    assert all(r == written for r in results)
    assert fake.log_bytes_served(job_id) == len(written)  # each byte sent once, for 5 readers
    pages = fake.count("GET", LINES)
    print(f"5 followers, {intervals:.1f} intervals: {pages} log pages")
    assert pages <= int(intervals) + 2, (pages, intervals)


async def test_a_restarted_server_goes_on_from_the_log_it_has(
    api, fake, jp_serverapp, watcher_stopped
):
    job_id = fake.create_job("restart", BIG_LOG.format(lines=3000))["metadata"]["id"]
    await wait_fake(fake, job_id, FINAL)
    first = await api.get(f"jobs/{job_id}/logs", offset="0", limit=str(2**20))
    served = fake.log_bytes_served(job_id)
    assert len(first["content"].encode()) == 2**20 and served < 2 * 2**20
    settings = jp_serverapp.web_app.settings
    restarted = fresh_backend(jp_serverapp)  # over the same state dir
    settings["modelarts_backend"], running = restarted, settings["modelarts_backend"]
    try:
        written = fake.training.jobs[job_id].log_path("worker-0").read_bytes()
        assert await read_all(api, job_id, 2**20) == written
    finally:
        settings["modelarts_backend"] = running
        await restarted.close()
    assert fake.log_bytes_served(job_id) == len(written)  # what it had was not fetched again


async def test_log_mirrors_are_bounded_by_size_and_age(api, fake, backend, watcher_stopped):
    logs = backend.training.logs
    ids = [
        fake.create_job(f"log-{i}", f"print('{i}' * 300_000)")["metadata"]["id"] for i in range(3)
    ]
    for job_id in ids:
        await wait_fake(fake, job_id, FINAL)
    logs.max_bytes = 700_000
    for job_id in ids:
        assert (
            await read_all(api, job_id, 2**20) == f"{ids.index(job_id)}".encode() * 300_000 + b"\n"
        )
    # The least recently read went first; the last one read stays.
    assert (ids[0], "worker-0") not in logs and (ids[2], "worker-0") in logs
    assert logs.total_bytes <= 700_000
    logs.ttl_s = 0.0  # every mirror but the one being read is now too old
    await asyncio.sleep(0.01)
    await read_all(api, ids[2], 2**20)
    assert (ids[1], "worker-0") not in logs and (ids[2], "worker-0") in logs
    served = fake.log_bytes_served(ids[0])
    assert await read_all(api, ids[0], 2**20) == b"0" * 300_000 + b"\n"  # fetched again
    assert fake.log_bytes_served(ids[0]) == 2 * served


def test_the_fakes_line_api_and_search_answer_the_official_sdk(fake):
    """The fake's pages, as the SDK client asks for them and parses them."""
    from huaweicloudsdkcore.auth.credentials import BasicCredentials
    from huaweicloudsdkcore.region.region import Region
    from huaweicloudsdkmodelarts.v1 import (
        Filter,
        JobSearches,
        ListTrainingJobsRequest,
        ModelArtsClient,
        ShowTrainingJobLogsFromAomRequest,
    )

    job_id = fake.create_job("sdk-lines", "for i in range(7):\n    print('line', i)\n")
    job_id = job_id["metadata"]["id"]
    deadline = time.monotonic() + 30
    while fake.job_view(job_id)["status"]["phase"] not in FINAL:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    credentials = BasicCredentials(fake.ak, fake.sk, fake.project_id)
    client = (
        ModelArtsClient.new_builder()
        .with_credentials(credentials)
        .with_region(Region(fake.region, fake.base_url))
        .build()
    )

    def page(**query):
        request = ShowTrainingJobLogsFromAomRequest(training_job_id=job_id, task_id="worker-0")
        for key, value in query.items():
            setattr(request, key, value)
        return client.show_training_job_logs_from_aom(request)

    newest = page()  # default: the newest 50 lines, newest first
    assert newest.lines == 7 and newest.content.split("\n")[0] == "line 6"
    first = page(order="asc", lines=3)
    assert first.content == "line 0\nline 1\nline 2" and first.lines == 3
    rest = page(order="asc", lines=500, base_line=first.end_line)
    assert rest.content.split("\n") == [f"line {i}" for i in range(3, 7)]
    back = page(order="desc", lines=2, base_line=rest.start_line)
    assert back.content == "line 2\nline 1" and back.start_line == first.end_line
    assert page(order="asc", base_line=rest.end_line).lines == 0
    found = client.list_training_jobs(
        ListTrainingJobsRequest(
            body=JobSearches(
                offset=0,
                limit=50,
                filters=[Filter(key="phase", operator="in", value=["Completed"])],
            )
        )
    )
    assert [j.metadata.id for j in found.items] == [job_id] and found.total == 1


# -- the poll cache --------------------------------------------------------------------------


async def test_the_poll_cache_keeps_a_bounded_number_of_answers():
    poll = SharedPoll(60.0, max_entries=100)

    async def answer(value):
        return value

    for i in range(3000):
        assert await poll.get(("job", i), lambda i=i: answer(i)) == i
    assert len(poll) == 100
    assert await poll.get(("job", 2999), lambda: answer("asked again")) == 2999  # kept
    assert await poll.get(("job", 0), lambda: answer("asked again")) == "asked again"
    short = SharedPoll(0.01)
    for i in range(50):
        await short.get(i, lambda i=i: answer(i))
    await asyncio.sleep(0.02)
    await short.get("new", lambda: answer(0))
    assert len(short) == 1  # expired answers go as soon as anything is stored
