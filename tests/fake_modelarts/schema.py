"""ModelArts operations served by the fake, taken from the official SDK.

Each served operation is named by its `ModelArtsClient` method. The HTTP method and resource path
come from the client's own `_<op>_http_info`, and the request body model from the SDK request
class (`<Op>Request.openapi_types["body"]`), so routes and body schemas are the SDK's, not ours.
"""

from __future__ import annotations

import re
from typing import Any

import huaweicloudsdkmodelarts.v1 as sdk
import huaweicloudsdkmodelarts.v1.model as models
from huaweicloudsdkmodelarts.v1.modelarts_client import ModelArtsClient

from .common import ApiError

OPERATIONS = (
    "show_notebook",
    "show_lease",
    "renew_lease",
    "attach_dynamic_storage",
    "list_dynamic_storages",
    "show_dynamic_storage",
    "detach_dynamic_storage",
    "create_image",
    "list_image",
    "show_image",
    "delete_image",
    "create_training_job",
    "show_training_job_details",
    "list_training_jobs",
    "stop_training_job",
    "delete_training_job",
    "show_training_job_logs_preview",
    "show_training_job_logs_from_aom",
    "show_training_job_metrics",
    "show_training_job_flavors",
    "show_training_job_engines",
    "get_authorizations",
    "list_workspace",
    "show_workspace",
    "show_workspace_quotas",
    "show_training_quotas",
    "validate_authorization",
)


class Operation:
    def __init__(self, name: str):
        request_cls = getattr(sdk, "".join(p.title() for p in name.split("_")) + "Request")
        info = getattr(ModelArtsClient, f"_{name}_http_info")(request_cls())
        self.name = name
        self.method: str = info["method"]
        self.resource_path: str = info["resource_path"]
        self.body_model: str | None = request_cls.openapi_types.get("body")
        self.response_model = "".join(p.title() for p in name.split("_")) + "Response"
        pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.resource_path)
        self.regex = re.compile(pattern + "$")


def load_operations() -> list[Operation]:
    return [Operation(name) for name in OPERATIONS]


def unknown_field(value: Any, type_name: str, path: str = "") -> str | None:
    """Dotted path of the first JSON key that the SDK model `type_name` does not define.

    Walks models, `list[...]` and `dict(str, ...)` recursively. A value of the wrong container
    kind for a model raises a 400 as well (the real service cannot parse it either).
    """
    if value is None:
        return None
    if type_name.startswith("list["):
        if not isinstance(value, list):
            raise _invalid(path)
        inner = type_name[5:-1]
        for i, item in enumerate(value):
            found = unknown_field(item, inner, f"{path}[{i}]")
            if found:
                return found
        return None
    if type_name.startswith("dict("):
        if not isinstance(value, dict):
            raise _invalid(path)
        inner = type_name[type_name.index(",") + 1 : -1].strip()
        for key, item in value.items():
            found = unknown_field(item, inner, f"{path}.{key}" if path else key)
            if found:
                return found
        return None
    model = getattr(models, type_name, None)
    if model is None:  # a scalar: str, int, float, bool, object
        return None
    if not isinstance(value, dict):
        raise _invalid(path)
    json_to_attr = {json_name: attr for attr, json_name in model.attribute_map.items()}
    for key, item in value.items():
        child = f"{path}.{key}" if path else key
        attr = json_to_attr.get(key)
        if attr is None:
            return child
        found = unknown_field(item, model.openapi_types[attr], child)
        if found:
            return found
    return None


def _invalid(path: str) -> ApiError:
    return ApiError(
        400, "ModelArts.0101", f"invalid value of field {path or '<body>'}", generic=True
    )
