"""Code snapshots through the REST API: where code may come from, its symlinks, and the store."""

import asyncio
import os
import textwrap
import time

import pytest

from conftest import server_config

FINAL = ("Completed", "Failed", "Terminated", "Abnormal")


async def submit(api, expect=201, **spec):
    spec.setdefault("name", "snap-job")
    return await api.call("POST", "jobs", spec, expect=expect)


async def wait_final(api, job_id, timeout=60):
    return await api.wait_for(f"jobs/{job_id}", lambda j: j["phase"] in FINAL, timeout)


def write(path, text="x"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def project_with_inside_links(root):
    """A project whose code reads a file and a dataset through links that stay inside it."""
    project = root / "project"
    write(project / "conf" / "real.json", '{"lr": 3}')
    write(project / "datasets" / "v1" / "part" / "x.csv", "1,2,3")
    write(
        project / "train.py",
        textwrap.dedent("""
        import json, os
        print("cfg", json.load(open("cfg.json"))["lr"], os.path.islink("cfg.json"))
        print("data", open("pkg/data/part/x.csv").read(), os.path.islink("pkg/data"))
    """),
    )
    (project / "cfg.json").symlink_to("conf/real.json")
    (project / "pkg").mkdir()
    # Absolute, yet inside the project: the job gets it as a relative link.
    (project / "pkg" / "data").symlink_to(project / "datasets" / "v1")
    return project


def outside_links(root, outside):
    """A project with a secret, a dataset and a broken path linked in from outside it."""
    project = root / "project"
    write(project / "train.py", "print('ran')")
    write(outside / "secret.txt", "s3cret")
    write(outside / "dataset" / "x.csv", "1")
    (project / "secret.txt").symlink_to(outside / "secret.txt")
    (project / "sub").mkdir()
    (project / "sub" / "dataset").symlink_to(outside / "dataset")
    (project / "gone.py").symlink_to(project / "never-there.py")
    return project


def job_code(ma_dirs, job_id):
    return ma_dirs["state"] / "jobs" / job_id / "code"


def store_entries(ma_dirs):
    folder = ma_dirs["state"] / "code-store"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


async def until(predicate, what):
    """Wait for something the server does after answering (keeping copies, pruning)."""
    deadline = time.monotonic() + 20
    while not predicate():
        assert time.monotonic() < deadline, what()
        await asyncio.sleep(0.05)


def disk_blocks(folder):
    """512-byte blocks of the distinct inodes under ``folder``, as du counts them."""
    seen, blocks = set(), 0
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            st = os.lstat(os.path.join(dirpath, name))
            if st.st_ino not in seen:
                seen.add(st.st_ino)
                blocks += st.st_blocks
    return blocks


# -- where code may come from ---------------------------------------------------------------


async def test_code_dir_outside_the_root_is_refused(api, jp_root_dir, tmp_path):
    write(tmp_path / "elsewhere" / "train.py", "print('ran')")
    (jp_root_dir / "escape").symlink_to(tmp_path / "elsewhere")
    for code_dir in (str(tmp_path / "elsewhere"), "../elsewhere", "escape", "~", "/etc/default"):
        _, error = await submit(api, 400, code_dir=code_dir, code="print(1)")
        assert error["field"] == "code_dir", (code_dir, error)
        assert "outside" in error["message"] and "code_root" in error["message"], error
    assert (await api.get("jobs"))["jobs"] == []
    # A link that stays under the root is fine: where it resolves is what counts.
    write(jp_root_dir / "real" / "train.py", "print('ran')")
    (jp_root_dir / "alias").symlink_to(jp_root_dir / "real")
    _, job = await submit(api, code_dir="alias", boot_file="train.py")
    assert (await wait_final(api, job["id"]))["phase"] == "Completed"


@pytest.fixture
def code_root(jp_root_dir):
    return jp_root_dir / "allowed"


@pytest.fixture
def jp_server_config(ma_config, request):
    config = server_config(ma_config)
    if "code_root" in request.fixturenames:
        code_root = str(request.getfixturevalue("code_root"))
        config.setdefault("LocalBackend", {})["code_root"] = code_root
    return config


async def test_code_root_is_configurable(api, jp_root_dir, code_root):
    write(code_root / "p" / "train.py", "print('ran')")
    write(jp_root_dir / "other" / "train.py", "print('ran')")
    await submit(api, code_dir="allowed/p", boot_file="train.py")
    _, error = await submit(api, 400, code_dir="other", boot_file="train.py")
    assert error["field"] == "code_dir" and str(code_root) in error["message"], error


# -- symlinks -------------------------------------------------------------------------------


async def test_links_inside_are_kept_as_links_and_work(api, jp_root_dir, ma_dirs):
    project = project_with_inside_links(jp_root_dir)
    _, job = await submit(api, code_dir=str(project), boot_file="train.py")
    job = await wait_final(api, job["id"])
    log = await api.log_text(job["id"])
    assert job["phase"] == "Completed", log
    assert "cfg 3 True" in log and "data 1,2,3 True" in log
    code = job_code(ma_dirs, job["id"])
    assert os.readlink(code / "cfg.json") == "conf/real.json"
    assert os.readlink(code / "pkg" / "data") == "../datasets/v1"


async def test_links_outside_or_broken_are_refused_with_their_list(api, jp_root_dir, tmp_path):
    project = outside_links(jp_root_dir, tmp_path / "outside")
    _, error = await submit(api, 400, code_dir=str(project), boot_file="train.py")
    assert error["field"] == "code_dir"
    message = error["message"]
    assert "secret.txt (points outside)" in message
    assert "sub/dataset (points outside)" in message
    assert "gone.py (broken)" in message
    assert str(tmp_path) not in message  # relative paths only
    assert (await api.get("jobs"))["jobs"] == []


async def test_a_broken_link_alone_is_refused(api, jp_root_dir):
    write(jp_root_dir / "p" / "train.py", "print('ran')")
    (jp_root_dir / "p" / "old.py").symlink_to("renamed.py")
    _, error = await submit(api, 400, code_dir="p", boot_file="train.py")
    assert error["field"] == "code_dir" and "old.py (broken)" in error["message"], error


async def test_the_list_of_refused_links_is_capped(api, jp_root_dir, tmp_path):
    write(tmp_path / "secret.txt", "s")
    write(jp_root_dir / "p" / "train.py", "print('ran')")
    for i in range(25):
        (jp_root_dir / "p" / f"l{i:02d}").symlink_to(tmp_path / "secret.txt")
    _, error = await submit(api, 400, code_dir="p", boot_file="train.py")
    assert "l09 (points outside)" in error["message"] and "l10" not in error["message"]
    assert "and 15 more" in error["message"], error


async def test_links_into_left_out_folders_and_loops_are_refused(api, jp_root_dir):
    project = jp_root_dir / "p"
    write(project / "train.py", "print('ran')")
    write(project / ".git" / "HEAD", "ref")
    (project / "head").symlink_to(".git/HEAD")
    _, error = await submit(api, 400, code_dir="p", boot_file="train.py")
    assert "head (points to something the snapshot leaves out)" in error["message"], error
    (project / "head").unlink()
    (project / "sub").mkdir()
    (project / "sub" / "up").symlink_to("..")
    _, error = await submit(api, 400, code_dir="p", boot_file="train.py")
    assert error["field"] == "code_dir" and "contains itself: sub/up" in error["message"], error


# -- the local store ------------------------------------------------------------------------


async def test_editing_the_source_after_submit_never_reaches_a_job(api, jp_root_dir, ma_dirs):
    project = jp_root_dir / "p"
    helper = write(project / "helper.py", "VALUE = 'first'\n")
    write(project / "train.py", "import helper\nprint('value', helper.VALUE)\n")
    _, first = await submit(api, code_dir="p", boot_file="train.py")
    _, again = await submit(api, code_dir="p", boot_file="train.py")
    # Written in place (same inode, same size), then replaced by a rename.
    with open(helper, "r+") as f:
        f.write("VALUE = 'other'\n")
    _, edited = await submit(api, code_dir="p", boot_file="train.py")
    write(project / "helper.tmp", "VALUE = 'renamed'\n").rename(helper)
    _, renamed = await submit(api, code_dir="p", boot_file="train.py")
    expected = {first["id"]: "first", again["id"]: "first", edited["id"]: "other"}
    expected[renamed["id"]] = "renamed"
    for job_id, value in expected.items():
        job = await wait_final(api, job_id)
        assert f"value {value}" in await api.log_text(job_id), job
        assert f"'{value}'" in (job_code(ma_dirs, job_id) / "helper.py").read_text()


async def test_a_resubmit_reuses_the_stored_files(api, jp_root_dir, ma_dirs):
    project = jp_root_dir / "p"
    write(project / "train.py", "print('ran')\n")
    (project / "weights.bin").write_bytes(os.urandom(1 << 20))
    for i in range(20):
        write(project / "pkg" / f"m{i}.py", f"X = {i}\n")
    _, first = await submit(api, code_dir="p", boot_file="train.py")
    await until(lambda: len(store_entries(ma_dirs)) == 22, lambda: store_entries(ma_dirs))
    entries = store_entries(ma_dirs)
    blocks = disk_blocks(ma_dirs["state"] / "jobs")
    _, second = await submit(api, code_dir="p", boot_file="train.py")
    assert store_entries(ma_dirs) == entries
    # The second copy costs its folders, not its files' bytes.
    assert (disk_blocks(ma_dirs["state"] / "jobs") - blocks) * 512 < (1 << 20) // 2
    a, b = job_code(ma_dirs, first["id"]), job_code(ma_dirs, second["id"])
    assert os.stat(a / "weights.bin").st_ino == os.stat(b / "weights.bin").st_ino
    assert os.stat(a / "pkg" / "m3.py").st_ino == os.stat(b / "pkg" / "m3.py").st_ino
    assert not os.stat(a / "weights.bin").st_mode & 0o222  # read-only: shared by both jobs
    for job in (first, second):
        assert (await wait_final(api, job["id"]))["phase"] == "Completed"


async def test_the_store_drops_what_no_job_uses_and_what_a_crash_left(api, jp_root_dir, ma_dirs):
    store = ma_dirs["state"] / "code-store"
    write(store / ".tmp-0123", "half a file")  # a copy a crash cut short
    write(jp_root_dir / "a" / "train.py", "print('a')\n")
    write(jp_root_dir / "b" / "train.py", "print('b')\n")
    _, a = await submit(api, code_dir="a", boot_file="train.py")
    assert not (store / ".tmp-0123").exists()
    await until(lambda: len(store_entries(ma_dirs)) == 1, lambda: store_entries(ma_dirs))
    (only_a,) = store_entries(ma_dirs)
    await wait_final(api, a["id"])
    await api.call("DELETE", f"jobs/{a['id']}", expect=204)
    _, b = await submit(api, code_dir="b", boot_file="train.py")
    # Pruned in the background after b's snapshot, which b's copy then replaces.
    await until(
        lambda: only_a not in store_entries(ma_dirs) and len(store_entries(ma_dirs)) == 1,
        lambda: store_entries(ma_dirs),
    )
    assert (await wait_final(api, b["id"]))["phase"] == "Completed"


# -- the cloud backend: the same rules ------------------------------------------------------


class TestCloud:
    @pytest.fixture
    def jp_server_config(self, cloud_jp_server_config):
        return cloud_jp_server_config

    async def test_outside_code_dirs_and_links_are_refused(self, api, fake, jp_root_dir, tmp_path):
        write(tmp_path / "elsewhere" / "train.py", "print('ran')")
        for code_dir in (str(tmp_path / "elsewhere"), "~"):
            _, error = await submit(api, 400, code_dir=code_dir, boot_file="train.py")
            assert error["field"] == "code_dir" and "outside" in error["message"], error
        project = outside_links(jp_root_dir, tmp_path / "outside")
        _, error = await submit(api, 400, code_dir=str(project), boot_file="train.py")
        assert "secret.txt (points outside)" in error["message"], error
        assert "sub/dataset (points outside)" in error["message"]
        assert "gone.py (broken)" in error["message"]
        assert not [k for k in fake.buckets["bucket"] if k.startswith("jobs/")]

    async def test_links_inside_arrive_as_what_they_point_to(self, api, fake, jp_root_dir):
        project = project_with_inside_links(jp_root_dir)
        _, job = await submit(api, name="linked", code_dir=str(project), boot_file="train.py")
        stored = fake.buckets["bucket"]
        (upstream,) = fake.jobs_named("linked")
        code = upstream["algorithm"]["code_dir"][len("/bucket/") :]  # one folder per submission
        assert stored[f"{code}cfg.json"] == b'{"lr": 3}'
        assert stored[f"{code}pkg/data/part/x.csv"] == b"1,2,3"
        assert stored[f"{code}datasets/v1/part/x.csv"] == b"1,2,3"
        job = await wait_final(api, job["id"])
        log = await api.log_text(job["id"])
        assert job["phase"] == "Completed", log
        assert "cfg 3 False" in log and "data 1,2,3 False" in log


async def test_the_servers_kernel_path_folder_in_a_code_dir_is_left_out(api, jp_root_dir):
    """With Jupyter's runtime dir under the server's root (a home-folder root), %%ma_train's
    default code dir held the folder lending kernels this package, whose link points outside:
    every submit from a notebook there was refused."""
    project = jp_root_dir / "home"
    write(project / "train.py", "print('ran')\n")
    lent = project / ".local" / "runtime" / "0123abcd-jupyter_modelarts-kernel-path"
    lent.mkdir(parents=True)
    (lent / "jupyter_modelarts").symlink_to(os.path.dirname(os.__file__))
    _, job = await submit(api, code_dir="home", boot_file="train.py")
    assert (await wait_final(api, job["id"]))["phase"] == "Completed"
    assert await api.log_text(job["id"]) == "ran\n"
