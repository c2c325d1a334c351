"""Write a set of directories as a single-layer OCI image layout archive (``oci-archive``)."""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import os
import platform
import stat
import struct
import tarfile
import tempfile
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass

MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json"
CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name"

_PROGRESS_STEP = 4 * 1024 * 1024
_CHUNK = 1024 * 1024  # tar bytes per compression task
_IN_FLIGHT = 2 * (os.cpu_count() or 1)  # chunks queued or being compressed, per archive
_PIECE = 64 * 1024  # unit that is either deflated or stored
_SAMPLE = 4 * 1024  # bytes test-compressed to choose
_WORTH_DEFLATING = 0.9  # deflate only what shrinks below this ratio
_WINDOW = 32 * 1024  # deflate history
# name, mode, uid, gid, size, mtime, checksum, type, link name, magic and version; user and group
# names, device numbers and prefix left empty.
_USTAR = struct.Struct("100s8s8s8s12s12s8s1s100s8s32x32x8x8x155x12x")
# An empty final stored block: it ends the deflate stream after the last chunk.
_FINAL_EMPTY_BLOCK = b"\x01\x00\x00\xff\xff"
_OCI_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


class ImageBuildError(Exception):
    """A source path cannot be archived (missing, unreadable, or changed while being read)."""


@dataclass
class LayerPlan:
    """The entries of the layer, as returned by :func:`plan_layer`."""

    files: list[tuple[str, str]]
    total_bytes: int


@dataclass
class ArchiveInfo:
    """Digests and size of an archive written by :func:`write_oci_archive`."""

    manifest_digest: str
    config_digest: str
    layer_digest: str
    diff_id: str
    archive_bytes: int


def plan_layer(paths: list[str]) -> LayerPlan:
    """List the entries of a layer holding ``paths`` at their own location.

    Parameters
    ----------
    paths : list of str
        Files or directories. Each keeps its absolute path inside the image, minus the leading
        ``/`` (``/opt/env/bin/python`` becomes ``opt/env/bin/python``); its parent directories
        are added too. A symlink given here (or as a parent) is followed; symlinks found while
        walking a directory are stored as symlinks and not followed.

    Returns
    -------
    LayerPlan
        Directories, regular files and symlinks in a stable order (parents before children,
        siblings sorted), and the total size of the regular files, hard links counted once.
        Sockets, fifos and devices are left out.

    Raises
    ------
    ImageBuildError
        If a path does not exist, or a regular file or directory under it cannot be read.
    """
    files: list[tuple[str, str]] = []
    seen_names: set[str] = set()
    seen_inodes: set[tuple[int, int]] = set()
    total = 0

    def add(source: str, name: str, st: os.stat_result) -> None:
        nonlocal total
        if name in seen_names or not (
            stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode) or stat.S_ISLNK(st.st_mode)
        ):
            return
        if stat.S_ISREG(st.st_mode):
            if not os.access(source, os.R_OK):
                raise ImageBuildError(f"cannot read file: {source}")
            # Later links to the same inode become tar hard links with no data.
            if (st.st_dev, st.st_ino) not in seen_inodes:
                seen_inodes.add((st.st_dev, st.st_ino))
                total += st.st_size
        seen_names.add(name)
        files.append((source, name))

    def walk_error(err: OSError) -> None:
        raise ImageBuildError(f"cannot read directory: {err.filename}") from err

    for path in paths:
        path = os.path.abspath(path)
        try:
            top_stat = os.stat(path)
        except OSError as err:
            raise ImageBuildError(f"path does not exist or cannot be read: {path}") from err
        parents = []
        parent = os.path.dirname(path)
        while parent != os.path.dirname(parent):
            parents.append(parent)
            parent = os.path.dirname(parent)
        # Given paths and their parents are resolved so they land in the layer as real entries.
        for parent in reversed(parents):
            real = os.path.realpath(parent)
            add(real, parent.lstrip("/"), os.stat(real))
        if path.lstrip("/"):
            add(os.path.realpath(path), path.lstrip("/"), top_stat)
        if not stat.S_ISDIR(top_stat.st_mode):
            continue
        for dirpath, dirnames, filenames in os.walk(path, onerror=walk_error):
            dirnames.sort()
            for name in sorted(dirnames + filenames):
                source = os.path.join(dirpath, name)
                try:
                    st = os.lstat(source)
                except OSError as err:
                    raise ImageBuildError(f"cannot read: {source}") from err
                add(source, source.lstrip("/"), st)
    return LayerPlan(files=files, total_bytes=total)


