"""Fake notebook instance: show, lease (auto-stop), dynamic OBS storage and save-as-image.

All state changes run on the server's event loop; delayed transitions use `loop.call_later`.
Notebook-family business errors use `{"error_code","error_message"}` (the documented notebook
shape); the image endpoints use `{"error_code","error_msg"}`.
"""

import asyncio
import copy
import math
import re
import uuid
from typing import TYPE_CHECKING, Any

from .common import ApiError, Req, Response, check_str, json_response, now_ms

if TYPE_CHECKING:
    from .server import FakeCloud

LEASE_MIN_MS = 3_600_000
LEASE_MAX_MS = 259_200_000
_IMAGE_NAME = re.compile(r"[a-z0-9](?:[a-z0-9._-]{0,126}[a-z0-9])?")
_NAMESPACE = re.compile(r"[a-z][A-Za-z0-9._-]{0,63}")
_TAG = re.compile(r"[A-Za-z0-9._-]{1,64}")
_OBS_URI = re.compile(r"obs://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(/.*)?")
_MOUNT_ROOT = "/data/"


class Notebooks:
    def __init__(self, cloud: "FakeCloud"):
        self.cloud = cloud
        start = now_ms()
        self.builtin_image = {
            "id": "e1a07296-22a8-4f05-8bc8-e936c8e54202",
            "name": "pytorch1.8-cuda10.2-cudnn7-ubuntu18.04",
            "namespace": "atelier",
            "tag": "20220512",
            "swr_path": f"swr.{cloud.region}.myhuaweicloud.com/atelier/"
            "pytorch1.8-cuda10.2-cudnn7-ubuntu18.04:20220512",
            "type": "BUILD_IN",
            "origin": "CUSTOMIZE",
            "status": "ACTIVE",
            "status_message": "",
            "arch": "X86_64",
            "size": 9_745_871,
            "visibility": "PUBLIC",
            "service_type": "COMMON",
            "resource_categories": ["CPU", "GPU"],
            "dev_services": ["NOTEBOOK", "SSH"],
            "description": "",
            "workspace_id": "0",
            "create_at": start,
            "update_at": start,
        }
        self.notebook: dict[str, Any] = {
            "id": cloud.instance_id,
            "name": "notebook-fake",
            "description": "",
            "status": "RUNNING",
            "fail_reason": "",
            "flavor": "modelarts.vm.cpu.2u",
            "feature": "NOTEBOOK",
            "workspace_id": "0",
            "url": f"https://authoring-modelarts-{cloud.region.replace('-', '')}"
            f".huaweicloud.com/{cloud.instance_id}/lab",
            "token": str(uuid.uuid4()),
            "image": {
                k: self.builtin_image[k]
                for k in ("id", "name", "namespace", "tag", "swr_path", "type", "arch")
            },
            "lease": {
                "create_at": start,
                "duration": LEASE_MIN_MS,
                "enable": True,
                "type": "TIMING",
                "update_at": start,
            },
            "volume": {
                "category": "EVS",
                "capacity": 5,
                "mount_path": "/home/ma-user/work/",
                "ownership": "MANAGED",
                "status": "MOUNTED",
            },
            "data_volumes": [],
            "pool": {"id": "pool-public", "name": "public"},
            "user": {
                "id": cloud.iam.user_id,
                "name": cloud.iam_user,
                "domain": {"id": cloud.iam.domain_id, "name": cloud.iam_domain},
            },
            "action_progress": [],
            "endpoints": [],
            "billing_items": ["STORAGE"],
        }
        self.storages: dict[str, dict[str, Any]] = {}
        self.images: dict[str, dict[str, Any]] = {}

    # -- test controls -----------------------------------------------------------------------

    def set_lease(self, **fields: Any) -> None:
        """Change the lease as the console would: `enable=False` turns auto-stop off; `create_at`,
        `duration` and `update_at` (epoch ms) stand for an instance up and renewed earlier."""
        unknown = set(fields) - set(self.notebook["lease"])
        if unknown:
            raise ValueError(f"not lease fields: {sorted(unknown)}")
        self.notebook["lease"].update(fields)

    # -- helpers -----------------------------------------------------------------------------

    def _later(self, delay: float, fn) -> None:
        asyncio.get_running_loop().call_later(delay, fn)

    def _instance(self, req: Req) -> dict[str, Any]:
        instance = req.params.get("id") or req.params.get("instance_id")
        if instance != self.cloud.instance_id:
            raise ApiError(404, "ModelArts.6309", "The instance does not exist.")
        lease = self.notebook["lease"]
        # Auto-stop: the instance stops once create_at + duration has passed (TIMING; an IDLE
        # lease measures CPU, GPU and network use, which the fake has none of to measure).
        if (
            self.notebook["status"] == "RUNNING"
            and lease["enable"]
            and lease["type"] == "TIMING"
            and now_ms() > lease["create_at"] + lease["duration"]
        ):
            self.notebook["status"] = "STOPPED"
        return self.notebook

    def _require_running(self, nb: dict[str, Any]) -> None:
        if nb["status"] == "SNAPSHOTTING":
            raise ApiError(
                400, "ModelArts.6357", "Another operation is in progress (saving image)."
            )
        if nb["status"] != "RUNNING":
            raise ApiError(400, "ModelArts.6327", "The instance is not running.")

    @staticmethod
    def _body(req: Req) -> dict[str, Any]:
        if not isinstance(req.body, dict):
            raise ApiError(
                400, "ModelArts.0104", "invalid parameter: a JSON object body is required"
            )
        return req.body

    # -- notebook and lease ------------------------------------------------------------------

    def show_notebook(self, req: Req) -> Response:
        nb = copy.deepcopy(self._instance(req))
        nb["data_volumes"] = [
            {
                "category": s["category"],
                "mount_path": s["mount_path"],
                "url": s["uri"],
                "status": s["status"],
                "mount_type": "DYNAMIC",
            }
            for s in self.storages.values()
        ]
        return json_response(200, nb)

    def show_lease(self, req: Req) -> Response:
        return json_response(200, self._instance(req)["lease"])

    def renew_lease(self, req: Req) -> Response:
        """Renew: TIMING, the instance runs for `duration` ms from now (query `duration` wins
        over body); IDLE, it stops after `duration` ms idle."""
        nb = self._instance(req)
        self._require_running(nb)
        lease_type = "TIMING"
        if "duration" in req.query:
            try:
                duration: Any = int(req.query["duration"])
            except ValueError as exc:
                raise ApiError(400, "ModelArts.6349", "The duration is out of range.") from exc
        elif isinstance(req.body, dict):
            duration = req.body.get("duration", LEASE_MIN_MS)
            lease_type = req.body.get("type") or "TIMING"
        else:
            raise ApiError(400, "ModelArts.6348", "The duration is mandatory for auto stop.")
        if isinstance(duration, bool) or not isinstance(duration, int):
            raise ApiError(400, "ModelArts.6349", "The duration is out of range.")
        if not LEASE_MIN_MS <= duration <= LEASE_MAX_MS:
            raise ApiError(
                400,
                "ModelArts.6349",
                f"The duration must be between {LEASE_MIN_MS} and {LEASE_MAX_MS} ms.",
            )
        if not isinstance(lease_type, str) or lease_type.upper() not in ("TIMING", "IDLE"):
            raise ApiError(400, "ModelArts.0104", "invalid parameter: type must be TIMING or IDLE")
        lease = nb["lease"]
        now = now_ms()
        idle = lease_type.upper() == "IDLE"  # then duration is the idle period
        # create_at is kept; the SDK documents auto-stop at create_at + duration (TIMING).
        lease.update(
            duration=duration if idle else now - lease["create_at"] + duration,
            type=lease_type.upper(),
            enable=True,
            update_at=now,
        )
        return json_response(200, lease)

    # -- dynamic storage ---------------------------------------------------------------------

    def attach_dynamic_storage(self, req: Req) -> Response:
        nb = self._instance(req)
        self._require_running(nb)
        body = self._body(req)
        category = body.get("category") or "OBS"
        if category not in ("OBS", "OBSFS", "EFS"):
            raise ApiError(400, "ModelArts.0104", "invalid parameter: category")
        if category == "EFS":
            raise ApiError(
                400, "ModelArts.0104", "SFS Turbo can only be mounted in a dedicated resource pool."
            )
        uri = check_str(body.get("uri"), "uri", max_len=256)
        m = _OBS_URI.fullmatch(uri)
        if not m:
            raise ApiError(
                400, "ModelArts.0104", "invalid parameter: uri must be obs://bucket/dir/"
            )
        if m.group(2) in (None, "/"):
            raise ApiError(
                400, "ModelArts.6358", "The OBS path cannot be the root directory of a bucket."
            )
        mount_path = check_str(body.get("mount_path"), "mount_path", max_len=256)
        parts = mount_path.strip("/").split("/")
        if (
            not mount_path.startswith(_MOUNT_ROOT)
            or len(parts) < 2
            or any(p in ("", ".", "..") for p in parts)
        ):
            raise ApiError(
                400, "ModelArts.0104", "invalid parameter: mount_path must be a directory in /data/"
            )
        normalized = "/" + "/".join(parts) + "/"
        for other in self.storages.values():
            if other["mount_path"].rstrip("/") + "/" == normalized:
                raise ApiError(
                    400, "ModelArts.0104", f"invalid parameter: mount_path {mount_path} is in use"
                )
        bucket = m.group(1)
        storage = {
            "id": str(uuid.uuid4()),
            # Documented example: the service reports an OBS mount as OBSFS.
            "category": "OBSFS" if category == "OBS" else category,
            "mount_path": mount_path,
            "uri": uri,
            "status": "MOUNTING",
            "mount_type": "DYNAMIC",
        }
        self.storages[storage["id"]] = storage

        def settle() -> None:
            if storage["status"] != "MOUNTING":
                return
            if bucket in self.cloud.buckets:
                storage["status"] = "MOUNTED"
            else:
                storage["status"] = "MOUNT_FAILED"
                storage["failure_reason"] = (
                    f"ModelArts.6350: OBS bucket {bucket} does not exist or access is denied."
                )

        self._later(self.cloud.step_s, settle)
        return json_response(200, storage)

    def list_dynamic_storages(self, req: Req) -> Response:
        self._instance(req)
        data = list(self.storages.values())
        return json_response(
            200, {"current": 1, "data": data, "pages": 1, "size": len(data), "total": len(data)}
        )

    def _storage(self, req: Req) -> dict[str, Any]:
        self._instance(req)
        storage = self.storages.get(req.params["storage_id"])
        if storage is None:
            raise ApiError(404, "ModelArts.6309", "The storage does not exist.")
        return storage

    def show_dynamic_storage(self, req: Req) -> Response:
        return json_response(200, self._storage(req))

    def detach_dynamic_storage(self, req: Req) -> Response:
        storage = self._storage(req)
        if storage["status"] not in ("MOUNTED", "MOUNT_FAILED", "UNMOUNT_FAILED"):
            raise ApiError(
                400, "ModelArts.6357", f"Another operation is in progress ({storage['status']})."
            )
        storage["status"] = "UNMOUNTING"
        self._later(self.cloud.step_s, lambda: self.storages.pop(storage["id"], None))
        return json_response(200, storage)

    # -- images ------------------------------------------------------------------------------

    def create_image(self, req: Req) -> Response:
        nb = self._instance(req)
        self._require_running(nb)
        body = self._body(req)
        name = check_str(body.get("name"), "name", max_len=128)
        if not _IMAGE_NAME.fullmatch(name):
            raise ApiError(400, "ModelArts.0104", "invalid parameter: name")
        namespace = check_str(body.get("namespace"), "namespace", max_len=64)
        if not _NAMESPACE.fullmatch(namespace):
            raise ApiError(400, "ModelArts.0104", "invalid parameter: namespace")
        tag = check_str(body.get("tag"), "tag", max_len=64, required=False) or "latest"
        if not _TAG.fullmatch(tag):
            raise ApiError(400, "ModelArts.0104", "invalid parameter: tag")
        description = check_str(body.get("description"), "description", max_len=512, required=False)
        now = now_ms()
        image = {
            "id": str(uuid.uuid4()),
            "name": name,
            "namespace": namespace,
            "tag": tag,
            "description": description,
            "swr_path": f"swr.{self.cloud.region}.myhuaweicloud.com/{namespace}/{name}:{tag}",
            "status": "INIT",
            "status_message": "",
            "origin": "IMAGE_SAVE",
            "type": "DEDICATED",
            "size": 0,
            "arch": "X86_64",
            "visibility": "PRIVATE",
            "service_type": "UNKNOWN",
            "resource_categories": ["CPU"],
            "dev_services": ["NOTEBOOK", "SSH"],
            "workspace_id": body.get("workspace_id") or "0",
            "create_at": now,
            "update_at": now,
        }
        self.images[image["id"]] = image
        nb["status"] = "SNAPSHOTTING"

        def creating() -> None:
            image.update(
                status="CREATING",
                status_message="BuildImage,True,Commit successfully|PushImage,False,"
                "Task is running.",
                update_at=now_ms(),
            )

        def active() -> None:
            image.update(status="ACTIVE", status_message="", size=11_534_336, update_at=now_ms())
            if nb["status"] == "SNAPSHOTTING":
                nb["status"] = "RUNNING"

        self._later(self.cloud.step_s, creating)
        self._later(3 * self.cloud.step_s, active)
        return json_response(200, image)

    def _all_images(self) -> list[dict[str, Any]]:
        return [self.builtin_image, *self.images.values()]

    def list_image(self, req: Req) -> Response:
        q = req.query
        try:
            limit = int(q.get("limit", "200"))
            offset = int(q.get("offset", "0"))
        except ValueError as exc:
            raise ApiError(400, "ModelArts.0104", "invalid parameter: limit/offset") from exc
        if limit < 1 or offset < 0:
            raise ApiError(400, "ModelArts.0104", "invalid parameter: limit/offset")
        wanted_type = q.get("type", "BUILD_IN")
        workspace_id = q.get("workspace_id") or "0"
        # The public built-in images are in every workspace; the user's only in their own.
        items = [
            i
            for i in self._all_images()
            if i["type"] == wanted_type
            and (i["visibility"] == "PUBLIC" or i.get("workspace_id", "0") == workspace_id)
        ]
        if "name" in q:
            fuzzy = q.get("name_fuzzy_match", "true").lower() != "false"
            items = [
                i for i in items if (q["name"] in i["name"] if fuzzy else q["name"] == i["name"])
            ]
        if "namespace" in q:
            items = [i for i in items if i["namespace"] == q["namespace"]]
        items.sort(key=lambda i: i["create_at"], reverse=q.get("sort_dir", "DESC") != "ASC")
        page = items[offset : offset + limit]
        return json_response(
            200,
            {
                "current": offset // limit + 1,
                "data": page,
                "pages": max(1, math.ceil(len(items) / limit)),
                "size": limit,
                "total": len(items),
            },
        )

    def _image(self, req: Req) -> dict[str, Any]:
        for image in self._all_images():
            if image["id"] == req.params["id"]:
                return image
        raise ApiError(404, "ModelArts.6612", "The image does not exist.")

    def show_image(self, req: Req) -> Response:
        return json_response(200, self._image(req))

    def delete_image(self, req: Req) -> Response:
        image = self._image(req)
        if image["type"] != "DEDICATED":
            raise ApiError(
                403, "ModelArts.0108", "Built-in images cannot be deleted.", generic=True
            )
        if image["status"] in ("INIT", "CREATING"):
            raise ApiError(400, "ModelArts.6357", "The image is being saved.")
        del self.images[image["id"]]
        return json_response(200, dict(image, status="DELETED"))
