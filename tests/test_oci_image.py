"""Check the OCI archives written by ``backends.local.image`` with skopeo and umoci."""

import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import tarfile
import zlib
from concurrent.futures import ThreadPoolExecutor

import pytest

from jupyter_modelarts.backends.local import image as oci
from jupyter_modelarts.backends.local.image import (
    ImageBuildError,
    plan_layer,
    write_oci_archive,
)

UNICODE_NAME = "données-файл-数据.txt"
BIG_SIZE = 9 * 1024 * 1024 + 123
# Compressible, a few compression chunks long, and ends mid-chunk.
TEXT = b"".join(b"line %d of a log file, %s\n" % (i, b"x" * (i % 37)) for i in range(70000))
LABELS = {"org.example.source": "test", "com.example.note": "héllo"}


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"{name} is required to check OCI archives; install it (apt-get install {name})"
        )
    return path


def _run_json(*args: str):
    result = subprocess.run(args, check=True, capture_output=True, text=True)
    return json.loads(result.stdout)


def _make_tree(root):
    (root / "nested" / "deep").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "bin").mkdir()
    (root / "a.txt").write_text("hello\n")
    (root / "nested" / "deep" / "big.bin").write_bytes(os.urandom(BIG_SIZE))
    (root / "nested" / "log.txt").write_bytes(TEXT)
    (root / UNICODE_NAME).write_text("ünïcødé\n")
    script = root / "bin" / "run.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o755)
    (root / "link").symlink_to("nested/deep/big.bin")
    (root / "dirlink").symlink_to("nested")
    return root


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tree = _make_tree(tmp_path_factory.mktemp("tree"))
    out_dir = tmp_path_factory.mktemp("out")
    dest = out_dir / "image.tar"
    plan = plan_layer([str(tree)])
    calls = []
    info = write_oci_archive(
        plan,
        str(dest),
        ref_name="saved",
        labels=LABELS,
        progress=lambda done, total: calls.append((done, total)),
    )
    return tree, dest, plan, info, calls


def test_plan_layer_order_and_names(built):
    tree, _, plan, _, _ = built
    names = [name for _, name in plan.files]
    prefix = str(tree).lstrip("/")
    parts = prefix.split("/")
    # Parent directories come first so the layer recreates them.
    assert names[: len(parts)] == ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    assert f"{prefix}/{UNICODE_NAME}" in names
    assert f"{prefix}/dirlink" in names
    assert f"{prefix}/dirlink/deep" not in names
    assert plan.total_bytes == (
        BIG_SIZE + len(TEXT) + len("hello\n") + len("ünïcødé\n".encode()) + 18
    )
    assert plan_layer([str(tree)]) == plan


def test_skopeo_inspect(built):
    skopeo = _tool("skopeo")
    _, dest, _, info, _ = built
    image = _run_json(skopeo, "inspect", f"oci-archive:{dest}")
    assert image["Os"] == "linux"
    assert image["Architecture"] in {"amd64", "arm64"}
    assert image["Labels"] == LABELS
    assert image["Layers"] == [info.layer_digest]
    assert image["Digest"] == info.manifest_digest
    config = _run_json(skopeo, "inspect", "--config", f"oci-archive:{dest}")
    assert config["rootfs"] == {"type": "layers", "diff_ids": [info.diff_id]}
    assert info.archive_bytes == dest.stat().st_size


def test_unpacked_rootfs_matches_source(built, tmp_path):
    skopeo, umoci = _tool("skopeo"), _tool("umoci")
    tree, dest, _, _, _ = built
    layout = tmp_path / "layout"
    subprocess.run(
        [skopeo, "--insecure-policy", "copy", f"oci-archive:{dest}", f"oci:{layout}:saved"],
        check=True,
        capture_output=True,
    )
    bundle = tmp_path / "bundle"
    subprocess.run(
        [umoci, "unpack", "--rootless", "--image", f"{layout}:saved", str(bundle)],
        check=True,
        capture_output=True,
    )
    unpacked = bundle / "rootfs" / str(tree).lstrip("/")
    for rel in ("a.txt", "nested/deep/big.bin", "nested/log.txt", UNICODE_NAME, "bin/run.sh"):
        assert (unpacked / rel).read_bytes() == (tree / rel).read_bytes(), rel
        assert int((unpacked / rel).stat().st_mtime) == int((tree / rel).stat().st_mtime)
    assert os.readlink(unpacked / "link") == "nested/deep/big.bin"
    assert os.readlink(unpacked / "dirlink") == "nested"
    assert stat.S_IMODE((unpacked / "bin" / "run.sh").stat().st_mode) == 0o755
    assert stat.S_IMODE((unpacked / "a.txt").stat().st_mode) == 0o644
    assert (unpacked / "empty").is_dir() and not any((unpacked / "empty").iterdir())


def test_progress_reaches_total(built):
    _, _, plan, _, calls = built
    assert calls[-1] == (plan.total_bytes, plan.total_bytes)
    assert len(calls) >= 2
    assert len(calls) <= plan.total_bytes // (4 * 1024 * 1024) + 1
    dones = [done for done, _ in calls]
    assert dones == sorted(dones)


def test_no_temp_files_after_success(built):
    _, dest, _, _, _ = built
    assert os.listdir(dest.parent) == ["image.tar"]