def write_oci_archive(
    plan: LayerPlan,
    dest: str,
    *,
    ref_name: str,
    labels: dict[str, str],
    progress: Callable[[int, int], None] | None = None,
    executor: Executor | None = None,
) -> ArchiveInfo:
    """Write ``plan`` as a one-layer image in an OCI image layout tar archive.

    The result is readable by ``skopeo`` as ``oci-archive:<dest>``. The layer is compressed in
    parallel and written once, straight into the archive. A temporary file is created next to
    ``dest`` and removed whatever happens; ``dest`` only appears once complete.

    Parameters
    ----------
    plan : LayerPlan
        The layer entries, from :func:`plan_layer`.
    dest : str
        Path of the archive to write; an existing file is replaced.
    ref_name : str
        Tag stored as the ``org.opencontainers.image.ref.name`` annotation in ``index.json``.
    labels : dict of str to str
        Image labels (``config.Labels``).
    progress : callable, optional
        Called as ``progress(bytes_done, bytes_total)`` while regular files are read, at most
        every 4 MB and once at the end. An exception raised here aborts the write.
    executor : concurrent.futures.Executor, optional
        Threads that compress the layer, 1 MiB at a time (a few chunks in flight). Default: one
        thread per CPU, for this call only.

    Returns
    -------
    ArchiveInfo
        Digests of the manifest, config and layer, the layer diff ID and the archive size.

    Raises
    ------
    ImageBuildError
        If a source entry vanished, cannot be read or changed size while being read.
    OSError
        If the archive cannot be written.
    """
    dest = os.path.abspath(dest)
    dest_dir, base = os.path.split(dest)
    own_executor = None
    if executor is None:
        executor = own_executor = ThreadPoolExecutor(
            os.cpu_count() or 1, thread_name_prefix="oci-deflate"
        )
    fd, out_path = tempfile.mkstemp(dir=dest_dir, prefix=f".{base}.", suffix=".tmp")
    try:
        with open(fd, "wb") as out:
            mtime = int(datetime.datetime.now(datetime.timezone.utc).timestamp())
            for name in ("blobs", "blobs/sha256"):
                info = tarfile.TarInfo(name)
                info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, mtime
                out.write(_header(info))
            # The layer goes first, in place: its name (its digest) and size are only known
            # once written, so its header block is filled in at the end.
            layer_header_at = out.tell()
            out.write(bytes(tarfile.BLOCKSIZE))
            diff_id, layer_digest, layer_size = _write_layer(plan, out, progress, executor)
            out.write(bytes(-layer_size % tarfile.BLOCKSIZE))

            config, config_digest, manifest, manifest_digest, index = _metadata(
                diff_id, layer_digest, layer_size, ref_name, labels
            )
            for name, data in (
                (_blob_name(config_digest), config),
                (_blob_name(manifest_digest), manifest),
                ("oci-layout", _json_bytes({"imageLayoutVersion": "1.0.0"})),
                ("index.json", index),
            ):
                info = tarfile.TarInfo(name)
                info.size, info.mode, info.mtime = len(data), 0o644, mtime
                out.write(_header(info) + data + bytes(-len(data) % tarfile.BLOCKSIZE))
            out.write(bytes(2 * tarfile.BLOCKSIZE))
            out.write(bytes(-out.tell() % tarfile.RECORDSIZE))
            archive_bytes = out.tell()

            info = tarfile.TarInfo(_blob_name(layer_digest))
            info.size, info.mode, info.mtime = layer_size, 0o644, mtime
            out.seek(layer_header_at)
            out.write(_layer_header(info))
        # mkstemp creates files readable by the owner only.
        os.chmod(out_path, 0o644)
        os.replace(out_path, dest)
    finally:
        if own_executor is not None:
            own_executor.shutdown(cancel_futures=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(out_path)

    return ArchiveInfo(
        manifest_digest=manifest_digest,
        config_digest=config_digest,
        layer_digest=layer_digest,
        diff_id=diff_id,
        archive_bytes=archive_bytes,
    )


def _metadata(
    diff_id: str, layer_digest: str, layer_size: int, ref_name: str, labels: dict[str, str]
) -> tuple[bytes, str, bytes, str, bytes]:
    """The config and manifest of a one-layer image, each with its digest, and index.json."""
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    arch = _OCI_ARCH.get(platform.machine().lower(), platform.machine().lower())
    config = _json_bytes(
        {
            "created": now,
            "architecture": arch,
            "os": "linux",
            "config": {"Labels": labels},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            "history": [{"created": now, "created_by": "jupyter_modelarts: save instance"}],
        }
    )
    config_digest = _digest(config)
    manifest = _json_bytes(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "config": {
                "mediaType": CONFIG_MEDIA_TYPE,
                "digest": config_digest,
                "size": len(config),
            },
            "layers": [{"mediaType": LAYER_MEDIA_TYPE, "digest": layer_digest, "size": layer_size}],
        }
    )
    manifest_digest = _digest(manifest)
    index = _json_bytes(
        {
            "schemaVersion": 2,
            "mediaType": INDEX_MEDIA_TYPE,
            "manifests": [
                {
                    "mediaType": MANIFEST_MEDIA_TYPE,
                    "digest": manifest_digest,
                    "size": len(manifest),
                    "platform": {"architecture": arch, "os": "linux"},
                    "annotations": {REF_NAME_ANNOTATION: ref_name},
                }
            ],
        }
    )
    return config, config_digest, manifest, manifest_digest, index


