"""Fake permissions: authorizations (agencies, 委托), workspaces (工作空间) and training quota.

State is changed by the test controls below (from the test's thread, under the cloud's lock)
and read by the handlers on the fake's loop. The user is the fake's one IAM user.

Assumed (the real codes are not documented): a workspace the user has no grant for answers
403 ``ModelArts.0109``; an operation ModelArts performs on the user's behalf without the
user's agency answers 403 ``ModelArts.0110`` naming the agency; an account without workspaces
(they are invitation-only) answers the workspace API 404 ``ModelArts.0111``.
"""

from __future__ import annotations

import copy
import uuid
from typing import TYPE_CHECKING, Any

from .common import ApiError, Req, Response, json_response, now_ms

if TYPE_CHECKING:
    from .server import FakeCloud

#: ``user_id`` of an authorization made for every user of the account.
ALL_USERS = "all-users"
#: Operations ModelArts carries out with the user's agency (it reaches OBS and SWR for them).
AGENCY_OPERATIONS = ("create_training_job", "create_image", "attach_dynamic_storage")
NO_GRANT = "ModelArts.0109"
NO_AGENCY = "ModelArts.0110"
NO_WORKSPACES = "ModelArts.0111"


class Permissions:
    def __init__(self, cloud: FakeCloud):
        self.cloud = cloud
        created = now_ms()
        self.authorizations: list[dict[str, Any]] = [
            {
                "user_id": cloud.iam.user_id,
                "user_name": cloud.iam_user,
                "user_type": "IAM",
                "type": "agency",
                "content": f"modelarts_agency_{cloud.iam_user}_{uuid.uuid4().hex[:8]}",
                "create_time": created,
            }
        ]
        self.workspaces: dict[str, dict[str, Any]] = {
            "0": self._workspace("0", "default", "PUBLIC", created)
        }
        self.grants: dict[str, list[dict[str, Any]]] = {"0": []}
        #: False: an account without workspaces (they are invitation-only).
        self.workspaces_enabled = True
        self.training_quota = {"quota": -1, "used": None}  # used None: the live jobs

    @staticmethod
    def _workspace(workspace_id: str, name: str, auth_type: str, created: int) -> dict[str, Any]:
        return {
            "id": workspace_id,
            "name": name,
            "description": "",
            "owner": "alice-account",
            "auth_type": auth_type,
            "enterprise_project_id": "0",
            "enterprise_project_name": "default",
            "status": "NORMAL",
            "status_info": "",
            "create_time": created,
            "update_time": created,
        }

    # -- test controls (FakeCloud forwards them) --------------------------------------------

    def remove_agency(self) -> None:
        """The user's agency is removed in 全局配置 (Global Configuration)."""
        with self.cloud._lock:
            self.authorizations = [
                a for a in self.authorizations if a["user_id"] != self.cloud.iam.user_id
            ]

    def agency_for_all_users(self) -> None:
        """One agency for every user of the account, instead of the user's own."""
        self.remove_agency()
        with self.cloud._lock:
            self.authorizations.append(
                {
                    "user_id": ALL_USERS,
                    "user_name": ALL_USERS,
                    "user_type": ALL_USERS,
                    "type": "agency",
                    "content": "modelarts_agency",
                    "create_time": now_ms(),
                }
            )

    def add_workspace(self, name: str, *, granted: bool = True) -> str:
        """A new workspace (auth_type INTERNAL: only granted users may use it); returns its id."""
        workspace_id = uuid.uuid4().hex
        grants = []
        if granted:
            grants.append(
                {
                    "user_id": self.cloud.iam.user_id,
                    "user_name": self.cloud.iam_user,
                    "user_type": "IAM",
                }
            )
        with self.cloud._lock:
            self.workspaces[workspace_id] = self._workspace(
                workspace_id, name, "INTERNAL", now_ms()
            )
            self.grants[workspace_id] = grants
        return workspace_id

    def revoke(self, workspace_id: str) -> None:
        """The workspace's owner takes the user's grant away."""
        with self.cloud._lock:
            self.grants[workspace_id] = [
                g for g in self.grants[workspace_id] if g["user_id"] != self.cloud.iam.user_id
            ]

    def set_training_quota(self, quota: int, used: int | None = None) -> None:
        """The account's training job quota; ``used`` None counts the jobs not ended."""
        with self.cloud._lock:
            self.training_quota = {"quota": quota, "used": used}

    # -- checks the dispatcher makes ---------------------------------------------------------

    def has_agency(self) -> bool:
        with self.cloud._lock:
            return any(
                a["type"] == "agency" and a["user_id"] in (self.cloud.iam.user_id, ALL_USERS)
                for a in self.authorizations
            )

    def require_agency(self, operation: str) -> None:
        if operation in AGENCY_OPERATIONS and not self.has_agency():
            raise ApiError(
                403,
                NO_AGENCY,
                f"the ModelArts agency (委托) of user {self.cloud.iam_user} is not configured in "
                f"{self.cloud.region}: ModelArts cannot access other services on the user's "
                "behalf",
                generic=True,
            )

    def accessible(self, workspace_id: str) -> bool:
        with self.cloud._lock:
            workspace = self.workspaces.get(workspace_id)
            grants = self.grants.get(workspace_id, [])
        if workspace is None:
            return False
        return workspace["auth_type"] == "PUBLIC" or any(
            g["user_id"] == self.cloud.iam.user_id for g in grants
        )

    def require_workspace(self, workspace_id: str) -> None:
        if not self.accessible(workspace_id):
            raise ApiError(
                403,
                NO_GRANT,
                f"user {self.cloud.iam_user} is not authorized to access workspace {workspace_id}",
                generic=True,
            )

    def _require_enabled(self) -> None:
        if not self.workspaces_enabled:
            raise ApiError(
                404, NO_WORKSPACES, "The workspace feature is not enabled for this account."
            )

    # -- the API -----------------------------------------------------------------------------

    def get_authorizations(self, req: Req) -> Response:
        with self.cloud._lock:
            auth = copy.deepcopy(self.authorizations)
        return json_response(200, {"total_count": len(auth), "auth": auth})

    def list_workspace(self, req: Req) -> Response:
        self._require_enabled()
        with self.cloud._lock:
            items = copy.deepcopy(list(self.workspaces.values()))
        if req.query.get("filter_accessible") == "true":
            items = [w for w in items if self.accessible(w["id"])]
        offset, limit = int(req.query.get("offset", "0")), int(req.query.get("limit", "100"))
        page = items[offset : offset + limit]
        return json_response(
            200, {"total_count": len(items), "count": len(page), "workspaces": page}
        )

    def _known(self, req: Req) -> dict[str, Any]:
        self._require_enabled()
        workspace_id = req.params["workspace_id"]
        with self.cloud._lock:
            workspace = copy.deepcopy(self.workspaces.get(workspace_id))
            grants = copy.deepcopy(self.grants.get(workspace_id, []))
        if workspace is None:
            raise ApiError(404, "ModelArts.0112", f"workspace {workspace_id} does not exist")
        self.require_workspace(workspace_id)
        return {**workspace, "grants": grants}

    def show_workspace(self, req: Req) -> Response:
        return json_response(200, self._known(req))

    def show_workspace_quotas(self, req: Req) -> Response:
        self._known(req)
        quotas = [
            {
                "resource": "notebook",
                "name_en": "Notebook instances",
                "unit_en": "",
                "quota": -1,
                "used_quota": 1,
                "max_quota": 1000,
                "min_quota": 1,
            }
        ]
        return json_response(200, {"quotas": quotas})

    def show_training_quotas(self, req: Req) -> Response:
        with self.cloud._lock:
            quota = dict(self.training_quota)
        if quota["used"] is None:
            quota["used"] = self.cloud.training.live_count()
        return json_response(200, {"quotas": [{"resource": "job-num", **quota}]})

    def validate_authorization(self, req: Req) -> Response:
        workspace_id = req.params["workspace_id"]
        requests = (req.body or {}).get("requests") or []
        results = []
        for item in requests:
            action = item.get("action") or ""
            allowed = self.accessible(workspace_id) and not self.cloud._denied_action(action)
            results.append(
                {
                    "action": action,
                    "action_id": item.get("action_id") or "",
                    "resource": item.get("resource") or "",
                    "verdict": "allow" if allowed else "deny",
                }
            )
        return json_response(200, {"results": results})