def test_missing_path_raises(tmp_path):
    missing = tmp_path / "does-not-exist"
    with pytest.raises(ImageBuildError, match="does-not-exist"):
        plan_layer([str(missing)])


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file_raises(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("x")
    secret.chmod(0)
    with pytest.raises(ImageBuildError, match="secret.txt"):
        plan_layer([str(tmp_path)])


def test_failure_leaves_nothing_behind(tmp_path):
    tree = _make_tree(tmp_path / "tree")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    dest = out_dir / "image.tar"

    def fail(done, total):
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        write_oci_archive(
            plan_layer([str(tree)]), str(dest), ref_name="x", labels={}, progress=fail
        )
    assert os.listdir(out_dir) == []


def test_file_shrinking_during_write_raises(tmp_path):
    tree = _make_tree(tmp_path / "tree")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    plan = plan_layer([str(tree)])

    big = tree / "nested" / "deep" / "big.bin"

    def truncate_while_reading(done, total):
        big.write_bytes(b"")

    with pytest.raises(ImageBuildError, match="changed size"):
        write_oci_archive(
            plan,
            str(out_dir / "image.tar"),
            ref_name="x",
            labels={},
            progress=truncate_while_reading,
        )
    assert os.listdir(out_dir) == []


def _members(archive) -> dict[str, bytes]:
    with tarfile.open(archive) as outer:
        return {m.name: outer.extractfile(m).read() for m in outer if m.isfile()}


def _reference_tar(plan) -> bytes:
    """The layer tar as tarfile writes it for the same entries."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        inodes = {}
        for source, name in plan.files:
            info = oci._tar_info(source, name, inodes)
            if info.isreg():
                with open(source, "rb") as f:
                    tar.addfile(info, f)
            else:
                tar.addfile(info)
    return buf.getvalue()


def test_multi_chunk_layer_is_one_gzip_stream_of_tarfiles_bytes(tmp_path):
    """Chunks compressed in parallel (deflated or stored) join into one gzip member whose
    content is byte for byte the tar tarfile writes; the digests are those of these bytes."""
    tree = _make_tree(tmp_path / "src" / "tree")
    (tmp_path / "out").mkdir()  # before planning: the tree's parents keep their mtimes
    dest = tmp_path / "out" / "image.tar"
    plan = plan_layer([str(tree)])
    info = write_oci_archive(plan, str(dest), ref_name="x", labels={})
    layer = _members(dest)[oci._blob_name(info.layer_digest)]
    assert "sha256:" + hashlib.sha256(layer).hexdigest() == info.layer_digest
    gunzip = zlib.decompressobj(wbits=31)
    content = gunzip.decompress(layer)
    assert gunzip.eof and gunzip.unused_data == b""  # a single member, nothing after it
    reference = _reference_tar(plan)
    assert len(reference) > 10 * oci._CHUNK
    assert content == reference
    assert "sha256:" + hashlib.sha256(content).hexdigest() == info.diff_id
    # Text shrinks as gzip -1 shrinks it; random bytes are stored, not grown.
    assert len(layer) < BIG_SIZE + len(zlib.compress(TEXT, 1)) * 1.05


def test_layer_bytes_do_not_depend_on_the_threads(tmp_path):
    tree = _make_tree(tmp_path / "src" / "tree")
    (tmp_path / "out").mkdir()  # before planning: the tree's parents keep their mtimes
    plan = plan_layer([str(tree)])
    digests = set()
    for threads in (1, 3):
        with ThreadPoolExecutor(threads) as pool:
            info = write_oci_archive(
                plan,
                str(tmp_path / "out" / f"{threads}.tar"),
                ref_name="x",
                labels={},
                executor=pool,
            )
        digests.add((info.layer_digest, info.diff_id))
    assert len(digests) == 1


def test_layer_is_written_once(tmp_path):
    """The layer went to a temporary file, then was copied into the archive (issue 9)."""
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "noise.bin").write_bytes(os.urandom(8 * 1024 * 1024))
    plan = plan_layer([str(tree)])

    def written() -> int:
        with open("/proc/self/io") as f:
            return int(next(line for line in f if line.startswith("wchar:")).split()[1])

    before = written()
    info = write_oci_archive(plan, str(tmp_path / "image.tar"), ref_name="x", labels={})
    assert written() - before < 1.2 * info.archive_bytes


def test_fast_headers_are_tarfiles_bytes():
    """Headers packed directly are the bytes tarfile writes; the rest are tarfile's own."""
    cases = [
        ("opt/env/a.py", tarfile.REGTYPE, 1234, "", 0o644),
        ("opt/env", tarfile.DIRTYPE, 0, "", 0o755),
        ("opt/env/lib", tarfile.SYMTYPE, 0, "lib64", 0o777),
        ("opt/env/b.py", tarfile.LNKTYPE, 0, "opt/env/a.py", 0o644),
        ("x" * 100, tarfile.REGTYPE, 8**11 - 1, "", 0o755),
        # pax records needed: tarfile writes these
        ("x" * 101, tarfile.REGTYPE, 1, "", 0o644),
        (UNICODE_NAME, tarfile.REGTYPE, 1, "", 0o644),
        ("big", tarfile.REGTYPE, 8**11, "", 0o644),
        ("odd\udcff", tarfile.REGTYPE, 1, "", 0o644),
    ]
    for name, kind, size, link, mode in cases:
        info = tarfile.TarInfo(name)
        info.type, info.size, info.linkname, info.mode = kind, size, link, mode
        info.mtime = 1700000000
        assert oci._header(info) == info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def test_layer_header_of_a_blob_over_8_gib_is_one_block():
    """The layer's header fills a 512-byte slot reserved before its size was known."""
    for size in (123, 8**11 - 1, 9 * 2**30, 40 * 10**9):
        info = tarfile.TarInfo("blobs/sha256/" + "a" * 64)
        info.size, info.mode, info.mtime = size, 0o644, 1700000000
        block = oci._layer_header(info)
        assert len(block) == tarfile.BLOCKSIZE
        parsed = tarfile.TarInfo.frombuf(block, "utf-8", "strict")
        assert (parsed.name, parsed.size) == (info.name, size)
