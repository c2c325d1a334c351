"""A directory-backed object store (one folder per bucket) and mounts of it into the data root."""

from __future__ import annotations

import os

from ...models import InvalidRequest, NotFound, ObsUri


class ObjectStore:
    """``obs://bucket/key`` lives at ``<root>/bucket/key``; a bucket exists when its folder does."""

    def __init__(self, root: str):
        self.root = os.path.realpath(root)
        os.makedirs(self.root, exist_ok=True)

    def bucket_dir(self, bucket: str) -> str:
        path = os.path.join(self.root, bucket)
        if not os.path.isdir(path):
            raise NotFound(
                f"bucket {bucket!r} does not exist (local store: {self.root})", field="uri"
            )
        return path

    def path_for(self, uri: ObsUri, *, field: str = "uri", create: bool = False) -> str:
        """Local folder of a URI; with ``create`` the folder is made, as OBS creates prefixes."""
        base = self.bucket_dir(uri.bucket)
        path = os.path.realpath(os.path.join(base, uri.key))
        # realpath resolves symlinks planted inside the store: the result must stay in the bucket.
        if os.path.commonpath([path, os.path.realpath(base)]) != os.path.realpath(base):
            raise InvalidRequest(f"{field} escapes its bucket", field=field)
        if create:
            os.makedirs(path, exist_ok=True)
        elif not os.path.isdir(path):
            raise NotFound(f"{field}: {uri} does not exist", field=field)
        return path


class DataRoot:
    """The folder that stands for ``/data/``: a mount is a symlink in it to a store folder."""

    def __init__(self, root: str):
        self.root = os.path.abspath(root)
        os.makedirs(self.root, exist_ok=True)

    def local_path(self, mount_path: str) -> str:
        """``/data/a/b/`` → ``<root>/a/b`` (mount paths were validated: no escapes)."""
        return os.path.join(self.root, mount_path[len("/data/") :].rstrip("/"))

    def attach(self, mount_path: str, target: str) -> None:
        """Make ``mount_path`` show ``target``. Fails rather than hide existing files."""
        link = self.local_path(mount_path)
        os.makedirs(os.path.dirname(link), exist_ok=True)
        if os.path.islink(link):
            os.unlink(link)  # a dangling link left by a crash between attach and record
        elif os.path.isdir(link):
            if os.listdir(link):
                raise OSError(f"{mount_path} already holds files; mounting would hide them")
            os.rmdir(link)
        elif os.path.exists(link):
            raise OSError(f"{mount_path} exists and is not a folder")
        os.symlink(target, link, target_is_directory=True)

    def detach(self, mount_path: str) -> None:
        """Remove the link only; the store keeps every byte."""
        link = self.local_path(mount_path)
        if os.path.islink(link):
            os.unlink(link)
        elif os.path.exists(link):
            raise OSError(f"{mount_path} is no longer a mount (something replaced it)")