def _header(info: tarfile.TarInfo) -> bytes:
    """The pax-format header tarfile writes for ``info``.

    Most entries need no pax record, only a ustar block: that block is packed here directly,
    several times faster than tarfile, which matters for a layer of tens of thousands of files.
    """
    name = info.name
    if info.type == tarfile.DIRTYPE and not name.endswith("/"):
        name += "/"
    if not (
        name.isascii()
        and len(name) <= 100
        and info.linkname.isascii()
        and len(info.linkname) <= 100
        and 0 <= info.size < 8**11
        and 0 <= info.mtime < 8**11
        and isinstance(info.mtime, int)
        and (info.uid, info.gid, info.uname, info.gname) == (0, 0, "", "")
        and info.type not in (tarfile.CHRTYPE, tarfile.BLKTYPE)
    ):
        return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
    block = _USTAR.pack(
        name.encode(),
        b"%07o\0" % (info.mode & 0o7777),
        b"0000000\0",
        b"0000000\0",
        b"%011o\0" % info.size,
        b"%011o\0" % info.mtime,
        b" " * 8,  # the checksum counts its own field as spaces
        info.type,
        info.linkname.encode(),
        tarfile.POSIX_MAGIC,
    )
    return b"%s%06o\0 %s" % (block[:148], sum(block), block[156:])


def _layer_header(info: tarfile.TarInfo) -> bytes:
    """One header block for the layer blob, whatever its size.

    Its slot was reserved before the size was known, so a pax size record (an extra header)
    cannot be added: layers of 8 GiB and more take GNU's base-256 size field instead, which
    Go's archive/tar (skopeo, umoci), GNU tar and Python read.
    """
    fmt = tarfile.USTAR_FORMAT if info.size < 8**11 else tarfile.GNU_FORMAT
    return info.tobuf(fmt, "utf-8", "strict")


