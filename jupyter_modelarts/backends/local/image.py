"""Write a set of directories as a single-layer OCI image layout archive (``oci-archive``)."""

from __future__ import annotations

import contextlib
import datetime
import gzip
import hashlib
import io
import json
import os
import platform
import stat
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass

MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json"
CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name"

_PROGRESS_STEP = 4 * 1024 * 1024
_COPY_BUFSIZE = 64 * 1024
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
) -> ArchiveInfo:
    """Write ``plan`` as a one-layer image in an OCI image layout tar archive.

    The result is readable by ``skopeo`` as ``oci-archive:<dest>``. Temporary files are created
    next to ``dest`` and removed whatever happens; ``dest`` only appears once complete.

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
    temps: list[str] = []

    def temp_path(suffix: str) -> str:
        fd, path = tempfile.mkstemp(dir=dest_dir, prefix=f".{base}.", suffix=suffix)
        os.close(fd)
        temps.append(path)
        return path

    try:
        layer_path = temp_path(".layer.tmp")
        with open(layer_path, "wb") as raw:
            diff_id, layer_digest, layer_size = _write_layer(plan, raw, progress)

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
                "layers": [
                    {"mediaType": LAYER_MEDIA_TYPE, "digest": layer_digest, "size": layer_size}
                ],
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

        out_path = temp_path(".tmp")
        mtime = int(datetime.datetime.now(datetime.timezone.utc).timestamp())
        with tarfile.open(out_path, "w", format=tarfile.PAX_FORMAT) as outer:
            for name in ("blobs", "blobs/sha256"):
                info = tarfile.TarInfo(name)
                info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, mtime
                outer.addfile(info)
            for name, data in (
                ("oci-layout", _json_bytes({"imageLayoutVersion": "1.0.0"})),
                ("index.json", index),
                (_blob_name(manifest_digest), manifest),
                (_blob_name(config_digest), config),
            ):
                info = tarfile.TarInfo(name)
                info.size, info.mode, info.mtime = len(data), 0o644, mtime
                outer.addfile(info, io.BytesIO(data))
            info = tarfile.TarInfo(_blob_name(layer_digest))
            info.size, info.mode, info.mtime = layer_size, 0o644, mtime
            with open(layer_path, "rb") as layer:
                outer.addfile(info, layer)
        # mkstemp creates files readable by the owner only.
        os.chmod(out_path, 0o644)
        archive_bytes = os.path.getsize(out_path)
        os.replace(out_path, dest)
    finally:
        for path in temps:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    return ArchiveInfo(
        manifest_digest=manifest_digest,
        config_digest=config_digest,
        layer_digest=layer_digest,
        diff_id=diff_id,
        archive_bytes=archive_bytes,
    )


class _HashingWriter:
    """Pass writes through to ``raw`` while hashing and counting them."""

    def __init__(self, raw):
        self._raw = raw
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data) -> int:
        self._raw.write(data)
        self.sha256.update(data)
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        self._raw.flush()

    @property
    def digest(self) -> str:
        return "sha256:" + self.sha256.hexdigest()


class _SourceReader:
    """Read a source file for tarfile: report progress and turn failures into ImageBuildError."""

    def __init__(self, path: str, size: int, report: Callable[[int], None]):
        self._path = path
        self._remaining = size
        self._report = report
        try:
            self._file = open(path, "rb")
        except OSError as err:
            raise ImageBuildError(f"cannot read file: {path}") from err

    def read(self, size: int) -> bytes:
        try:
            data = self._file.read(size)
        except OSError as err:
            raise ImageBuildError(f"cannot read file: {self._path}") from err
        # tarfile already wrote the header with the size seen by lstat; a short read means the
        # file shrank, which tarfile would only report as an anonymous OSError.
        if len(data) < min(size, self._remaining):
            raise ImageBuildError(f"file changed size while being archived: {self._path}")
        self._remaining -= len(data)
        self._report(len(data))
        return data

    def close(self) -> None:
        self._file.close()


def _write_layer(
    plan: LayerPlan, raw, progress: Callable[[int, int], None] | None
) -> tuple[str, str, int]:
    """Stream the layer tar through gzip into ``raw``; return (diff_id, digest, size)."""
    done = 0
    reported = 0

    def report(count: int) -> None:
        nonlocal done, reported
        done += count
        if progress is not None and done - reported >= _PROGRESS_STEP:
            reported = done
            progress(done, plan.total_bytes)

    compressed = _HashingWriter(raw)
    # mtime=0 and no file name keep the gzip header independent of when and where it was built.
    with gzip.GzipFile(filename="", mode="wb", compresslevel=1, fileobj=compressed, mtime=0) as gz:
        uncompressed = _HashingWriter(gz)
        with tarfile.open(
            fileobj=uncompressed,
            mode="w|",
            format=tarfile.PAX_FORMAT,
            bufsize=_COPY_BUFSIZE,
            copybufsize=_COPY_BUFSIZE,
        ) as tar:
            inodes: dict[tuple[int, int], str] = {}
            for source, name in plan.files:
                info = _tar_info(source, name, inodes)
                if info is None:
                    continue
                if not info.isreg():
                    tar.addfile(info)
                    continue
                reader = _SourceReader(source, info.size, report)
                try:
                    tar.addfile(info, reader)
                finally:
                    reader.close()
    if progress is not None:
        progress(done, plan.total_bytes)
    return uncompressed.digest, compressed.digest, compressed.size


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
