"""Instance, flavors and engines of the local backend; auto-stop off by default."""

import os
import sys


async def test_instance_reads_the_machine(api):
    body = await api.get("instance")
    assert body["backend"] == "local" and body["status"] == "RUNNING"
    assert body["flavor"]["cpu_count"] == len(os.sched_getaffinity(0))
    assert body["flavor"]["memory_mb"] > 100
    assert body["lease"] == {
        "enabled": False,
        "type": "TIMING",
        "duration_s": None,
        "renewed_at": None,
        "stop_at": None,
        "remaining_s": None,
        "idle_since": None,
        "busy": None,
    }
    assert (await api.get("instance"))["id"] == body["id"]


async def test_flavors_and_engines(api):
    flavors = (await api.get("flavors"))["flavors"]
    assert flavors[0]["id"] in ("local.cpu", "local.gpu")
    engines = (await api.get("engines"))["engines"]
    # The default kernelspec: ipykernel's own, run by the server's Python.
    assert engines[0]["id"] == "python3"
    assert engines[0]["interpreter"] == sys.executable


async def test_renew_without_auto_stop_is_409(api):
    code, error = await api.call("PATCH", "lease", {"duration_s": 3600})
    assert code == 409 and "auto_stop_enabled" in error["message"]
