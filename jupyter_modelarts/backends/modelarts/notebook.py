"""The notebook instance this server runs in, and its auto-stop lease."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ...models import Conflict, Flavor, Instance, Lease, now_ms
from .training import flavor_kind

if TYPE_CHECKING:
    from . import ModelArtsBackend

# What a system flavor's code tells (ShowNotebook gives nothing else): its kind, as in
# modelarts.bm.npu.arm.8snt9b3.d or modelarts.kat1.xlarge (Ascend), modelarts.vm.gpu.t4u8 or
# modelarts.p3.large.public.free (GPU), and sometimes its CPUs, as in modelarts.vm.cpu.8u.
_NPU_RE = re.compile(r"npu|ascend|kat\d|snt\d|910|a310")
_GPU_RE = re.compile(r"gpu|(?:^|\.)p\d")
_CPUS_RE = re.compile(r"(?:^|\.)(\d+)u(?:\.|$)")


def _lease(data: dict[str, Any]) -> Lease:
    """ModelArts' lease in the contract's terms. Its ``duration`` counts from the instance's
    ``create_at``; ``duration_s`` counts from the last renewal (``update_at``) to the stop."""
    kind = "IDLE" if str(data.get("type") or "").upper() == "IDLE" else "TIMING"
    created, duration = data.get("create_at"), data.get("duration")
    if not data.get("enable") or created is None or duration is None:
        return Lease(enabled=bool(data.get("enable")), type=kind)
    if kind == "IDLE":
        # ``duration`` is then the idle period; ModelArts measures idleness itself (CPU, GPU,
        # network) and tells no one when it would stop: unknown, so null.
        return Lease(
            enabled=True,
            type="IDLE",
            duration_s=round(duration / 1000),
            renewed_at=data.get("update_at") or created,
        )
    stop_at = created + duration
    updated = data.get("update_at") or created
    # An update after the stop is no renewal: when this lease began is then unknown.
    renewed_at = updated if created <= updated <= stop_at else None
    return Lease(
        enabled=True,
        type=kind,
        duration_s=round((stop_at - renewed_at) / 1000) if renewed_at is not None else None,
        renewed_at=renewed_at,
        stop_at=stop_at,
        remaining_s=max(0.0, (stop_at - now_ms()) / 1000),
    )


def _notebook_flavor(code: str, custom: dict[str, Any] | None) -> Flavor:
    """The instance's flavor: from ``custom_spec`` for a custom one, else guessed from its code
    (memory unknown: 0; CPUs at least 1 where the code does not say)."""
    if custom:
        return Flavor(
            id=code,
            name=code,
            type=flavor_kind(str(custom.get("category") or "CPU")),
            cpu_count=max(1, int(custom.get("cpu") or 1)),
            memory_mb=int(custom.get("memory") or 0),
            gpu_count=int(custom.get("gpu") or 0),
            gpu_name=custom.get("gpu_type") or None,
        )
    lower = (code or "").lower()
    cpus = _CPUS_RE.search(lower)
    return Flavor(
        id=code,
        name=code,
        type="NPU" if _NPU_RE.search(lower) else "GPU" if _GPU_RE.search(lower) else "CPU",
        cpu_count=int(cpus.group(1)) if cpus else 1,
        memory_mb=0,
    )


class Notebook:
    """ShowNotebook, ShowLease and RenewLease of the instance."""

    def __init__(self, cloud: ModelArtsBackend):
        self.cloud = cloud

    async def raw(self) -> dict[str, Any]:
        """ShowNotebook's answer as it is (shared by every reader of the interval)."""
        return await self._notebook()

    async def _notebook(self) -> dict[str, Any]:
        return await self.cloud.poll.get(
            "notebook",
            lambda: self.cloud.call("GET", self.cloud.notebook_path(), "notebook", idempotent=True),
        )

    async def get_instance(self) -> Instance:
        data = await self._notebook()
        image = data.get("image") or {}
        return Instance(
            backend=self.cloud.name,
            id=data.get("id", self.cloud.instance_id),
            name=data.get("name", ""),
            status=data.get("status", "UNKNOWN"),
            flavor=_notebook_flavor(data.get("flavor", ""), data.get("custom_spec")),
            image=image.get("swr_path")
            or ":".join(filter(None, [image.get("name"), image.get("tag")]))
            or None,
            lease=_lease(data["lease"]) if data.get("lease") else None,
        )

    async def get_lease(self) -> Lease:
        data = await self.cloud.poll.get(
            "lease",
            lambda: self.cloud.call(
                "GET", self.cloud.notebook_path("/lease"), "notebook", idempotent=True
            ),
        )
        return _lease(data)

    async def renew_lease(self, duration_s: int, kind: str | None = None) -> Lease:
        # Asked afresh: auto-stop may have been switched in the console since the last poll.
        self.cloud.poll.invalidate("lease")
        current = await self.get_lease()
        if not current.enabled:
            # Not sent upstream: ModelArts' renewal would set a TIMING lease, turning auto-stop on.
            raise Conflict(
                "auto-stop is off for this instance, so there is no lease to renew "
                "(turn it on in the ModelArts console)",
                field="duration_s",
            )
        data = await self.cloud.call(
            "PATCH",
            self.cloud.notebook_path("/lease"),
            "renew",
            idempotent=True,  # "run for this long from now": sending it twice changes nothing
            json={"duration": duration_s * 1000, "type": kind or current.type},
        )
        self.cloud.poll.invalidate("lease", "notebook")
        if not data:  # 204 is documented too
            return await self.get_lease()
        return _lease(data)
