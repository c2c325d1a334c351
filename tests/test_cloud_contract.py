"""Where ModelArts differs from the REST contract, the backends still keep it.

The cloud backend runs against the fake cloud over real HTTP (as in test_cloud_backend); the local
backend is checked on the same rules where they concern it. Every call goes through
``test_openapi.Contract``: the status is the one expected and every response body validates
against the schema openapi.yaml declares for it.
"""

import time

import psutil
import pytest

from conftest import fresh_backend, server_config

FINAL = ("Completed", "Failed", "Terminated", "Abnormal")
HOUR_MS = 3_600_000


@pytest.fixture
def jp_server_config(cloud_jp_server_config):
    return cloud_jp_server_config


async def mounted(c, path, uri="obs://bucket/data/"):
    mount = await c.call("POST", "mounts", {"uri": uri, "mount_path": path}, expect=202)
    return await c.poll(f"mounts/{mount['id']}", lambda code, m: m["status"] == "MOUNTED")


# -- 1, 9: the lease ------------------------------------------------------------------------


async def test_with_auto_stop_off_the_lease_has_no_stop_and_renewing_is_409(c, fake):
    fake.notebooks.set_lease(enable=False)
    lease = await c.call("GET", "lease", expect=200)
    assert lease["enabled"] is False
    assert [lease[k] for k in ("duration_s", "renewed_at", "stop_at", "remaining_s")] == [None] * 4
    assert (await c.call("GET", "instance", expect=200))["lease"] == lease
    error = await c.call("PATCH", "lease", {"duration_s": 7200}, expect=409)
    assert error["reason"] == "Conflict" and error["field"] == "duration_s", error
    # Refused here: ModelArts was not asked to renew, so auto-stop stays off.
    assert fake.count("PATCH", r"/lease$") == 0
    assert fake.notebooks.notebook["lease"]["enable"] is False


async def test_lease_duration_is_the_current_lease_not_the_time_since_creation(c, fake):
    now = int(time.time() * 1000)
    # Up for 5 h, renewed 30 min ago for 2 h: ModelArts' duration counts from creation (6.5 h).
    fake.notebooks.set_lease(
        create_at=now - 5 * HOUR_MS, update_at=now - HOUR_MS // 2, duration=13 * HOUR_MS // 2
    )
    lease = await c.call("GET", "lease", expect=200)
    assert lease["duration_s"] == 7200, lease
    assert lease["renewed_at"] == now - HOUR_MS // 2 and lease["stop_at"] == now + 3 * HOUR_MS // 2
    before = int(time.time() * 1000)
    renewed = await c.call("PATCH", "lease", {"duration_s": 3600}, expect=200)
    assert renewed["duration_s"] == 3600, renewed
    assert before <= renewed["renewed_at"] <= time.time() * 1000
    assert renewed["stop_at"] == renewed["renewed_at"] + 3600 * 1000
    assert (await c.call("GET", "lease", expect=200))["duration_s"] == 3600


# -- 2-5: mounts ----------------------------------------------------------------------------


async def test_a_mount_path_in_use_is_400_naming_mount_path(c, fake):
    await mounted(c, "/data/d/")
    error = await c.call(
        "POST", "mounts", {"uri": "obs://bucket/other/", "mount_path": "/data/d//"}, expect=400
    )
    assert error["field"] == "mount_path" and "/data/d/" in error["message"], error
    assert fake.count("POST", r"/storage$") == 1


@pytest.mark.parametrize("first, second", [("/data/a/", "/data/a/b/"), ("/data/x/y/", "/data/x/")])
async def test_a_mount_path_nested_in_another_is_400_naming_mount_path(c, fake, first, second):
    await mounted(c, first)
    error = await c.call(
        "POST", "mounts", {"uri": "obs://bucket/other/", "mount_path": second}, expect=400
    )
    assert error["field"] == "mount_path" and first in error["message"], error
    assert fake.count("POST", r"/storage$") == 1
    # A sibling whose name merely starts the same is no overlap.
    sibling = first.rstrip("/") + "2/"
    await c.call(
        "POST", "mounts", {"uri": "obs://bucket/other/", "mount_path": sibling}, expect=202
    )


