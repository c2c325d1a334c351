"""The OBS folders a training job runs from: its code, uploaded per submission, and its logs.

Under ``code_uri``, for a job named N submitted with submit id S:

- ``N/S/code/``: what that job runs. Written by this submission only, never changed after, so
  no later submit (refused or not) can touch the code of a job that exists.
- ``N/S/manifest.json``: ``{"files": {path: MD5}}``, written once the code folder is complete.
  The next submission of N copies, within OBS, every file whose MD5 the newest manifest lists,
  and uploads only the others: unchanged files are not sent again, and a file deleted locally
  is simply not in the new folder.
- ``N/logs/``: where ModelArts exports the logs of every job named N (per job id).

A submission folder that no ModelArts job carries (its create was refused, its job was deleted,
or the server stopped mid-submit) is removed by a later submission of the same name once it is
``sweep_after_s`` old; folders of jobs ModelArts still lists are kept.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ...models import InvalidRequest, JobSpec, NotFound, ObsUri, parse_obs_uri
from ..snapshot import INLINE_BOOT_FILE, in_snapshot_pool, resolve_code
from .obs import ObjectInfo
from .obs_files import upload_dir
from .training import SUBMIT_ANNOTATION

if TYPE_CHECKING:
    from . import ModelArtsBackend

MANIFEST = "manifest.json"
_SUBMIT_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_DELETE_CONCURRENCY = 8


@dataclass(frozen=True)
class CodePlace:
    """Where one submission's job finds its code and writes its logs, as the training API
    spells OBS paths (``/bucket/key``)."""

    code_dir: str
    boot_file: str
    log_dir: str


class CodeFolders:
    """Uploads under ``code_uri``; a job reads its code from its submission's folder there."""

    #: Seconds before a folder no job uses may be removed: a concurrent submit whose create is
    #: still under way has such a folder too.
    sweep_after_s = 3600.0

    def __init__(self, cloud: ModelArtsBackend):
        self.cloud = cloud

    def base(self) -> ObsUri:
        if not self.cloud.code_uri:
            raise InvalidRequest(
                "set c.ModelArtsBackend.code_uri = 'obs://bucket/prefix/' to submit jobs: the "
                "code is uploaded there",
                field="code_uri",
            )
        return parse_obs_uri(self.cloud.code_uri, "code_uri")

    async def prepare(self, spec: JobSpec, submit_id: str) -> CodePlace:
        """Upload the job's code (unless it runs a command) and say where it lies."""
        base = self.base()
        folder = f"{base.key}{spec.name}/"
        code = f"{folder}{submit_id}/code/"
        boot = None if spec.command else await self._upload(spec, base.bucket, folder, submit_id)
        return CodePlace(
            code_dir=f"/{base.bucket}/{code}",
            boot_file=f"/{base.bucket}/{code}{boot}" if boot else "",
            log_dir=f"/{base.bucket}/{folder}logs/",
        )

    async def _upload(self, spec: JobSpec, bucket: str, folder: str, submit_id: str) -> str | None:
        """Fill this submission's folder (code dir snapshot, inline boot file, manifest); returns
        the boot file name."""
        obs = self.cloud.obs
        code_dir, plan = await in_snapshot_pool(
            resolve_code, spec, self.cloud.root_dir, self.cloud.code_root
        )
        earlier = await obs.list_entries(bucket, folder)
        mine = f"{folder}{submit_id}/"
        try:
            md5s: dict[str, str] = {}
            if code_dir:
                reuse = await self._reusable(bucket, folder, earlier)
                result = await upload_dir(
                    obs,
                    code_dir,
                    list(plan.uploads),
                    ObsUri(bucket, f"{mine}code/"),
                    sources=plan.uploads,
                    progress=self._progress(spec.name),
                    reuse=reuse,
                    check_existing=False,  # a new folder: nothing to find there
                )
                md5s.update(result.md5s)
                self.cloud.log.info(
                    "code of %s: %d files uploaded, %d unchanged (copied within OBS)",
                    spec.name,
                    result.uploaded,
                    result.copied,
                )
            if spec.code is not None:
                # The ETag put_object checked is the MD5.
                md5s[INLINE_BOOT_FILE] = await obs.put_object(
                    bucket,
                    f"{mine}code/{INLINE_BOOT_FILE}",
                    spec.code.encode(),
                    content_type="text/x-python",
                )
            manifest = json.dumps({"files": md5s}, sort_keys=True).encode()
            await obs.put_object(
                bucket, f"{mine}{MANIFEST}", manifest, content_type="application/json"
            )
        except Exception:
            await self._remove(bucket, [e.key for e in await self._entries(bucket, mine)])
            raise
        await self._sweep(spec.name, bucket, folder, earlier)
        return INLINE_BOOT_FILE if spec.code is not None else spec.boot_file

    def _progress(self, name: str) -> Callable[[int, int, int, int], None]:
        """A progress callback logging at most every 2 s, and at the end."""
        last = time.monotonic()

        def progress(done: int, total: int, sent: int, size: int) -> None:
            nonlocal last
            now = time.monotonic()
            if done == total or now - last >= 2:
                last = now
                self.cloud.log.info(
                    "uploading %s: %d/%d files, %d/%d bytes", name, done, total, sent, size
                )

        return progress

    async def _reusable(
        self, bucket: str, folder: str, earlier: list[ObjectInfo]
    ) -> dict[str, str]:
        """MD5 -> key of the files of the newest complete submission that are still there."""
        manifests = [e for e in earlier if (_split(folder, e.key) or ("", ""))[1] == MANIFEST]
        if not manifests:
            return {}
        newest = max(manifests, key=lambda e: e.modified)
        submission = newest.key[: -len(MANIFEST)]
        try:
            files = json.loads(await self.cloud.obs.get_object(bucket, newest.key))["files"]
            items = list(files.items())
        except (NotFound, ValueError, KeyError, TypeError, AttributeError) as err:
            self.cloud.log.warning("ignoring unreadable obs://%s/%s: %s", bucket, newest.key, err)
            return {}
        present = {e.key for e in earlier}
        reuse = {}
        for rel, md5 in items:
            key = f"{submission}code/{rel}"
            if isinstance(md5, str) and key in present:
                reuse[md5] = key
        return reuse

    async def _sweep(self, name: str, bucket: str, folder: str, earlier: list[ObjectInfo]) -> None:
        """Remove the old submission folders of ``name`` that no ModelArts job runs from; never
        fails the submit that runs it."""
        folders: dict[str, list[ObjectInfo]] = defaultdict(list)
        for entry in earlier:
            split = _split(folder, entry.key)
            if split:
                folders[split[0]].append(entry)
        now = time.time()
        stale = {
            sid: entries
            for sid, entries in folders.items()
            if now - max(e.modified for e in entries) >= self.sweep_after_s
        }
        if not stale:
            return
        try:
            in_use = await self._submit_ids(name)
            doomed = [e.key for sid, es in stale.items() if sid not in in_use for e in es]
            await self._remove(bucket, doomed)
        except Exception as err:  # the next submit tries again
            self.cloud.log.warning("could not clean old code folders of %s: %s", name, err)
            return
        if doomed:
            self.cloud.log.info(
                "removed %d code files of %s that no job runs from", len(doomed), name
            )

    async def _submit_ids(self, name: str) -> set[str]:
        """Submit ids of every ModelArts job named ``name``, in any phase and workspace (the
        code folder is the name's, whichever workspace runs from it)."""
        named = [{"key": "name", "operator": "in", "value": [name]}]
        found = await asyncio.gather(
            *(self.cloud.training.search(named, w.id) for w in await self.cloud.list_workspaces())
        )
        items = [item for batch in found for item in batch]
        return {
            ((item.get("metadata") or {}).get("annotations") or {}).get(SUBMIT_ANNOTATION, "")
            for item in items
            if (item.get("metadata") or {}).get("name") == name
        }

    async def _entries(self, bucket: str, prefix: str) -> list[ObjectInfo]:
        try:
            return await self.cloud.obs.list_entries(bucket, prefix)
        except Exception as err:
            self.cloud.log.warning("could not list obs://%s/%s: %s", bucket, prefix, err)
            return []

    async def _remove(self, bucket: str, keys: list[str]) -> None:
        """Delete ``keys``, a few at a time; failures are logged, the rest still go."""
        semaphore = asyncio.Semaphore(_DELETE_CONCURRENCY)

        async def one(key: str) -> None:
            async with semaphore:
                try:
                    await self.cloud.obs.delete_object(bucket, key)
                except Exception as err:
                    self.cloud.log.warning("could not delete obs://%s/%s: %s", bucket, key, err)

        await asyncio.gather(*(one(key) for key in keys))


def _split(folder: str, key: str) -> tuple[str, str] | None:
    """(submit id, rest) of a key in a submission folder under ``folder``, else None (the logs,
    or anything else kept there)."""
    sid, _, rest = key[len(folder) :].partition("/")
    return (sid, rest) if key.startswith(folder) and _SUBMIT_ID.fullmatch(sid) else None
