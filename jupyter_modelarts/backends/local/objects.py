"""A directory-backed object store (one folder per bucket) and mounts of it into the data root."""

from __future__ import annotations

import os
import stat

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
    """The folder that stands for ``/data/``: a mount is a symlink in it to a store folder.

    A mount's *location* is where its link goes: its parent with every symlink resolved, so
    checks compare real places and a link in the data root can't carry a mount outside it.
    """

    #: What ``link_problem`` says when nothing is left at a mount's location.
    GONE = "was deleted or moved away"

    def __init__(self, root: str):
        self.root = os.path.abspath(root)
        os.makedirs(self.root, exist_ok=True)
        self.real_root = os.path.realpath(self.root)

    def local_path(self, mount_path: str) -> str:
        """``/data/a/b/`` → ``<root>/a/b`` (mount paths were validated: no escapes)."""
        return os.path.join(self.root, mount_path[len("/data/") :].rstrip("/"))

    def locate(self, mount_path: str) -> str:
        """The location of ``mount_path``; the last name is kept, not followed (it may be a link
        already, which attach then refuses to replace)."""
        link = self.local_path(mount_path)
        return os.path.join(os.path.realpath(os.path.dirname(link)), os.path.basename(link))

    def contains(self, location: str) -> bool:
        """Whether a location lies strictly inside the real data root."""
        return (
            location != self.real_root
            and os.path.commonpath([location, self.real_root]) == self.real_root
        )

    @staticmethod
    def survey(location: str) -> dict | None:
        """What a mount at ``location`` would replace: an empty folder (its mode), or None."""
        try:
            st = os.lstat(location)
        except FileNotFoundError:
            return None
        if stat.S_ISDIR(st.st_mode) and not os.listdir(location):
            return {"mode": stat.S_IMODE(st.st_mode)}
        return None

    def attach(self, location: str, target: str) -> None:
        """Make ``location`` show ``target``. Fails rather than hide or replace anything but an
        empty folder (which ``survey`` recorded first, so unmount can put it back)."""
        parent = os.path.dirname(location)
        os.makedirs(parent, exist_ok=True)
        if os.path.realpath(parent) != parent:
            raise OSError(f"{parent} was replaced by a symbolic link while mounting")
        try:
            st = os.lstat(location)
        except FileNotFoundError:
            st = None
        if st is not None and stat.S_ISLNK(st.st_mode):
            if os.readlink(location) == target:
                return  # linked before a crash cut the record short
            raise OSError(f"{location} is a symbolic link; mounting would replace it")
        if st is not None and stat.S_ISDIR(st.st_mode):
            if os.listdir(location):
                raise OSError(f"{location} already holds files; mounting would hide them")
            os.rmdir(location)
        elif st is not None:
            raise OSError(f"{location} exists and is not a folder")
        try:
            os.symlink(target, location, target_is_directory=True)
        except OSError:
            if st is not None:
                self._restore(location, stat.S_IMODE(st.st_mode))
            raise

    @staticmethod
    def _restore(location: str, mode: int) -> None:
        os.mkdir(location)
        os.chmod(location, mode)  # mkdir's mode is filtered by the umask

    def link_problem(self, location: str, target: str | None) -> str | None:
        """None when the mount's own link is at ``location``; else what happened to it (said of
        the mount path). ``target`` is None for records older than recorded targets."""
        parent = os.path.dirname(location)
        if os.path.realpath(parent) != parent:
            return "is no longer where it was mounted: a folder above it was moved or replaced"
        try:
            shown = os.readlink(location)
        except FileNotFoundError:
            return self.GONE
        except OSError:  # not a link (EINVAL), or a file where a folder above it was
            return "was replaced by another file or folder"
        if target is not None and shown != target:
            return "was replaced by a link to somewhere else"
        return None

    def problem(self, location: str, target: str | None) -> str | None:
        """Why a mount no longer shows its store folder, or None when it does."""
        found = self.link_problem(location, target)
        if found is None and not os.path.isdir(location):
            return "shows nothing: its folder in the object store is gone"
        return found

    def detach(self, location: str, target: str | None, replaced: dict | None) -> str | None:
        """Remove the link and put back the empty folder it replaced; the store keeps every byte.
        What the user put there instead is left alone (never deleted): returns what was found
        in place of the link, None when it was there."""
        found = self.link_problem(location, target)
        if found is None:
            os.unlink(location)
        elif found != self.GONE:
            return found
        if replaced is not None and os.path.isdir(os.path.dirname(location)):
            self._restore(location, replaced["mode"])
        return found
