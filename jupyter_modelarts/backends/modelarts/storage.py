"""Dynamic OBS storage mounted into the notebook instance."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...i18n import N_
from ...models import (
    Conflict,
    InvalidRequest,
    ModelArtsError,
    Mount,
    MountStatus,
    NotFound,
    now_ms,
    parse_mount_path,
    parse_obs_uri,
)

if TYPE_CHECKING:
    from . import ModelArtsBackend

# ModelArts' "Another operation is in progress" (a 400): the contract's 409.
_BUSY = "ModelArts.6357"


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


def _folder(path: str) -> str:
    """A path as ``parse_mount_path`` spells it (``/data/a//`` is ``/data/a/``)."""
    return "/" + "/".join(part for part in path.split("/") if part) + "/"


def _in_use(mount_path: str, held: str, other: dict[str, Any]) -> str:
    # Each part is a message of its own: the server translates the parts of a message too.
    what = N_("is already mounted") if held == mount_path else N_(f"overlaps the mount at {held}")
    why = {
        "MOUNT_FAILED": N_("; that mount failed: delete it first"),
        "UNMOUNTING": N_("; that mount is being removed: try again in a moment"),
    }.get(str(other.get("status")), "")
    return N_(f"{mount_path} {what} ({other.get('uri', '')}){why}")


class Storage:
    """Attach, list, show and detach the instance's dynamic storage."""

    def __init__(self, cloud: ModelArtsBackend):
        self.cloud = cloud

    def _forgotten(self, mount_id: str) -> bool:
        """A failed mount deleted here: gone for our callers (the contract forgets a failed
        mount at once) while ModelArts still lists it UNMOUNTING. Kept in the store, so a
        restart does not bring it back."""
        record = self.cloud.store.get("mount", mount_id)
        return bool(record and record.get("forgotten"))

    def _shown(self, data: dict[str, Any]) -> bool:
        return not (data.get("status") == "UNMOUNTING" and self._forgotten(data["id"]))

    def _mount_created(self, mount_id: str) -> int | None:
        record = self.cloud.store.get("mount", mount_id)
        return record.get("created_at") if record else None

    async def _storages(self) -> list[dict[str, Any]]:
        data = await self.cloud.poll.get(
            "storages",
            lambda: self.cloud.call(
                "GET", self.cloud.notebook_path("/storage"), "storages", idempotent=True
            ),
        )
        return (data or {}).get("data", [])

    async def list_mounts(self) -> list[Mount]:
        storages = await self._storages()
        upstream = {d["id"] for d in storages}
        for record in self.cloud.store.list("mount"):
            if record.get("forgotten") and record["id"] not in upstream:
                self.cloud.store.delete("mount", record["id"])  # gone: nothing left to hide
        return [_mount(d, self._mount_created(d["id"])) for d in storages if self._shown(d)]

    async def get_mount(self, mount_id: str) -> Mount:
        try:
            data = await self.cloud.poll.get(
                ("storage", mount_id),
                lambda: self.cloud.call(
                    "GET",
                    self.cloud.notebook_path(f"/storage/{mount_id}"),
                    "storage",
                    idempotent=True,
                ),
            )
        except NotFound as err:
            if self._forgotten(mount_id):
                self.cloud.store.delete("mount", mount_id)
            raise NotFound(
                err.message, field="mount_id", code=err.code, request_id=err.request_id
            ) from None
        if not self._shown(data):
            raise NotFound(f"no mount {mount_id}", field="mount_id")
        return _mount(data, self._mount_created(mount_id))

    async def create_mount(self, uri: str, mount_path: str) -> Mount:
        parsed = parse_obs_uri(uri)
        uri = str(parsed)
        mount_path = parse_mount_path(mount_path)
        # Checked here, as the local backend does: ModelArts refuses a path in use without
        # naming the field, and takes one nested in (or around) another mount.
        self.cloud.poll.invalidate("storages")
        before = await self._storages()
        for other in before:
            held = _folder(other.get("mount_path", ""))
            shorter, longer = sorted([held, mount_path], key=len)
            if longer.startswith(shorter):
                raise InvalidRequest(_in_use(mount_path, held, other), field="mount_path")
        await self._check_bucket(parsed.bucket)
        known = {d["id"] for d in before}
        body = {"category": "OBS", "mount_path": mount_path, "uri": uri}

        async def find(_: Exception) -> dict[str, Any] | None:
            self.cloud.poll.invalidate("storages")
            same = [
                d
                for d in await self._storages()
                if d["id"] not in known and _folder(d.get("mount_path", "")) == mount_path
            ]
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

    async def _check_bucket(self, bucket: str) -> None:
        """A 404 naming ``uri`` for a bucket OBS says does not exist, as the contract has it
        (ModelArts itself only fails the mount later). Our keys may lack a right the
        notebook's agency has: any other answer leaves the verdict to ModelArts."""
        try:
            exists = await self.cloud.obs.bucket_exists(bucket)
        except ModelArtsError as err:
            self.cloud.log.info("could not check OBS bucket %s before mounting: %s", bucket, err)
            return
        if not exists:
            raise NotFound(f"OBS bucket {bucket} does not exist", field="uri")

    async def delete_mount(self, mount_id: str) -> Mount:
        self.cloud.poll.invalidate(("storage", mount_id))  # its state now, not a poll ago
        mount = await self.get_mount(mount_id)
        if mount.status in (MountStatus.MOUNTING, MountStatus.UNMOUNTING):
            raise Conflict(
                f"mount {mount_id} is {mount.status.value}; wait until it settles", field="mount_id"
            )
        try:
            data = await self.cloud.call(
                "DELETE",
                self.cloud.notebook_path(f"/storage/{mount_id}"),
                "unmount",
                idempotent=True,
            )
        except InvalidRequest as err:
            if err.code != _BUSY:
                raise
            raise Conflict(
                f"mount {mount_id} is busy ({err.message}); unmount it once that operation "
                "has ended",
                field="mount_id",
                code=err.code,
                request_id=err.request_id,
            ) from None
        self.cloud.poll.invalidate("storages", ("storage", mount_id))
        self.cloud.store.delete("mount", mount_id)
        if mount.status is MountStatus.MOUNT_FAILED:
            # Nothing was mounted, so nothing is left to undo: it is gone now.
            self.cloud.store.put(
                "mount",
                mount_id,
                {"id": mount_id, "created_at": mount.created_at, "forgotten": True},
            )
            mount.status, mount.updated_at = MountStatus.UNMOUNTED, now_ms()
            return mount
        if data:
            return _mount(data, mount.created_at)
        mount.status = MountStatus.UNMOUNTING
        return mount
