"""Server push: every change reaches a subscriber of Jupyter's events websocket, as the schemas
registered from openapi.yaml's components say, on the local backend and on the fake ModelArts."""

import asyncio
import json
import time

import pytest

from conftest import cloud_server_config, server_config
from jupyter_modelarts.events import (
    DOCTOR_EVENT,
    HEARTBEAT_EVENT,
    IMAGE_EVENT,
    JOB_EVENT,
    LEASE_EVENT,
    LOG_EVENT,
    MOUNT_EVENT,
    WORKSPACE_EVENT,
)
from test_openapi import Contract

# What each event carries, by the openapi.yaml component it is.
PAYLOADS = {
    LEASE_EVENT: {"lease": "Lease"},
    MOUNT_EVENT: {"mount": "Mount"},
    IMAGE_EVENT: {"image": "ImageSnapshot"},
    JOB_EVENT: {"job": "JobSummary"},
    LOG_EVENT: {},
    HEARTBEAT_EVENT: {"at": "EpochMs"},
    DOCTOR_EVENT: {"report": "DoctorReport"},
    WORKSPACE_EVENT: {"workspace": "Workspace"},
}
# Prints, then waits for its gate file to appear: it ends when the test says.
GATED = """
import os, sys, time
print("waiting", flush=True)
gate = sys.argv[1].split("=", 1)[1]
while not os.path.exists(gate):
    time.sleep(0.02)
print("done", flush=True)
"""


@pytest.fixture
def backend_kind():
    return "local"


@pytest.fixture
def heartbeat_s():
    return 30.0


@pytest.fixture
def jp_server_config(ma_config, backend_kind, heartbeat_s, request):
    config = {
        **ma_config,
        "auto_stop_enabled": True,
        "max_concurrent_jobs": 1,
        "heartbeat_s": heartbeat_s,
        "workspaces": [{"id": "team-b", "name": "Team B"}],
    }
    if backend_kind == "local":
        return server_config(config)
    request.getfixturevalue("fake_keys")
    return cloud_server_config(config, request.getfixturevalue("cloud_config"))


class Stream:
    """The messages of one subscription to /api/events/subscribe, each checked against the
    contract as it arrives: its payload is the openapi.yaml component it names."""

    def __init__(self, ws, contract):
        self.ws = ws
        self.contract = contract
        self.messages = []

    async def next(self, schema_id, predicate=lambda data: True, timeout=30.0):
        """The first message of ``schema_id`` for which predicate(message) holds, received
        already or still to come."""
        for message in self.messages:
            if message["schema_id"] == schema_id and predicate(message):
                return message
        deadline = time.monotonic() + timeout
        while True:
            try:
                text = await asyncio.wait_for(self.ws.read_message(), deadline - time.monotonic())
            except asyncio.TimeoutError:
                pytest.fail(f"no such {schema_id} event came; the last ones: {self.messages[-5:]}")
            assert text is not None, "the events websocket closed"
            message = self.check(text)
            if message["schema_id"] == schema_id and predicate(message):
                return message

    def check(self, text):
        assert len(text) < 10_000  # the budget per update
        message = json.loads(text)
        self.messages.append(message)
        schema_id = message["schema_id"]
        if schema_id not in PAYLOADS:
            return message  # another extension's event
        for key, component in PAYLOADS[schema_id].items():
            self.contract._fail_unless_valid(
                schema_id, f"#/components/schemas/{component}", message[key]
            )
        if schema_id == JOB_EVENT:
            assert message["action"] in ("changed", "deleted")
            assert len(json.dumps(message["job"])) <= 600
            for task in message["tasks"]:
                self.contract._fail_unless_valid(schema_id, "#/components/schemas/Task", task)
        if schema_id == LOG_EVENT:
            assert set(message) == {"schema_id", "job_id", "task", "size"}
        return message

    def jobs(self, job_id):
        return [
            m for m in self.messages if m["schema_id"] == JOB_EVENT and m["job"]["id"] == job_id
        ]


@pytest.fixture
def subscribe(jp_ws_fetch, api, doc):
    """Opens a subscription to the server's events websocket (with the server's token)."""
    contract = Contract(api, doc)
    opened = []

    async def open_stream():
        opened.append(await jp_ws_fetch("api", "events", "subscribe"))
        return Stream(opened[-1], contract)

    yield open_stream
    for ws in opened:
        ws.close()