async def test_a_missing_bucket_is_404_naming_uri_and_nothing_is_attached(c, fake):
    error = await c.call(
        "POST", "mounts", {"uri": "obs://no-such-bucket/x/", "mount_path": "/data/x/"}, expect=404
    )
    assert error["field"] == "uri" and "no-such-bucket" in error["message"], error
    assert fake.count("POST", r"/storage$") == 0
    # Keys refused by OBS prove nothing: the notebook's agency may have the right.
    fake.buckets["theirs"] = {}
    fake.obs.denied_buckets.add("theirs")
    mount = await c.call(
        "POST", "mounts", {"uri": "obs://theirs/x/", "mount_path": "/data/y/"}, expect=202
    )
    assert mount["status"] == "MOUNTING" and fake.count("POST", r"/storage$") == 1


async def test_unmounting_while_mounting_or_unmounting_is_409(c, fake):
    first = await mounted(c, "/data/m/")
    fake.step_s = 5.0  # every change from now on stays in progress through the test
    unmounting = await c.call("DELETE", f"mounts/{first['id']}", expect=202)
    assert unmounting["status"] == "UNMOUNTING"
    error = await c.call("DELETE", f"mounts/{first['id']}", expect=409)
    assert error["field"] == "mount_id", error
    second = await c.call(
        "POST", "mounts", {"uri": "obs://bucket/data/", "mount_path": "/data/n/"}, expect=202
    )
    error = await c.call("DELETE", f"mounts/{second['id']}", expect=409)
    assert error["field"] == "mount_id" and "MOUNTING" in error["message"], error
    assert fake.count("DELETE", r"/storage/") == 1


async def test_unmounting_a_failed_mount_answers_unmounted_and_forgets_it(c, fake, jp_serverapp):
    fake.buckets["gone"] = {}
    fake.step_s = 1.0  # time to take the bucket away before the mount settles
    mount = await c.call(
        "POST", "mounts", {"uri": "obs://gone/x/", "mount_path": "/data/f/"}, expect=202
    )
    del fake.buckets["gone"]
    failed = await c.poll(f"mounts/{mount['id']}", lambda code, m: m["status"] != "MOUNTING")
    assert failed["status"] == "MOUNT_FAILED" and failed["failure_reason"], failed
    gone = await c.call("DELETE", f"mounts/{mount['id']}", expect=202)
    assert gone["status"] == "UNMOUNTED" and gone["id"] == mount["id"], gone
    await c.call("GET", f"mounts/{mount['id']}", expect=404)
    assert (await c.call("GET", "mounts", expect=200))["mounts"] == []
    # A restart, while ModelArts still lists it UNMOUNTING, does not bring it back.
    assert [s["status"] for s in fake.notebooks.storages.values()] == ["UNMOUNTING"]
    restarted = fresh_backend(jp_serverapp)
    try:
        assert await restarted.list_mounts() == []
    finally:
        await restarted.close()


# -- 6: images ------------------------------------------------------------------------------


async def test_saving_an_existing_tag_again_is_409_naming_tag(c, fake):
    body = {"name": "my-env", "tag": "v1"}
    image = await c.call("POST", "images", body, expect=202)
    error = await c.call("POST", "images", body, expect=409)  # while it is being saved
    assert error["field"] == "tag", error
    await c.poll(f"images/{image['id']}", lambda code, i: i["status"] == "ACTIVE")
    error = await c.call("POST", "images", body, expect=409)
    assert error["field"] == "tag" and "my-env:v1" in error["message"], error
    assert fake.count("POST", r"/create-image$") == 1
    await c.call("POST", "images", {**body, "tag": "v2"}, expect=202)


# -- 7: metrics -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "flavor", ["modelarts.vm.cpu.8u", "modelarts.vm.gpu.t4", "modelarts.kat1.xlarge"]
)
async def test_metrics_are_percent_series_and_no_data_is_no_point(c, fake, flavor):
    spec = {"name": "m", "code": "import time\ntime.sleep(1)\n", "flavor": flavor}
    job = await c.call("POST", "jobs", spec, expect=201)
    await c.poll(f"jobs/{job['id']}", lambda code, j: j["phase"] in FINAL, timeout=60)
    metrics = await c.call("GET", f"jobs/{job['id']}/metrics", expect=200)
    # The fake's accelerator series are all -1 (no data), and so is its first CPU sample.
    series = {s["metric"]: s for s in metrics["series"]}
    assert sorted(series) == ["cpuUsage", "memUsage"], metrics
    assert {s["unit"] for s in series.values()} == {"%"}
    assert series["cpuUsage"]["points"] == []
    assert [0 <= v <= 100 for _, v in series["memUsage"]["points"]] == [True]


