"""Saving the notebook instance as an image, and the images saved so far."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from ...models import (
    DEFAULT_WORKSPACE,
    Conflict,
    ImageRequest,
    ImageSnapshot,
    ImageStatus,
    now_ms,
)

if TYPE_CHECKING:
    from . import ModelArtsBackend


_IMAGE_STATUS = {
    "INIT": ImageStatus.INIT,
    "CREATING": ImageStatus.CREATING,
    "ACTIVE": ImageStatus.ACTIVE,
    "CREATE_FAILED": ImageStatus.CREATE_FAILED,
    "ERROR": ImageStatus.CREATE_FAILED,
}


def _image(data: dict[str, Any], workspace_id: str) -> ImageSnapshot:
    size_kb = data.get("size")
    return ImageSnapshot(
        id=data["id"],
        name=data.get("name", ""),
        tag=data.get("tag", ""),
        namespace=data.get("namespace", ""),
        status=_IMAGE_STATUS.get(str(data.get("status")), ImageStatus.CREATE_FAILED),
        description=data.get("description", "") or "",
        status_message=data.get("status_message", "") or "",
        size_bytes=int(size_kb) * 1024 if size_kb else None,
        location=data.get("swr_path"),
        workspace_id=data.get("workspace_id") or workspace_id,
        created_at=data.get("create_at") or now_ms(),
        updated_at=data.get("update_at") or now_ms(),
    )


class Images:
    """CreateImage from the instance, ListImage and ShowImage."""

    def __init__(self, cloud: ModelArtsBackend):
        self.cloud = cloud

    async def list_images(self, workspace_id: str | None) -> list[ImageSnapshot]:
        """The images of a workspace, or of every workspace the user may use when None."""
        if workspace_id is None:
            workspaces = [w.id for w in await self.cloud.list_workspaces()]
            found = await asyncio.gather(*(self.list_images(w) for w in workspaces))
            return [image for batch in found for image in batch]
        data = await self.cloud.poll.get(
            ("images", workspace_id),
            lambda: self.cloud.call(
                "GET",
                "/v1/{p}/images",
                "image_list",
                idempotent=True,
                params={"type": "DEDICATED", "limit": 200, "workspace_id": workspace_id},
            ),
        )
        return [_image(d, workspace_id) for d in (data or {}).get("data", [])]

    async def get_image(self, image_id: str) -> ImageSnapshot:
        data = await self.cloud.poll.get(
            ("image", image_id),
            lambda: self.cloud.call(
                "GET", f"/v1/{{p}}/images/{image_id}", "image_get", idempotent=True
            ),
        )
        return _image(data, DEFAULT_WORKSPACE)

    async def _same_tag(self, request: ImageRequest, workspace_id: str) -> list[dict[str, Any]]:
        """The images named ``namespace/name:tag`` as ``request`` names them, asked afresh."""
        data = await self.cloud.call(
            "GET",
            "/v1/{p}/images",
            "image_list",
            idempotent=True,
            params={
                "type": "DEDICATED",
                "name": request.name,
                "namespace": request.namespace,
                "name_fuzzy_match": "false",
                "limit": 200,
                "workspace_id": workspace_id,
            },
        )
        return [d for d in (data or {}).get("data", []) if d.get("tag") == request.tag]

    async def save_image(self, request: ImageRequest) -> ImageSnapshot:
        # Checked here, as the local backend does: ModelArts would save a second image under
        # the same name and tag.
        workspace_id = request.workspace_id or self.cloud.current_workspace
        existing = await self._same_tag(request, workspace_id)
        for other in (_image(d, workspace_id) for d in existing):
            if other.status is not ImageStatus.CREATE_FAILED:
                raise Conflict(
                    f"{request.namespace}/{request.name}:{request.tag} already exists "
                    f"({other.status.value}); choose another tag",
                    field="tag",
                )
        known = {d["id"] for d in existing}
        body = {
            "name": request.name,
            "namespace": request.namespace,
            "tag": request.tag,
            "description": request.description,
            "workspace_id": workspace_id,
        }

        async def find(_: Exception) -> dict[str, Any] | None:
            self.cloud.poll.invalidate(("images", workspace_id))
            made = [d for d in await self._same_tag(request, workspace_id) if d["id"] not in known]
            return made[0] if made else None

        data = await self.cloud.create_once(
            lambda: self.cloud.call(
                "POST",
                self.cloud.notebook_path("/create-image"),
                "image_create",
                idempotent=False,
                json=body,
            ),
            find,
        )
        self.cloud.poll.invalidate(("images", workspace_id), "notebook")
        return _image(data, workspace_id)