def test_the_schemas_are_the_contract_s_components(jp_serverapp, doc):
    schemas = jp_serverapp.event_logger.schemas
    components = doc["components"]["schemas"]
    job = schemas.get(JOB_EVENT).properties["job"]
    assert job["required"] == components["JobSummary"]["required"]
    assert job["properties"]["phase"]["enum"] == components["JobPhase"]["enum"]
    for schema_id in PAYLOADS:
        assert "$ref" not in json.dumps(schemas.get(schema_id).properties)


async def test_lease_mounts_and_images_are_pushed(api, subscribe, ma_dirs):
    stream = await subscribe()
    renewed = (await api.call("PATCH", "lease", {"duration_s": 7200}, expect=200))[1]
    await stream.next(LEASE_EVENT, lambda m: m["lease"]["stop_at"] == renewed["stop_at"])

    (ma_dirs["objects"] / "bucket" / "ds").mkdir()
    request = {"uri": "obs://bucket/ds/", "mount_path": "/data/ds/"}
    mount = (await api.call("POST", "mounts", request, expect=202))[1]

    def of_mount(status):
        return lambda m: m["mount"]["id"] == mount["id"] and m["mount"]["status"] == status

    await stream.next(MOUNT_EVENT, of_mount("MOUNTING"))  # published by the POST
    await stream.next(MOUNT_EVENT, of_mount("MOUNTED"))  # seen by the watcher
    await api.call("DELETE", f"mounts/{mount['id']}", expect=202)
    await stream.next(MOUNT_EVENT, of_mount("UNMOUNTING"))
    await stream.next(MOUNT_EVENT, of_mount("UNMOUNTED"))  # gone

    image = (await api.call("POST", "images", {"name": "pushed"}, expect=202))[1]
    await stream.next(IMAGE_EVENT, lambda m: m["image"]["id"] == image["id"])
    done = await stream.next(
        IMAGE_EVENT,
        lambda m: (
            m["image"]["id"] == image["id"] and m["image"]["status"] in ("ACTIVE", "CREATE_FAILED")
        ),
        timeout=60,
    )
    assert done["image"]["status"] == "ACTIVE", done
    statuses = [m["image"]["status"] for m in stream.messages if m["schema_id"] == IMAGE_EVENT]
    assert statuses[0] == "INIT" and statuses[-1] == "ACTIVE"


async def test_jobs_and_their_logs_are_pushed(api, subscribe, tmp_path):
    stream = await subscribe()
    gates = {name: tmp_path / f"gate-{name}" for name in ("a", "b")}

    async def submit(name):
        spec = {"name": name, "code": GATED, "parameters": {"gate": str(gates[name])}}
        return (await api.call("POST", "jobs", spec, expect=201))[1]

    a = await submit("a")
    b = await submit("b")  # one job runs at a time: b waits for a
    assert (a["phase"], b["phase"]) == ("Running", "Pending")

    def of_job(job, phase):
        return lambda m: m["job"]["id"] == job["id"] and m["job"]["phase"] == phase

    # a printed: its log grew while it runs.
    await stream.next(LOG_EVENT, lambda m: m["job_id"] == a["id"] and m["task"] == "worker-0")
    gates["a"].touch()
    ended = await stream.next(JOB_EVENT, of_job(a, "Completed"))
    assert [(t["name"], t["phase"], t["exit_code"]) for t in ended["tasks"]] == [
        ("worker-0", "Completed", 0)
    ]
    await stream.next(JOB_EVENT, of_job(b, "Running"))
    gates["b"].touch()
    await stream.next(JOB_EVENT, of_job(b, "Completed"))
    phases = [m["job"]["phase"] for m in stream.jobs(b["id"])]
    # A look during the code snapshot may see it Creating first.
    assert [p for p in phases if p != "Creating"] == ["Pending", "Running", "Completed"]

    await api.call("DELETE", f"jobs/{a['id']}", expect=204)
    deleted = await stream.next(JOB_EVENT, lambda m: m["action"] == "deleted")
    assert deleted["job"]["id"] == a["id"] and deleted["job"]["phase"] == "Completed"


