"""Saving the notebook instance as an image, and the images saved so far."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...models import Conflict, ImageRequest, ImageSnapshot, ImageStatus, now_ms

if TYPE_CHECKING:
    from . import ModelArtsBackend


_IMAGE_STATUS = {
    "INIT": ImageStatus.INIT,
    "CREATING": ImageStatus.CREATING,
    "ACTIVE": ImageStatus.ACTIVE,
    "CREATE_FAILED": ImageStatus.CREATE_FAILED,
    "ERROR": ImageStatus.CREATE_FAILED,
}


def _image(data: dict[str, Any]) -> ImageSnapshot:
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
        created_at=data.get("create_at") or now_ms(),
        updated_at=data.get("update_at") or now_ms(),
    )


class Images:
    """CreateImage from the instance, ListImage and ShowImage."""

    def __init__(self, cloud: ModelArtsBackend):
        self.cloud = cloud

    async def list_images(self) -> list[ImageSnapshot]:
        data = await self.cloud.poll.get(
            "images",
            lambda: self.cloud.call(
                "GET",
                "/v1/{p}/images",
                "image_list",
                idempotent=True,
                params={"type": "DEDICATED", "limit": 200, "workspace_id": self.cloud.workspace_id},
            ),
        )
        return [_image(d) for d in (data or {}).get("data", [])]

    async def get_image(self, image_id: str) -> ImageSnapshot:
        data = await self.cloud.poll.get(
            ("image", image_id),
            lambda: self.cloud.call(
                "GET", f"/v1/{{p}}/images/{image_id}", "image_get", idempotent=True
            ),
        )
        return _image(data)

    async def _same_tag(self, request: ImageRequest) -> list[dict[str, Any]]:
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
                "workspace_id": self.cloud.workspace_id,
            },
        )
        return [d for d in (data or {}).get("data", []) if d.get("tag") == request.tag]

    async def save_image(self, request: ImageRequest) -> ImageSnapshot:
        # Checked here, as the local backend does: ModelArts would save a second image under
        # the same name and tag.
        existing = await self._same_tag(request)
        for other in map(_image, existing):
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
            "workspace_id": self.cloud.workspace_id,
        }

        async def find(_: Exception) -> dict[str, Any] | None:
            self.cloud.poll.invalidate("images")
            made = [d for d in await self._same_tag(request) if d["id"] not in known]
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
        self.cloud.poll.invalidate("images", "notebook")
        return _image(data)
