"""The OBS folders a training job runs from: its code, uploaded from a snapshot, and its logs."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ...models import InvalidRequest, JobSpec, ObsUri, parse_obs_uri
from ..snapshot import INLINE_BOOT_FILE, in_snapshot_pool, resolve_code
from .obs import upload_dir

if TYPE_CHECKING:
    from . import ModelArtsBackend


@dataclass(frozen=True)
class CodePlace:
    """Where one submission's job finds its code and writes its logs, as the training API
    spells OBS paths (``/bucket/key``)."""

    code_dir: str
    boot_file: str
    log_dir: str


class CodeFolders:
    """Uploads under ``code_uri``; a job reads its code from there."""

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

    def check_configured(self) -> None:
        self.base()

    async def prepare(self, spec: JobSpec, submit_id: str) -> CodePlace:
        """Upload the job's code (unless it runs a command) and say where it lies."""
        base = self.base()
        prefix = f"{base.key}{spec.name}/"
        code = parse_obs_uri(f"obs://{base.bucket}/{prefix}code/")
        boot = None if spec.command else await self._upload(spec, code)
        return CodePlace(
            code_dir=f"/{base.bucket}/{code.key}",
            boot_file=f"/{base.bucket}/{code.key}{boot}" if boot else "",
            log_dir=f"/{base.bucket}/{prefix}logs/",
        )

    async def _upload(self, spec: JobSpec, code: ObsUri) -> str | None:
        """Upload the code dir snapshot (and the inline boot file); returns the boot file name."""
        code_dir, plan = await in_snapshot_pool(
            resolve_code, spec, self.cloud.root_dir, self.cloud.code_root
        )
        if code_dir:
            started = time.monotonic()

            def progress(done: int, total: int, sent: int, size: int) -> None:
                if done == total or time.monotonic() - started > 2:
                    self.cloud.log.info(
                        "uploading %s: %d/%d files, %d/%d bytes", spec.name, done, total, sent, size
                    )

            # OBS has no links: one inside the code dir arrives as the content it points to.
            result = await upload_dir(
                self.cloud.obs,
                code_dir,
                list(plan.uploads),
                code,
                sources=plan.uploads,
                progress=progress,
            )
            self.cloud.log.info(
                "code of %s: %d files uploaded, %d unchanged",
                spec.name,
                result.uploaded,
                result.skipped,
            )
        if spec.code is not None:
            await self.cloud.obs.put_object(
                code.bucket,
                f"{code.key}{INLINE_BOOT_FILE}",
                spec.code.encode(),
                content_type="text/x-python",
            )
            return INLINE_BOOT_FILE
        return spec.boot_file
