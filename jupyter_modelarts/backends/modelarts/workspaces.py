"""Workspaces (工作空间): the ones the user may use, and one of them in detail.

Workspaces are invitation-only: an account without them has only the default workspace "0",
and the workspace API answers it 403 or 404. That account's work all goes to "0".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...models import DEFAULT_WORKSPACE, NotFound, PermissionDenied, Workspace

if TYPE_CHECKING:
    from . import ModelArtsBackend

DEFAULT = Workspace(DEFAULT_WORKSPACE, "default")


def workspace(data: dict[str, Any]) -> Workspace:
    return Workspace(
        id=str(data["id"]),
        name=data.get("name") or str(data["id"]),
        status=data.get("status") or "NORMAL",
        description=data.get("description") or "",
    )


class Workspaces:
    """ListWorkspace (the accessible ones), ShowWorkspace and ShowWorkspaceQuotas."""

    def __init__(self, cloud: ModelArtsBackend):
        self.cloud = cloud

    async def list_workspaces(self) -> list[Workspace]:
        try:
            items = await self.cloud.poll.get("workspaces", self._list)
        except (NotFound, PermissionDenied):
            return [DEFAULT]  # workspaces not enabled for the account: all work is in "0"
        found = [workspace(d) for d in items if d.get("id")]
        default = [w for w in found if w.id == DEFAULT_WORKSPACE] or [DEFAULT]
        return default + [w for w in found if w.id != DEFAULT_WORKSPACE]

    async def _list(self) -> list[dict[str, Any]]:
        return await self.cloud.list_all(
            "/v1/{p}/workspaces", "workspace_list", "workspaces", {"filter_accessible": "true"}
        )

    async def show(self, workspace_id: str) -> dict[str, Any]:
        return await self.cloud.call(
            "GET", f"/v1/{{p}}/workspaces/{workspace_id}", "workspace_get", idempotent=True
        )