async def test_the_workspace_and_the_checks_are_pushed(api, subscribe):
    first = await api.get("doctor")  # the run at start-up has ended
    stream = await subscribe()
    await api.call("PUT", "workspaces/current", {"id": "team-b"}, expect=200)
    changed = await stream.next(WORKSPACE_EVENT)
    assert changed["workspace"]["id"] == "team-b"
    # The checks run again for the new workspace: they say so as they start and as they end.
    started = await stream.next(DOCTOR_EVENT, lambda m: m["report"]["running"])
    assert started["report"]["checks"] == first["checks"]
    ended = await stream.next(DOCTOR_EVENT, lambda m: not m["report"]["running"])
    assert ended["report"]["workspace_id"] == "team-b"
    assert ended["report"]["checked_at"] > first["checked_at"]
    assert ended["report"] == await api.get("doctor")
    # Picking the current one again changes nothing, so nothing is pushed.
    await api.call("PUT", "workspaces/current", {"id": "team-b"}, expect=200)
    report = (await api.call("POST", "doctor", expect=200))[1]
    await stream.next(DOCTOR_EVENT, lambda m: m["report"]["checked_at"] == report["checked_at"])
    kinds = [m["schema_id"] for m in stream.messages if m["schema_id"] != HEARTBEAT_EVENT]
    assert kinds == [WORKSPACE_EVENT, *[DOCTOR_EVENT] * 4], kinds


@pytest.mark.parametrize("heartbeat_s", [0.2])
async def test_a_heartbeat_says_the_stream_is_alive(subscribe, heartbeat_s):
    stream = await subscribe()
    first = await stream.next(HEARTBEAT_EVENT)
    await stream.next(HEARTBEAT_EVENT, lambda m: m["at"] > first["at"])


@pytest.mark.parametrize("backend_kind", ["cloud"])
async def test_a_cloud_job_s_phases_reach_subscribers(api, subscribe, fake, backend_kind):
    stream = await subscribe()
    # The lease answers nothing but errors meanwhile: the jobs are followed all the same.
    fake.set_faults(rate=1.0, kinds=("503",), paths=r"/lease$")
    job = (await api.call("POST", "jobs", {"name": "pushed", "code": "print(1)"}, expect=201))[1]
    await stream.next(
        JOB_EVENT, lambda m: m["job"]["id"] == job["id"] and m["job"]["phase"] == "Completed"
    )
    phases = [m["job"]["phase"] for m in stream.jobs(job["id"])]
    order = ["Creating", "Pending", "Running", "Completed"]
    assert phases == sorted(phases, key=order.index), phases
    fake.clear_faults()


def test_a_stop_answer_read_before_the_end_is_not_told_after_it():
    """A stop's answer (Terminating) that the handler publishes after the watcher told the end
    (Terminated) would move subscribers back; it is dropped."""
    import logging

    from jupyter_modelarts.events import Watcher
    from jupyter_modelarts.models import Job, JobPhase, JobSpec

    told = []
    watcher = Watcher(None, lambda schema_id, data: told.append(data), logging, 30.0)
    spec = JobSpec.from_json({"name": "n", "code": "print(1)"})

    def job(phase):
        return Job(id="j1", name="n", backend="local", phase=phase, spec=spec)

    watcher.job_changed(job(JobPhase.RUNNING))
    watcher._tell_job(job(JobPhase.TERMINATED))  # the watcher's own look saw it end
    watcher.job_changed(job(JobPhase.TERMINATING))  # the stop's answer, read before
    assert [data["job"]["phase"] for data in told] == ["Running", "Terminated"]
    assert "j1" not in watcher._jobs


async def test_the_watcher_stops_even_when_its_looks_were_just_woken(jp_serverapp):
    """Up to Python 3.11, cancelling a wait_for whose event was just set is swallowed: the
    watcher's loops must end anyway, or the server's shutdown hangs."""
    app = next(iter(jp_serverapp.extension_manager.extension_apps["jupyter_modelarts"]))
    await asyncio.sleep(0.1)  # every loop waits for its next look
    for wake in app.watcher._wake.values():
        wake.set()
    await asyncio.wait_for(app.watcher.stop(), 10)
