"""Per-submission code folders on OBS, through our REST API against the fake cloud over HTTP."""

import json

import pytest

from conftest import cloud_server_config

FINAL = ("Completed", "Failed", "Terminated", "Abnormal")


@pytest.fixture
def obs_addressing():
    """How the server reaches OBS; a test parametrizes it to "virtual" for bucket.host URLs."""
    return "path"


@pytest.fixture
def jp_server_config(ma_config, cloud_config, fake, fake_keys, monkeypatch, obs_addressing):
    if obs_addressing == "virtual":
        # OBS's real host name, reached through the fake as the HTTP proxy (httpx honours
        # HTTP_PROXY); every other service stays direct.
        monkeypatch.setenv("HTTP_PROXY", fake.base_url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
        cloud_config = {
            **cloud_config,
            "obs_endpoint": f"http://obs.{fake.region}.myhuaweicloud.com",
        }
    return cloud_server_config(ma_config, cloud_config)


@pytest.fixture
def backend(jp_serverapp):
    return jp_serverapp.web_app.settings["modelarts_backend"]


def write(folder, files):
    for rel, text in files.items():
        path = folder.joinpath(*rel.split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def code_key(fake, name, job_id):
    """``jobs/<name>/<submit id>/code/``: where ModelArts was told the job's code is."""
    (view,) = [j for j in fake.jobs_named(name) if j["metadata"]["id"] == job_id]
    code_dir = view["algorithm"]["code_dir"]
    assert code_dir.startswith("/bucket/jobs/") and code_dir.endswith("/code/"), code_dir
    return code_dir[len("/bucket/") :]


def objects(fake, prefix):
    return {k[len(prefix) :]: v for k, v in fake.buckets["bucket"].items() if k.startswith(prefix)}


def sent_with_bytes(fake, prefix):
    """Keys under ``prefix`` whose bytes were sent (a PUT or part with a body, not a copy)."""
    return sorted(
        r.key
        for r in fake.obs.requests
        if r.op in ("put", "upload_part") and r.body_size and r.key.startswith(prefix)
    )


async def submit(api, body):
    _, job = await api.call("POST", "jobs", body, expect=201)
    return job


async def wait_job(api, job_id):
    return await api.wait_for(f"jobs/{job_id}", lambda j: j["phase"] in FINAL, 60)


async def delete_when_done(api, job):
    """ModelArts refuses a name a job holds: the next submission of it waits for this one."""
    done = await wait_job(api, job["id"])
    await api.call("DELETE", f"jobs/{job['id']}", expect=204)
    return done


FIRST = {
    "train.py": "from helper import WORD\nimport os\nprint(WORD, sorted(os.listdir('.')))\n",
    "helper.py": "WORD = 'first'\n",
    "data/old.txt": "only in the first submission\n",
    "data/keep.txt": "kept\n",
}


@pytest.mark.parametrize("obs_addressing", ["path", "virtual"])
async def test_a_second_submit_never_touches_the_first_submissions_code(
    api, fake, jp_root_dir, obs_addressing
):
    code_dir = jp_root_dir / "project"
    write(code_dir, FIRST)
    body = {"name": "train", "code_dir": str(code_dir), "boot_file": "train.py"}
    first = await submit(api, body)
    first_key = code_key(fake, "train", first["id"])
    before = objects(fake, first_key)
    assert before == {rel: text.encode() for rel, text in FIRST.items()}
    assert (await wait_job(api, first["id"]))["phase"] == "Completed"
    assert "first" in await api.log_text(first["id"])
    await delete_when_done(api, first)

    (code_dir / "helper.py").write_text("WORD = 'second'\n")
    (code_dir / "data" / "old.txt").unlink()
    second = await submit(api, body)
    second_key = code_key(fake, "train", second["id"])

    assert second_key != first_key
    assert objects(fake, first_key) == before  # byte for byte, every key still there
    assert objects(fake, second_key)["helper.py"] == b"WORD = 'second'\n"
    done = await wait_job(api, second["id"])
    assert done["phase"] == "Completed", done
    assert "second" in await api.log_text(second["id"])
    if obs_addressing == "virtual":
        hosts = {(r.style, r.host) for r in fake.obs.requests}
        assert hosts == {("virtual", f"bucket.obs.{fake.region}.myhuaweicloud.com")}


async def test_a_refused_duplicate_submit_changes_nothing_the_live_job_uses(api, fake, jp_root_dir):
    code_dir = jp_root_dir / "project"
    write(code_dir, {"train.py": "import time\ntime.sleep(2)\nprint('first', flush=True)\n"})
    body = {"name": "live", "code_dir": str(code_dir), "boot_file": "train.py"}
    live = await submit(api, body)
    live_key = code_key(fake, "live", live["id"])
    before = objects(fake, live_key)

    (code_dir / "train.py").write_text("print('second')\n")
    code, error = await api.call("POST", "jobs", body)
    assert code == 409, error
    assert (await api.get(f"jobs/{live['id']}"))["phase"] not in FINAL
    assert objects(fake, live_key) == before
    done = await wait_job(api, live["id"])
    assert done["phase"] == "Completed" and "first" in await api.log_text(live["id"])


async def test_a_file_deleted_locally_is_not_in_the_new_submissions_folder(api, fake, jp_root_dir):
    code_dir = jp_root_dir / "project"
    write(code_dir, FIRST)
    body = {"name": "deleted", "code_dir": str(code_dir), "boot_file": "train.py"}
    first = await submit(api, body)
    first_key = code_key(fake, "deleted", first["id"])
    await delete_when_done(api, first)
    (code_dir / "data" / "old.txt").unlink()
    second = await submit(api, body)
    after = objects(fake, code_key(fake, "deleted", second["id"]))
    assert sorted(after) == ["data/keep.txt", "helper.py", "train.py"]
    assert "data/old.txt" in objects(fake, first_key)
    done = await wait_job(api, second["id"])
    assert "['data', 'helper.py', 'train.py']" in await api.log_text(second["id"]), done


async def test_unchanged_files_are_copied_within_obs_not_sent_again(api, fake, jp_root_dir):
    code_dir = jp_root_dir / "project"
    files = {f"pkg/m{i}.py": f"X = {i}\n" for i in range(5)}
    files["train.py"] = "import pkg.m3\nprint(pkg.m3.X)\n"
    write(code_dir, files)
    body = {"name": "again", "code_dir": str(code_dir), "boot_file": "train.py"}
    first = await submit(api, body)
    first_key = code_key(fake, "again", first["id"])
    assert len(sent_with_bytes(fake, first_key)) == 6
    await delete_when_done(api, first)

    (code_dir / "pkg" / "m3.py").write_text("X = 33\n")
    second = await submit(api, body)
    second_key = code_key(fake, "again", second["id"])
    assert sent_with_bytes(fake, second_key) == [f"{second_key}pkg/m3.py"]
    copies = [r for r in fake.obs.requests if r.op == "copy" and r.key.startswith(second_key)]
    assert len(copies) == 5 and all(r.status == 200 for r in copies)
    assert objects(fake, second_key) == {
        **{rel: text.encode() for rel, text in files.items()},
        "pkg/m3.py": b"X = 33\n",
    }
    manifest = json.loads(fake.buckets["bucket"][second_key[: -len("code/")] + "manifest.json"])
    assert sorted(manifest["files"]) == sorted(files)
    done = await wait_job(api, second["id"])
    assert "33" in await api.log_text(second["id"]), done


async def test_folders_no_job_runs_from_are_swept_by_a_later_submit(
    api, fake, backend, jp_root_dir
):
    code_dir = jp_root_dir / "project"
    write(code_dir, {"train.py": "print('hi')\n"})
    body = {"name": "sweep", "code_dir": str(code_dir), "boot_file": "train.py"}
    kept = await submit(api, body)
    kept_key = code_key(fake, "sweep", kept["id"])

    fake.deny("modelarts:trainJob:create")
    code, error = await api.call("POST", "jobs", body)
    assert code == 403, error
    with fake._lock:
        fake._denied.clear()
    folders = {k.split("/")[2] for k in fake.buckets["bucket"] if k.startswith("jobs/sweep/")}
    (refused,) = folders - {kept_key.split("/")[2]}
    assert objects(fake, f"jobs/sweep/{refused}/")  # left by the refused create, unused

    backend.code.sweep_after_s = 0  # no submit is in flight here
    code, error = await api.call("POST", "jobs", body)  # refused: the kept job holds the name
    assert code == 409 and error["field"] == "name", error
    assert not objects(fake, f"jobs/sweep/{refused}/")
    assert objects(fake, kept_key) == {"train.py": b"print('hi')\n"}

    await delete_when_done(api, kept)
    fourth = await submit(api, body)
    fourth_key = code_key(fake, "sweep", fourth["id"])
    assert not objects(fake, kept_key)  # its job is gone: so is its code
    folders = {k.split("/")[2] for k in fake.buckets["bucket"] if k.startswith("jobs/sweep/")}
    assert folders - {"logs"} == {fourth_key.split("/")[2]}  # and the second refused one's
    await wait_job(api, fourth["id"])


async def test_inline_code_goes_to_its_own_submission_folder(api, fake):
    first = await submit(api, {"name": "inline", "code": "print('one')"})
    one = code_key(fake, "inline", first["id"])
    await wait_job(api, first["id"])
    assert "one" in await api.log_text(first["id"])
    await delete_when_done(api, first)
    second = await submit(api, {"name": "inline", "code": "print('two')"})
    two = code_key(fake, "inline", second["id"])
    assert one != two
    assert fake.buckets["bucket"][f"{one}ma_boot.py"] == b"print('one')"
    assert fake.buckets["bucket"][f"{two}ma_boot.py"] == b"print('two')"
    await wait_job(api, second["id"])
    assert "two" in await api.log_text(second["id"])
