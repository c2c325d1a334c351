"""GET /jobs pages: summaries without code, newest first by default, any order stable across
pages, a total, and a 400 naming the query argument that is not allowed."""

import asyncio
import json
import re
import time

import pytest

from conftest import cloud_server_config
from jupyter_modelarts.models import Job, JobPhase, JobSpec, JobSummary

FINAL = ("Completed", "Failed", "Terminated", "Abnormal")
SUMMARY_KEYS = {
    "id",
    "name",
    "backend",
    "phase",
    "flavor",
    "nodes",
    "exit_code",
    "message",
    "created_at",
    "started_at",
    "ended_at",
    "workspace_id",
}


def duration(job, now):
    if job["started_at"] is None:
        return None
    return (job["ended_at"] or now) - job["started_at"]


def expected(jobs, sort, order):
    """The order the contract promises: by the sort's value, then creation time and id, all the
    same way; a job without the value last."""
    value = {
        "created": lambda j: j["created_at"],
        "name": lambda j: j["name"].lower(),
        "phase": lambda j: j["phase"],
        "duration": lambda j: duration(j, 0),
    }[sort]
    known = [j for j in jobs if value(j) is not None]
    ordered = sorted(known, key=lambda j: (value(j), j["created_at"], j["id"]))
    if order == "desc":
        ordered.reverse()
    return ordered + [j for j in jobs if value(j) is None]


async def test_no_jobs_is_an_empty_page(c):
    page = await c.call("GET", "jobs", expect=200)
    assert page == {"jobs": [], "total": 0, "offset": 0, "limit": 50}


async def test_pages_in_every_order(c, api, jp_root_dir):
    big = "x = 1\n" + "# a long comment line of a notebook cell\n" * 5000  # ~200 KB of code
    specs = [
        {"name": "b-ok", "command": "true"},
        {"name": "A-big", "code": big},
        {"name": "c-fails", "command": "exit 3", "nodes": 2},
        {"name": "D-ok", "command": "true"},
        {"name": "e-slow", "command": "sleep 0.3"},
    ]
    ids = [(await c.call("POST", "jobs", s, expect=201))["id"] for s in specs]
    for job_id in ids:
        await api.wait_for(f"jobs/{job_id}", lambda j: j["phase"] in FINAL)

    everything = await c.call("GET", "jobs", expect=200, limit="500")
    jobs = everything["jobs"]
    assert everything["total"] == 5 and {j["id"] for j in jobs} == set(ids)
    assert jobs == expected(jobs, "created", "desc")  # newest first
    for job in jobs:
        assert set(job) == SUMMARY_KEYS  # no spec, no code, no tasks
        assert len(json.dumps(job)) <= 600
        assert job["flavor"] == "local.cpu"
    by_name = {j["name"]: j for j in jobs}
    assert by_name["c-fails"]["nodes"] == 2 and by_name["c-fails"]["phase"] == "Failed"
    assert re.fullmatch(r"worker-[01] exited with code 3", by_name["c-fails"]["message"])

    for sort in ("created", "name", "phase", "duration"):
        for order in ("desc", "asc"):
            want = [j["id"] for j in expected(jobs, sort, order)]
            paged = []
            for offset in (0, 2, 4):
                page = await c.call(
                    "GET", "jobs", expect=200, sort=sort, order=order, offset=str(offset), limit="2"
                )
                assert page["total"] == 5 and page["offset"] == offset and page["limit"] == 2
                paged += [j["id"] for j in page["jobs"]]
            assert paged == want, (sort, order)
            again = await c.call("GET", "jobs", expect=200, sort=sort, order=order)
            assert [j["id"] for j in again["jobs"]] == want  # the same order every time

    past = await c.call("GET", "jobs", expect=200, offset="5")
    assert past["jobs"] == [] and past["total"] == 5
    failed = await c.call("GET", "jobs", expect=200, phase="Failed")
    assert [j["name"] for j in failed["jobs"]] == ["c-fails"] and failed["total"] == 1
    assert (await c.call("GET", "jobs", expect=200, phase=""))["total"] == 5


async def test_a_bad_query_is_a_400_naming_it(c):
    for param, value in (
        ("offset", "-1"),
        ("offset", "two"),
        ("limit", "0"),
        ("limit", "501"),
        ("sort", "size"),
        ("order", "up"),
        ("phase", "Bogus"),
    ):
        error = await c.call("GET", "jobs", expect=400, **{param: value})
        assert error["field"] == param, error


def test_a_summary_cuts_the_message():
    job = Job(
        id="j",
        name="j",
        backend="local",
        phase=JobPhase.FAILED,
        spec=JobSpec(name="j", code="x" * 100_000),
        message="why " * 1000,
    )
    summary = JobSummary.of(job).to_json()
    assert len(summary["message"]) == 200 and summary["message"].endswith("…")
    assert len(json.dumps(summary)) <= 600


@pytest.fixture
def backend_kind():
    return "local"


@pytest.fixture
def jp_server_config(jp_server_config, ma_config, backend_kind, request, monkeypatch):
    if backend_kind == "local":
        return jp_server_config
    fake = request.getfixturevalue("fake")
    monkeypatch.setenv("HUAWEICLOUD_SDK_AK", fake.ak)
    monkeypatch.setenv("HUAWEICLOUD_SDK_SK", fake.sk)
    return cloud_server_config(ma_config, request.getfixturevalue("cloud_config"))


@pytest.mark.parametrize("backend_kind", ["cloud"])
async def test_the_cloud_list_pages_too(c, fake, backend_kind):
    made = {fake.create_job(f"up-{i}", "print(1)")["metadata"]["id"] for i in range(3)}
    deadline = time.monotonic() + 60
    while {fake.job_view(i)["status"]["phase"] for i in made} - set(FINAL):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    jobs = (await c.call("GET", "jobs", expect=200))["jobs"]
    assert {j["id"] for j in jobs} == made and jobs == expected(jobs, "created", "desc")
    first = await c.call("GET", "jobs", expect=200, limit="2")
    second = await c.call("GET", "jobs", expect=200, limit="2", offset="2")
    assert first["total"] == second["total"] == 3
    assert first["jobs"] + second["jobs"] == jobs
    done = await c.call("GET", "jobs", expect=200, phase="Completed", sort="name")
    assert [j["name"] for j in done["jobs"]] == ["up-2", "up-1", "up-0"]
