"""Saving the instance as an image on the local backend, checked with skopeo (not our reader)."""

import asyncio
import json
import os
import shutil
import subprocess
import threading
import types

import pytest

from conftest import fresh_backend
from jupyter_modelarts.backends.local import IMAGE_SAVES_AT_ONCE
from jupyter_modelarts.backends.local import image as oci
from jupyter_modelarts.models import ImageRequest, ImageStatus

FINAL = ("ACTIVE", "CREATE_FAILED")


@pytest.fixture
def held_writes(monkeypatch):
    """Image saves block on entering write_oci_archive until ``release`` is set."""
    gate = types.SimpleNamespace(entered=threading.Event(), release=threading.Event())
    write = oci.write_oci_archive

    def held(*args, **kwargs):
        gate.entered.set()
        gate.release.wait()
        return write(*args, **kwargs)

    monkeypatch.setattr(oci, "write_oci_archive", held)
    yield gate
    gate.release.set()


async def save(api, **body):
    _, image = await api.call("POST", "images", body, expect=202)
    assert image["status"] == "INIT"
    return await api.wait_for(f"images/{image['id']}", lambda i: i["status"] in FINAL)


async def test_save_image_to_active_and_skopeo_reads_it(api, ma_dirs):
    image = await save(api, name="my-env", tag="v1", description="demo")
    assert image["status"] == "ACTIVE", image
    assert image["namespace"] == "local"
    assert image["bytes_done"] == image["bytes_total"] > 0
    assert image["status_message"].startswith("sha256:")
    skopeo = shutil.which("skopeo")
    assert skopeo, "skopeo is required for this test (apt-get install skopeo)"
    out = subprocess.run(
        [skopeo, "inspect", f"oci-archive:{image['location']}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    info = json.loads(out)
    assert info["Os"] == "linux"
    assert info["Labels"]["org.opencontainers.image.title"] == "local/my-env"
    assert info["Digest"] == image["status_message"]
    listed = (await api.get("images"))["images"]
    assert [i["id"] for i in listed] == [image["id"]]
    code, error = await api.call("POST", "images", {"name": "my-env", "tag": "v1"})
    assert code == 409 and error["field"] == "tag"


async def test_image_over_the_size_cap_fails_before_writing(api, jp_serverapp, ma_dirs):
    app = next(iter(jp_serverapp.extension_manager.extension_apps["jupyter_modelarts"]))
    app.backend.image_size_limit = 10
    image = await save(api, name="big", tag="v1")
    assert image["status"] == "CREATE_FAILED"
    assert "greater than the threshold" in image["status_message"]
    assert not (ma_dirs["state"] / "images" / "local" / "big_v1.oci.tar").exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": "Upper"}, "name"),
        ({"name": "-lead"}, "name"),
        ({"name": "x" * 129}, "name"),
        ({"name": "ok", "tag": "bad tag"}, "tag"),
        ({"name": "ok", "tag": "t" * 65}, "tag"),
        ({"name": "ok", "namespace": "9ns"}, "namespace"),
        ({"name": "ok", "description": "d" * 513}, "description"),
        ({"name": "snap\n"}, "name"),
        ({"name": "ok", "tag": "v1\n"}, "tag"),
    ],
)
async def test_bad_image_requests_get_400(api, body, field):
    code, error = await api.call("POST", "images", body)
    assert code == 400 and error["field"] == field, error


async def test_unknown_image_is_404(api):
    code, error = await api.call("GET", "images/nope")
    assert code == 404 and error["field"] == "image_id"


async def test_two_references_that_join_alike_never_share_an_archive(api):
    """a_b:c and a:b_c were both written to a_b_c.oci.tar (issue 9, item 4)."""
    first = await save(api, name="a_b", tag="c")
    second = await save(api, name="a", tag="b_c")
    assert first["status"] == second["status"] == "ACTIVE", (first, second)
    assert first["location"] != second["location"]
    for image in (first, second):
        out = subprocess.run(
            ["skopeo", "inspect", f"oci-archive:{image['location']}"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        assert json.loads(out)["Digest"] == image["status_message"]


async def test_start_up_removes_partial_files_of_saves_a_crash_cut_short(jp_serverapp, ma_dirs):
    """kill -9 during a save left hidden *.layer.tmp files nothing removed (issue 9, item 4)."""
    images = ma_dirs["state"] / "images" / "local" / "env"
    images.mkdir(parents=True)
    partial = [images / ".v1.oci.tar.k2j3.layer.tmp", images / ".v1.oci.tar.x9q1.tmp"]
    for path in partial:
        path.write_bytes(b"\0" * 1024)
    kept = images / "v0.oci.tar"
    kept.write_bytes(b"an archive a finished save wrote")
    backend = fresh_backend(jp_serverapp)
    await backend.start()
    try:
        assert not any(path.exists() for path in partial)
        assert kept.exists()
    finally:
        await backend.close()


async def test_saves_beyond_the_pool_wait_queued_and_a_submit_still_answers(api, held_writes):
    """Seven saves took every thread of the loop's executor: a submit then waited 24-42 s
    (issue 9, item 3). Saves now run in their own bounded pool; the rest wait, queued."""
    count = min(32, (os.cpu_count() or 1) + 4) + 1  # more than the default executor's threads
    for i in range(count):
        await api.call("POST", "images", {"name": f"env{i}", "tag": "v1"}, expect=202)

    def held(body):
        writing = [i for i in body["images"] if i["status"] == "CREATING"]
        queued = [
            i
            for i in body["images"]
            if i["status"] == "INIT" and (i["status_message"] or "").startswith("queued")
        ]
        return len(writing) == IMAGE_SAVES_AT_ONCE and len(queued) == count - len(writing)

    await api.wait_for("images", held)
    _, job = await api.call("POST", "jobs", {"name": "beside-saves", "code": "1"}, expect=201)
    assert (await api.get(f"jobs/{job['id']}"))["name"] == "beside-saves"
    # The submit went through while every save was still held.
    assert held(await api.get("images"))
    held_writes.release.set()
    images = await api.wait_for(
        "images", lambda body: all(i["status"] in FINAL for i in body["images"]), timeout=60
    )
    assert {i["status"] for i in images["images"]} == {"ACTIVE"}, images


async def test_stopping_mid_save_fails_it_and_leaves_no_file(jp_serverapp, held_writes):
    """close() ends a save in CREATE_FAILED, does not wait for its thread, and the thread stops
    without leaving a file."""
    backend = fresh_backend(jp_serverapp)
    await backend.start()
    image = await backend.save_image(ImageRequest(name="env", tag="v1", namespace="local"))
    loop = asyncio.get_running_loop()
    assert await loop.run_in_executor(None, held_writes.entered.wait, 30)
    await backend.close()  # returns while the writer is still held
    stopped = await backend.get_image(image.id)
    assert stopped.status is ImageStatus.CREATE_FAILED
    assert "server stopped" in stopped.status_message
    held_writes.release.set()
    backend._image_threads.shutdown(wait=True)
    assert os.listdir(os.path.dirname(image.location)) == []
