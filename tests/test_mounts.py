"""Dynamic OBS mounts on the local backend: the mount path really shows the store."""

FINAL = ("MOUNTED", "MOUNT_FAILED")


async def mount(api, uri="obs://bucket/team/data/", path="/data/team/"):
    _, body = await api.call("POST", "mounts", {"uri": uri, "mount_path": path}, expect=202)
    assert body["status"] == "MOUNTING"
    return await api.wait_for(f"mounts/{body['id']}", lambda m: m["status"] in FINAL)


async def test_mount_write_through_unmount_keeps_data(api, ma_dirs):
    m = await mount(api)
    assert m["status"] == "MOUNTED", m
    assert [x["id"] for x in (await api.get("mounts"))["mounts"]] == [m["id"]]
    # Kernel code writes under the mount path: the bytes land in the store.
    local = ma_dirs["data"] / "team"
    (local / "sub").mkdir()
    (local / "sub" / "result.csv").write_text("a,b\n1,2\n")
    stored = ma_dirs["objects"] / "bucket" / "team" / "data" / "sub" / "result.csv"
    assert stored.read_text() == "a,b\n1,2\n"
    # And what is in the store reads through the mount.
    (ma_dirs["objects"] / "bucket" / "team" / "data" / "in.txt").write_text("from obs")
    assert (local / "in.txt").read_text() == "from obs"

    _, body = await api.call("DELETE", f"mounts/{m['id']}", expect=202)
    assert body["status"] == "UNMOUNTING"
    await api.wait_for("mounts", lambda b: b["mounts"] == [])
    code, _ = await api.call("GET", f"mounts/{m['id']}")
    assert code == 404
    assert not local.exists()
    assert stored.read_text() == "a,b\n1,2\n"


async def test_bad_mounts_get_400_naming_the_field(api):
    await mount(api, path="/data/taken/")
    long_path = "/data/" + "x" * 251 + "/"
    cases = [
        ({"uri": "obs://bucket/", "mount_path": "/data/a/"}, "uri"),  # bucket root
        ({"uri": "obs://bucket/dir", "mount_path": "/data/a/"}, "uri"),  # no trailing /
        ({"uri": "obs://bucket/../other/", "mount_path": "/data/a/"}, "uri"),
        ({"uri": "obs://bucket/a//b/", "mount_path": "/data/a/"}, "uri"),
        ({"uri": "s3://bucket/dir/", "mount_path": "/data/a/"}, "uri"),
        ({"uri": "obs://Bucket_X/dir/", "mount_path": "/data/a/"}, "uri"),
        ({"mount_path": "/data/a/"}, "uri"),
        ({"uri": "obs://bucket/dir/", "mount_path": "/data/a"}, "mount_path"),
        ({"uri": "obs://bucket/dir/", "mount_path": "/home/a/"}, "mount_path"),
        ({"uri": "obs://bucket/dir/", "mount_path": "/data/"}, "mount_path"),
        ({"uri": "obs://bucket/dir/", "mount_path": "/data/../etc/"}, "mount_path"),
        ({"uri": "obs://bucket/dir/", "mount_path": "/data/a/./b/"}, "mount_path"),
        ({"uri": "obs://bucket/dir/", "mount_path": long_path}, "mount_path"),
        ({"uri": "obs://bucket/" + "d" * 250 + "/", "mount_path": "/data/a/"}, "uri"),
        ({"uri": "obs://bucket/dir/", "mount_path": "/data/taken/"}, "mount_path"),
        ({"uri": "obs://bucket/dir/", "mount_path": "/data/taken/inner/"}, "mount_path"),
        ({"uri": "obs://bucket/dir/", "mount_path": 7}, "mount_path"),
        ({"uri": "obs://bucket/dir/", "mount_path": "/data/a\n/"}, "mount_path"),
        ({"uri": "obs://bucket/x\n/", "mount_path": "/data/a/"}, "uri"),
        ({"uri": "obs://bucket\n/x/", "mount_path": "/data/a/"}, "uri"),
    ]
    for body, field in cases:
        code, error = await api.call("POST", "mounts", body)
        assert code == 400, (body, code, error)
        assert error["field"] == field, (body, error)
        assert error["message"]
    code, error = await api.call(
        "POST", "mounts", {"uri": "obs://nobucket/dir/", "mount_path": "/data/a/"}
    )
    assert code == 404 and error["field"] == "uri" and "nobucket" in error["message"]
    code, error = await api.call("POST", "mounts", body=None)
    assert code == 400
    assert len((await api.get("mounts"))["mounts"]) == 1


async def test_mount_over_existing_files_fails_with_reason_and_hides_nothing(api, ma_dirs):
    (ma_dirs["data"] / "busy").mkdir()
    (ma_dirs["data"] / "busy" / "mine.txt").write_text("keep me")
    m = await mount(api, path="/data/busy/")
    assert m["status"] == "MOUNT_FAILED"
    assert "already holds files" in m["failure_reason"]
    assert (ma_dirs["data"] / "busy" / "mine.txt").read_text() == "keep me"
    await api.call("DELETE", f"mounts/{m['id']}", expect=202)
    assert (await api.get("mounts"))["mounts"] == []
    assert (ma_dirs["data"] / "busy" / "mine.txt").read_text() == "keep me"


async def test_unknown_mount_is_404(api):
    for method in ("GET", "DELETE"):
        code, error = await api.call(method, "mounts/nope")
        assert code == 404 and error["field"] == "mount_id"


async def test_mount_paths_are_normalised_before_the_overlap_check(api, ma_dirs):
    """'/data/ov//' and then '/data/ov/inner/' both mounted (issue 9, item 6)."""
    (ma_dirs["objects"] / "bucket" / "a").mkdir()
    first = await mount(api, uri="obs://bucket/a/", path="/data/ov//")
    assert first["status"] == "MOUNTED" and first["mount_path"] == "/data/ov/", first
    for nested in ("/data/ov/inner/", "/data/ov///", "/data/ov/"):
        code, error = await api.call(
            "POST", "mounts", {"uri": "obs://bucket/a/", "mount_path": nested}
        )
        assert code == 400 and error["field"] == "mount_path", (nested, code, error)
