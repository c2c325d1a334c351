"""The notebook instance this server runs in, and its auto-stop lease."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ...models import Flavor, Instance, Lease, now_ms

if TYPE_CHECKING:
    from . import ModelArtsBackend

_CPU_RE = re.compile(r"(\d+)u")


def _lease(data: dict[str, Any]) -> Lease:
    stop_at = data["create_at"] + data["duration"] if data.get("create_at") else None
    return Lease(
        enabled=bool(data.get("enable")),
        type=str(data.get("type", "TIMING")).upper(),
        duration_s=data["duration"] // 1000 if data.get("duration") is not None else None,
        renewed_at=data.get("update_at"),
        stop_at=stop_at,
        remaining_s=max(0.0, (stop_at - now_ms()) / 1000) if stop_at else None,
    )


def _notebook_flavor(name: str) -> Flavor:
    cpus = _CPU_RE.search(name or "")
    kind = "GPU" if "gpu" in (name or "") or ".p" in (name or "") else "CPU"
    return Flavor(
        id=name,
        name=name,
        type=kind,
        cpu_count=int(cpus.group(1)) if cpus else 0,
        memory_mb=0,
    )


class Notebook:
    """ShowNotebook, ShowLease and RenewLease of the instance."""

    def __init__(self, cloud: ModelArtsBackend):
        self.cloud = cloud

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
            flavor=_notebook_flavor(data.get("flavor", "")),
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

    async def renew_lease(self, duration_s: int) -> Lease:
        data = await self.cloud.call(
            "PATCH",
            self.cloud.notebook_path("/lease"),
            "renew",
            idempotent=True,  # "run for this long from now": sending it twice changes nothing
            json={"duration": duration_s * 1000, "type": "TIMING"},
        )
        self.cloud.poll.invalidate("lease", "notebook")
        if not data:  # 204 is documented too
            return await self.get_lease()
        return _lease(data)
