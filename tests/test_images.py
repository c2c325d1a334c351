"""Saving the instance as an image on the local backend, checked with skopeo (not our reader)."""

import json
import shutil
import subprocess

import pytest

from conftest import fresh_backend

FINAL = ("ACTIVE", "CREATE_FAILED")


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
    app.image_size_limit = 10
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