# -- 8: flavors -----------------------------------------------------------------------------


async def test_ascend_flavors_are_npu_with_their_cards_counted(c):
    flavors = (await c.call("GET", "flavors", expect=200))["flavors"]
    assert {f["id"]: (f["type"], f["gpu_count"], f["gpu_name"]) for f in flavors} == {
        "modelarts.vm.cpu.8u": ("CPU", 0, None),
        "modelarts.vm.gpu.t4": ("GPU", 1, "NVIDIA-T4"),
        "modelarts.kat1.xlarge": ("NPU", 1, "Ascend-910"),
    }


@pytest.mark.parametrize(
    "name, kind, cpus",
    [
        ("modelarts.vm.cpu.8u", "CPU", 8),
        ("modelarts.vm.gpu.t4u8", "GPU", None),
        ("modelarts.p3.large.public.free", "GPU", None),
        ("modelarts.bm.npu.arm.8snt9b3.d", "NPU", None),
        ("modelarts.kat1.xlarge", "NPU", None),
    ],
)
async def test_the_instance_flavor_kind_is_read_from_its_code(c, fake, name, kind, cpus):
    fake.notebooks.notebook["flavor"] = name
    flavor = (await c.call("GET", "instance", expect=200))["flavor"]
    assert flavor["id"] == name and flavor["type"] == kind, flavor
    if cpus is not None:
        assert flavor["cpu_count"] == cpus


# -- the local backend on the same rules ----------------------------------------------------


class TestLocalBackend:
    @pytest.fixture
    def jp_server_config(self, ma_config):
        return server_config(ma_config)

    async def test_with_auto_stop_off_renewing_is_409_naming_duration(self, c):
        lease = await c.call("GET", "lease", expect=200)
        assert lease["enabled"] is False and lease["stop_at"] is None
        error = await c.call("PATCH", "lease", {"duration_s": 7200}, expect=409)
        assert error["reason"] == "Conflict" and error["field"] == "duration_s", error

    async def test_memory_is_a_percent_of_the_machine(self, c):
        code = "import time\nx = b'x' * (200 * 2**20)\ntime.sleep(2)\n"
        job = await c.call("POST", "jobs", {"name": "mem", "code": code}, expect=201)
        done = await c.poll(f"jobs/{job['id']}", lambda code, j: j["phase"] in FINAL, 60)
        assert done["phase"] == "Completed", done
        metrics = await c.call("GET", f"jobs/{job['id']}/metrics", expect=200)
        series = {s["metric"]: s for s in metrics["series"]}
        assert sorted(series) == ["cpuUsage", "memUsage"]
        assert {s["unit"] for s in series.values()} == {"%"}
        memory = [v for _, v in series["memUsage"]["points"]]
        assert memory and all(0 <= v <= 100 for v in memory), memory
        total_mib = psutil.virtual_memory().total / 2**20
        assert max(memory) / 100 * total_mib > 150, (memory, total_mib)
        assert all(0 <= v <= 100 for _, v in series["cpuUsage"]["points"])


class TestLocalLease:
    @pytest.fixture
    def jp_server_config(self, ma_config):
        return server_config({**ma_config, "auto_stop_enabled": True, "auto_stop_duration": 600})

    async def test_lease_duration_runs_from_renewed_at_to_stop_at(self, c):
        lease = await c.call("GET", "lease", expect=200)
        assert lease["duration_s"] == 600
        assert lease["stop_at"] - lease["renewed_at"] == 600 * 1000
        renewed = await c.call("PATCH", "lease", {"duration_s": 7200}, expect=200)
        assert renewed["duration_s"] == 7200
        assert renewed["stop_at"] - renewed["renewed_at"] == 7200 * 1000
