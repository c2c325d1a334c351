"""Shared pieces of the fake's services: the request/response values, API errors, time helpers."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

# IAM and the SDK's credential parser both use this layout for `expires_at`.
ISO_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


@dataclass
class Req:
    """One parsed request as the service handlers see it."""

    method: str
    path: str
    params: dict[str, str]  # path parameters of the matched route
    query: dict[str, str]  # first value of each query argument
    headers: Any  # tornado.httputil.HTTPHeaders (case-insensitive)
    raw_body: bytes
    raw_query: dict[str, list[str]] = field(default_factory=dict)  # every value, for signing
    body: Any = None  # parsed JSON, when the body is JSON


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class ApiError(Exception):
    """A JSON API error; the dispatcher renders it in the shape of the endpoint family.

    `generic` errors (authentication, authorization, unknown fields) always use
    {"error_code","error_msg"}, like the gateway-level errors of the real service.
    """

    def __init__(
        self,
        status: int,
        code: str,
        msg: str,
        *,
        generic: bool = False,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(f"{status} {code} {msg}")
        self.status = status
        self.code = code
        self.msg = msg
        self.generic = generic
        self.headers = headers or {}


def json_response(status: int, obj: Any, headers: dict[str, str] | None = None) -> Response:
    hdrs = {"Content-Type": "application/json;charset=UTF-8"}
    hdrs.update(headers or {})
    return Response(status, json.dumps(obj).encode(), hdrs)


def now_ms() -> int:
    return int(time.time() * 1000)


def iso_utc(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1e6):06d}Z"


def check_str(value: Any, name: str, *, max_len: int | None = None, required: bool = True) -> str:
    """A string field of a request body, else ModelArts.0104 (invalid parameter)."""
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise ApiError(
            400, "ModelArts.0104", f"invalid parameter: {name} must be a non-empty string"
        )
    if max_len is not None and len(value) > max_len:
        raise ApiError(400, "ModelArts.0104", f"invalid parameter: {name} longer than {max_len}")
    return value