def _write_layer(
    plan: LayerPlan, out, progress: Callable[[int, int], None] | None, executor: Executor
) -> tuple[str, str, int]:
    """Write the gzipped layer tar to ``out``; return (diff_id, digest, size).

    Chunks of the tar are deflated in parallel into one gzip member (as pigz does): each chunk
    ends byte-aligned and not final, and starts with the 32 KiB before it as its dictionary, so
    the pieces join into a single deflate stream that compresses as well as a serial one.
    """
    done = 0
    reported = 0

    def report(count: int) -> None:
        nonlocal done, reported
        done += count
        if progress is not None and done - reported >= _PROGRESS_STEP:
            reported = done
            progress(done, plan.total_bytes)

    tar_sha256, crc, tar_size = hashlib.sha256(), 0, 0
    layer_sha256, layer_size = hashlib.sha256(), 0

    def emit(data: bytes) -> None:
        nonlocal layer_size
        out.write(data)
        layer_sha256.update(data)
        layer_size += len(data)

    # No file name and mtime 0: the header does not depend on when and where it was built.
    emit(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x04\xff")
    pending: deque[tuple[Future, memoryview]] = deque()
    spare: list[bytearray] = []
    history = b""

    def emit_oldest() -> None:
        future, chunk = pending.popleft()
        emit(future.result())
        spare.append(chunk.obj)

    try:
        for chunk in _tar_chunks(plan, report, spare):
            tar_sha256.update(chunk)
            crc = zlib.crc32(chunk, crc)
            tar_size += len(chunk)
            pending.append((executor.submit(_deflate, chunk, history), chunk))
            history = bytes(chunk[-_WINDOW:])
            if len(pending) > _IN_FLIGHT:
                emit_oldest()
        while pending:
            emit_oldest()
    finally:
        for future, _ in pending:
            future.cancel()
    emit(_FINAL_EMPTY_BLOCK + struct.pack("<II", crc, tar_size & 0xFFFFFFFF))
    if progress is not None:
        progress(done, plan.total_bytes)
    return "sha256:" + tar_sha256.hexdigest(), "sha256:" + layer_sha256.hexdigest(), layer_size


def _tar_chunks(
    plan: LayerPlan, report: Callable[[int], None], spare: list[bytearray]
) -> Iterator[memoryview]:
    """The layer tar (pax format, as tarfile writes it), in chunks of up to 1 MiB.

    Each chunk is a view of a buffer taken from ``spare`` (or new); the caller puts the buffer
    back there once done with the chunk. Files are read straight into these buffers: fresh
    allocations for every read cost more than the copy itself.
    """
    buf = spare.pop() if spare else bytearray(_CHUNK)
    view, pos, written = memoryview(buf), 0, 0

    def room(size: int) -> Iterator[memoryview]:
        """Yield the chunk filled so far if ``size`` more bytes do not fit; start the next."""
        nonlocal buf, view, pos, written
        if pos + size > len(buf):
            yield view[:pos]
            written += pos
            buf = spare.pop() if spare else bytearray(_CHUNK)
            view, pos = memoryview(buf), 0

    def put(data: bytes) -> None:  # after room(len(data))
        nonlocal pos
        view[pos : pos + len(data)] = data
        pos += len(data)

    inodes: dict[tuple[int, int], str] = {}
    for source, name in plan.files:
        info = _tar_info(source, name, inodes)
        if info is None:
            continue
        header = _header(info)
        yield from room(len(header))
        put(header)
        if not (info.isreg() and info.size):
            continue
        with _open_source(source) as f:
            remaining = info.size
            while remaining:
                yield from room(1)
                count = min(remaining, len(buf) - pos)
                _read_into(f, view[pos : pos + count], source)
                pos += count
                remaining -= count
                report(count)
        padding = bytes(-info.size % tarfile.BLOCKSIZE)
        yield from room(len(padding))
        put(padding)
    # Two zero blocks end the archive, padded to a whole record as tar pads it.
    end = 2 * tarfile.BLOCKSIZE
    end += -(written + pos + end) % tarfile.RECORDSIZE
    yield from room(end)
    put(bytes(end))
    yield view[:pos]


def _open_source(path: str):
    try:
        return open(path, "rb", buffering=0)
    except OSError as err:
        raise ImageBuildError(f"cannot read file: {path}") from err


def _read_into(f, target: memoryview, path: str) -> None:
    try:
        done = f.readinto(target)
        # A raw read may return less than asked; only end of file ends the loop.
        while done < len(target):
            more = f.readinto(target[done:])
            if not more:
                # The header already holds the size lstat saw.
                raise ImageBuildError(f"file changed size while being archived: {path}")
            done += more
    except OSError as err:
        raise ImageBuildError(f"cannot read file: {path}") from err


def _deflate(data: memoryview, history: bytes) -> bytes:
    """Raw deflate of ``data``: byte-aligned at the end and not final, so chunks concatenate.

    ``history`` (the 32 KiB before ``data``) primes the window, so matches reach back across
    chunks. Pieces that do not shrink to 90 % are stored as they are: deflating incompressible
    bytes is zlib's slowest case and gains nothing.
    """
    out = []
    deflater = None
    for start in range(0, len(data), _PIECE):
        piece = data[start : start + _PIECE]
        if deflater is None:
            sample = piece[:_SAMPLE]
            if len(zlib.compress(sample, 1)) > len(sample) * _WORTH_DEFLATING:
                out.append(_stored(piece))
                continue
            window = (history + data[max(0, start - _WINDOW) : start])[-_WINDOW:]
            deflater = zlib.compressobj(1, zlib.DEFLATED, -zlib.MAX_WBITS, 8, 0, window)
        packed = deflater.compress(piece)
        out.append(packed)
        # Blocks come out as they fill: about as many bytes out as in means data that does not
        # shrink (sampled again before paying for deflate).
        if len(packed) > len(piece) * _WORTH_DEFLATING:
            out.append(deflater.flush(zlib.Z_SYNC_FLUSH))
            deflater = None
    if deflater is not None:
        out.append(deflater.flush(zlib.Z_SYNC_FLUSH))
    return b"".join(out)


def _stored(data: memoryview) -> bytes:
    """``data`` as non-final stored deflate blocks (the stream is byte-aligned before them)."""
    blocks = []
    for start in range(0, len(data), 0xFFFF):
        block = data[start : start + 0xFFFF]
        blocks.append(struct.pack("<BHH", 0, len(block), len(block) ^ 0xFFFF) + block)
    return b"".join(blocks)


def _tar_info(source: str, name: str, inodes: dict[tuple[int, int], str]) -> tarfile.TarInfo | None:
    """Build the tar header for ``source``; None for entry types a layer does not carry."""
    try:
        st = os.lstat(source)
        link_target = os.readlink(source) if stat.S_ISLNK(st.st_mode) else ""
    except OSError as err:
        raise ImageBuildError(f"cannot read: {source}") from err
    info = tarfile.TarInfo(name)
    info.mode = stat.S_IMODE(st.st_mode)
    # Integer mtimes avoid a pax header per entry for sub-second timestamps.
    info.mtime = int(st.st_mtime)
    if stat.S_ISDIR(st.st_mode):
        info.type = tarfile.DIRTYPE
    elif stat.S_ISLNK(st.st_mode):
        info.type, info.linkname = tarfile.SYMTYPE, link_target
    elif stat.S_ISREG(st.st_mode):
        inode = (st.st_dev, st.st_ino)
        if st.st_nlink > 1 and inode in inodes:
            info.type, info.linkname = tarfile.LNKTYPE, inodes[inode]
        else:
            inodes[inode] = name
            info.size = st.st_size
    else:
        return None
    return info


def _json_bytes(obj: dict) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _blob_name(digest: str) -> str:
    return "blobs/sha256/" + digest.removeprefix("sha256:")
