"""Dynamic OBS mounts on the local backend: the mount path really shows the store."""

import os
import stat

from conftest import fresh_backend

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


async def test_a_symlink_in_the_data_root_cannot_carry_a_mount_outside_it(api, ma_dirs, tmp_path):
    """Issue 9, item 6: the mount path is resolved against the real data root first."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (ma_dirs["data"] / "ln").symlink_to(outside)
    (ma_dirs["data"] / "up").symlink_to(tmp_path)  # so /data/up/data/ is the data root itself
    for path in ("/data/ln/x/", "/data/up/elsewhere/", "/data/up/data/"):
        code, error = await api.call(
            "POST", "mounts", {"uri": "obs://bucket/a/", "mount_path": path}
        )
        assert code == 400 and error["field"] == "mount_path", (path, code, error)
    assert list(outside.iterdir()) == []
    # Nor does a mount replace the user's link itself.
    m = await mount(api, uri="obs://bucket/a/", path="/data/ln/")
    assert m["status"] == "MOUNT_FAILED" and "symbolic link" in m["failure_reason"], m
    assert (ma_dirs["data"] / "ln").readlink() == outside


async def test_overlap_is_checked_where_the_paths_lead(api, ma_dirs):
    """A link between two folders of the data root is another spelling of the same place."""
    (ma_dirs["data"] / "real").mkdir()
    (ma_dirs["data"] / "alias").symlink_to(ma_dirs["data"] / "real")
    first = await mount(api, path="/data/alias/m/")
    assert first["status"] == "MOUNTED", first
    for path in ("/data/real/m/", "/data/real/", "/data/real/m/deeper/"):
        code, error = await api.call(
            "POST", "mounts", {"uri": "obs://bucket/other/", "mount_path": path}
        )
        assert code == 400 and error["field"] == "mount_path", (path, code, error)
    store = (ma_dirs["objects"] / "bucket" / "team" / "data").resolve()
    assert (ma_dirs["data"] / "real" / "m").readlink() == store  # the first mount's link, intact
    assert [m["status"] for m in (await api.get("mounts"))["mounts"]] == ["MOUNTED"]


async def test_unmount_puts_back_the_empty_folder_the_mount_replaced(api, ma_dirs):
    empty = ma_dirs["data"] / "empty"
    empty.mkdir()
    empty.chmod(0o750)
    m = await mount(api, path="/data/empty/")
    assert m["status"] == "MOUNTED" and empty.is_symlink(), m
    await api.call("DELETE", f"mounts/{m['id']}", expect=202)
    await api.wait_for("mounts", lambda b: b["mounts"] == [])
    assert empty.is_dir() and not empty.is_symlink()
    assert stat.S_IMODE(empty.stat().st_mode) == 0o750


async def test_restarts_mid_mount_and_mid_unmount_still_put_the_folder_back(
    api, jp_serverapp, ma_dirs
):
    """What the mount replaced is in its record, so a crash at any step can't lose it."""
    folder = ma_dirs["data"] / "keep"
    folder.mkdir()
    folder.chmod(0o705)
    m = await mount(api, path="/data/keep/")
    store = next(iter(jp_serverapp.extension_manager.extension_apps["jupyter_modelarts"])).store

    async def crash_and_restart(status):
        """As if the server died in ``status`` after changing the link, before the record."""
        folder.unlink()
        store.put("mount", m["id"], {**store.get("mount", m["id"]), "status": status})
        backend = fresh_backend(jp_serverapp)
        await backend.start()
        await backend.close()

    await crash_and_restart("MOUNTING")  # died after removing the folder, before linking
    assert folder.is_symlink()
    assert (await api.get(f"mounts/{m['id']}"))["status"] == "MOUNTED"
    await crash_and_restart("UNMOUNTING")  # died after unlinking, before dropping the record
    assert store.get("mount", m["id"]) is None
    assert folder.is_dir() and not folder.is_symlink()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o705


async def test_a_mount_deleted_or_replaced_in_the_file_browser_is_broken_and_unmounts(api, ma_dirs):
    data = ma_dirs["data"]
    gone = await mount(api, uri="obs://bucket/g/", path="/data/gone/")
    replaced = await mount(api, uri="obs://bucket/r/", path="/data/replaced/")
    healthy = await mount(api, uri="obs://bucket/h/", path="/data/healthy/")
    (data / "gone").unlink()
    (data / "replaced").unlink()
    (data / "replaced").mkdir()
    (data / "replaced" / "mine.txt").write_text("mine")

    listed = {m["id"]: m for m in (await api.get("mounts"))["mounts"]}
    assert listed[healthy["id"]]["status"] == "MOUNTED"
    for m, what in ((gone, "deleted"), (replaced, "replaced")):
        for shown in (listed[m["id"]], await api.get(f"mounts/{m['id']}")):
            assert shown["status"] == "BROKEN", shown
            assert m["mount_path"] in shown["failure_reason"] and what in shown["failure_reason"]
        # Unmounting forgets it at once and leaves whatever is there now.
        _, body = await api.call("DELETE", f"mounts/{m['id']}", expect=202)
        assert body["status"] == "UNMOUNTED" and what in body["failure_reason"], body
        code, _ = await api.call("GET", f"mounts/{m['id']}")
        assert code == 404
    assert (data / "replaced" / "mine.txt").read_text() == "mine"
    assert not (data / "gone").exists()
    assert [m["id"] for m in (await api.get("mounts"))["mounts"]] == [healthy["id"]]
    assert (ma_dirs["objects"] / "bucket" / "r").is_dir()

    # Its OBS folder gone, the link is still ours: unmounting removes it as usual.
    (ma_dirs["objects"] / "bucket" / "h").rmdir()
    shown = await api.get(f"mounts/{healthy['id']}")
    assert shown["status"] == "BROKEN" and "object store" in shown["failure_reason"], shown
    _, body = await api.call("DELETE", f"mounts/{healthy['id']}", expect=202)
    assert body["status"] == "UNMOUNTING"
    await api.wait_for("mounts", lambda b: b["mounts"] == [])
    assert not os.path.lexists(data / "healthy")
