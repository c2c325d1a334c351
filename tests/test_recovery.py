"""Background tasks end in a final state whatever they meet, and start-up recovers each record
on its own (issue 9, item 1)."""

import logging
import uuid

import pytest

from conftest import fresh_backend
from jupyter_modelarts.backends.local import image as image_module


def extension(serverapp):
    return next(iter(serverapp.extension_manager.extension_apps["jupyter_modelarts"]))


@pytest.fixture
def logged(jp_serverapp):
    """The backend's log records (its logger doesn't propagate on older jupyter_server)."""
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = extension(jp_serverapp).backend.log
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


async def test_an_unforeseen_error_fails_the_mount_with_its_reason(
    api, jp_serverapp, ma_dirs, monkeypatch, logged
):
    def boom(*args):
        raise RuntimeError("boom in attach")

    monkeypatch.setattr(extension(jp_serverapp).backend.data, "attach", boom)
    (ma_dirs["objects"] / "bucket" / "d").mkdir()
    _, mount = await api.call(
        "POST", "mounts", {"uri": "obs://bucket/d/", "mount_path": "/data/d/"}, expect=202
    )
    mount = await api.wait_for(f"mounts/{mount['id']}", lambda m: m["status"] != "MOUNTING")
    assert mount["status"] == "MOUNT_FAILED"
    assert mount["failure_reason"] == "internal error: RuntimeError: boom in attach"
    assert any(r.exc_info and "boom in attach" in str(r.exc_info[1]) for r in logged)
    await api.call("DELETE", f"mounts/{mount['id']}", expect=202)


async def test_an_unforeseen_error_fails_the_image_save_with_its_reason(api, monkeypatch, logged):
    def boom(paths):
        raise ValueError("boom in planning")

    monkeypatch.setattr(image_module, "plan_layer", boom)
    _, image = await api.call("POST", "images", {"name": "env"}, expect=202)
    image = await api.wait_for(
        f"images/{image['id']}", lambda i: i["status"] not in ("INIT", "CREATING")
    )
    assert image["status"] == "CREATE_FAILED"
    assert image["status_message"] == "internal error: ValueError: boom in planning"
    assert any(r.levelno == logging.ERROR and r.exc_info for r in logged)


async def test_start_up_recovers_each_record_on_its_own(jp_serverapp, ma_dirs):
    store = extension(jp_serverapp).store
    (ma_dirs["objects"] / "bucket" / "ok").mkdir()
    good_mount = str(uuid.uuid4())
    store.put(
        "mount",
        good_mount,
        {
            "id": good_mount,
            "uri": "obs://bucket/ok/",
            "mount_path": "/data/ok/",
            "status": "MOUNTING",
            "created_at": 1,
        },
    )
    store.put(
        "mount", "bad-mount", {"id": "bad-mount", "status": "NO-SUCH-STATUS", "created_at": 0}
    )
    store.put("image", "bad-image", {"id": "bad-image", "status": "CREATING", "created_at": 0})
    store.put(
        "job", "bad-job", {"id": "bad-job", "backend": "local", "phase": "Running", "created_at": 0}
    )
    backend = fresh_backend(jp_serverapp)
    await backend.start()
    try:
        assert (await backend.get_mount(good_mount)).status.value == "MOUNTED"
        assert (ma_dirs["data"] / "ok").is_symlink()
        failed = store.get("job", "bad-job")
        assert failed["phase"] == "Failed" and "after a restart" in failed["message"]
        assert backend.jobs._sampler is not None  # the runner started all the same
    finally:
        await backend.close()
