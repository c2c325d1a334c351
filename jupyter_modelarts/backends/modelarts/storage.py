"""Dynamic OBS storage mounted into the notebook instance."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...models import Mount, MountStatus, now_ms, parse_mount_path, parse_obs_uri

if TYPE_CHECKING:
    from . import ModelArtsBackend


def _mount(data: dict[str, Any], created_at: int | None) -> Mount:
    try:
        status = MountStatus(data.get("status", "MOUNTING"))
    except ValueError:
        status = MountStatus.MOUNT_FAILED
    return Mount(
        id=data["id"],
        uri=data.get("uri", ""),
        mount_path=data.get("mount_path", ""),
        # The notebook is the instance: its /data/ is where Jupyter runs.
        local_path=data.get("mount_path", ""),
        status=status,
        category=data.get("category", "OBS"),
        failure_reason=data.get("failure_reason"),
        created_at=created_at or now_ms(),
    )


class Storage:
    """Attach, list, show and detach the instance's dynamic storage."""

    def __init__(self, cloud: ModelArtsBackend):
        self.cloud = cloud

    def _mount_created(self, mount_id: str) -> int | None:
        record = self.cloud.store.get("mount", mount_id)
        return record["created_at"] if record else None

    async def _storages(self) -> list[dict[str, Any]]:
        data = await self.cloud.poll.get(
            "storages",
            lambda: self.cloud.call(
                "GET", self.cloud.notebook_path("/storage"), "storages", idempotent=True
            ),
        )
        return (data or {}).get("data", [])

    async def list_mounts(self) -> list[Mount]:
        return [_mount(d, self._mount_created(d["id"])) for d in await self._storages()]

    async def get_mount(self, mount_id: str) -> Mount:
        data = await self.cloud.poll.get(
            ("storage", mount_id),
            lambda: self.cloud.call(
                "GET", self.cloud.notebook_path(f"/storage/{mount_id}"), "storages", idempotent=True
            ),
        )
        return _mount(data, self._mount_created(mount_id))

    async def create_mount(self, uri: str, mount_path: str) -> Mount:
        uri = str(parse_obs_uri(uri))
        mount_path = parse_mount_path(mount_path)
        body = {"category": "OBS", "mount_path": mount_path, "uri": uri}

        async def find() -> dict[str, Any] | None:
            self.cloud.poll.invalidate("storages")
            same = [d for d in await self._storages() if d.get("mount_path") == mount_path]
            return same[0] if same else None

        data = await self.cloud.create_once(
            lambda: self.cloud.call(
                "POST", self.cloud.notebook_path("/storage"), "mount", idempotent=False, json=body
            ),
            find,
        )
        self.cloud.poll.invalidate("storages")
        created = now_ms()
        self.cloud.store.put("mount", data["id"], {"id": data["id"], "created_at": created})
        return _mount(data, created)

    async def delete_mount(self, mount_id: str) -> Mount:
        mount = await self.get_mount(mount_id)
        data = await self.cloud.call(
            "DELETE", self.cloud.notebook_path(f"/storage/{mount_id}"), "unmount", idempotent=True
        )
        self.cloud.poll.invalidate("storages", ("storage", mount_id))
        self.cloud.store.delete("mount", mount_id)
        if data:
            return _mount(data, mount.created_at)
        mount.status = MountStatus.UNMOUNTING
        return mount
