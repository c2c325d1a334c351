"""Signature checks, done by re-signing the received request with the vendors' own signing code.

ModelArts and IAM: huaweicloudsdkcore's `Signer` (SDK-HMAC-SHA256) over an `SdkRequest` rebuilt
from the method, raw path, query, the headers listed in SignedHeaders and the body. OBS: the V2
`Authentication` class of esdk-obs-python. Nothing here re-implements either algorithm.
"""

from __future__ import annotations

import calendar
import hmac
import re
import time
from email.utils import mktime_tz, parsedate_tz

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer
from obs.auth import Authentication
from obs.convertor import Adapter

MAX_SKEW_S = 15 * 60
SDK_DATE_FORMAT = "%Y%m%dT%H%M%SZ"

_SDK_AUTH = re.compile(
    r"SDK-HMAC-SHA256\s+Access=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-fA-F]+)\s*$"
)
_OBS_AUTH = re.compile(r"OBS\s+([^:\s]+):(\S+)\s*$")


def parse_sdk_authorization(value: str) -> tuple[str, list[str], str] | None:
    """(access key, signed header names, signature) of an SDK-HMAC-SHA256 header, else None."""
    m = _SDK_AUTH.match(value.strip())
    if not m:
        return None
    return m.group(1), m.group(2).split(";"), m.group(3)


def sdk_date_skew(value: str | None) -> float | None:
    """Seconds between X-Sdk-Date and now, or None if absent/unparseable."""
    if not value:
        return None
    try:
        ts = calendar.timegm(time.strptime(value, SDK_DATE_FORMAT))
    except ValueError:
        return None
    return abs(time.time() - ts)


def sdk_signature_ok(
    *,
    ak: str,
    sk: str,
    method: str,
    path: str,
    query: list[tuple[str, str]],
    headers: dict[str, str],
    signed_headers: list[str],
    signature: str,
    body: bytes,
) -> bool:
    """Recompute the signature with the official Signer and compare it with the received one.

    `headers` is keyed by lower-case name. Only the headers the client signed are handed to the
    Signer, so it derives the same SignedHeaders list and canonical headers as the client did.
    """
    if any(name not in headers for name in signed_headers):
        return False
    request = SdkRequest(
        method=method,
        schema="http",
        host=headers.get("host", ""),
        resource_path=path,
        query_params=list(query),
        header_params={name: headers[name] for name in signed_headers},
        body=body,
    )
    Signer(BasicCredentials(ak, sk)).sign(request)
    parsed = parse_sdk_authorization(request.header_params["Authorization"])
    if parsed is None:
        return False
    _, expected_headers, expected = parsed
    return expected_headers == signed_headers and hmac.compare_digest(
        expected.lower(), signature.lower()
    )


def parse_obs_authorization(value: str) -> tuple[str, str] | None:
    m = _OBS_AUTH.match(value.strip())
    return (m.group(1), m.group(2)) if m else None


def http_date_skew(value: str | None) -> float | None:
    parsed = parsedate_tz(value) if value else None
    if parsed is None:
        return None
    return abs(time.time() - mktime_tz(parsed))


def obs_signature_ok(
    *,
    ak: str,
    sk: str,
    method: str,
    bucket: str,
    key: str,
    query: dict[str, str | None],
    headers: dict[str, str],
    signature: str,
) -> bool:
    """Recompute an `Authorization: OBS AK:sig` V2 signature with esdk-obs-python's code.

    The canonical resource is `/{bucket}/{key}`: the fake's `/obs` URL prefix only routes the
    request to the OBS service and is not part of what the client signs. For bucket-level requests
    the SDK signs `/{bucket}` in path style and `/{bucket}/` in virtual-host style; both are valid.
    """
    candidates = (True, False) if not key else (True,)
    for path_style in candidates:
        auth = Authentication(ak, sk, path_style, Adapter("obs"), "127.0.0.1", False)
        expected = auth.getSignature(method, bucket, key or None, query, headers)["Signature"]
        if hmac.compare_digest(expected, signature):
            return True
    return False
