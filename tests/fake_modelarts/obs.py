"""Fake OBS, path-style under the `/obs` URL prefix: `/obs/{bucket}` and `/obs/{bucket}/{key}`.

Objects live in `FakeCloud.buckets` (bucket -> key -> bytes), which tests read and write directly.
Every request must carry a valid V2 `Authorization: OBS AK:sig`; the temporary access key also
needs `x-obs-security-token`. The signed canonical resource is `/{bucket}/{key}` (see auth.py).
"""

import base64
import binascii
import hashlib
import time
import uuid
from typing import TYPE_CHECKING
from urllib.parse import unquote
from xml.sax.saxutils import escape

from . import auth
from .common import Req, Response

if TYPE_CHECKING:
    from .server import FakeCloud

XMLNS = "http://obs.myhwclouds.com/doc/2015-06-30/"
_MESSAGES = {
    "AccessDenied": "Access Denied",
    "NoSuchBucket": "The specified bucket does not exist",
    "NoSuchKey": "The specified key does not exist.",
    "BadDigest": "The Content-MD5 you specified did not match what we received.",
    "InvalidDigest": "The Content-MD5 you specified is not valid.",
    "RequestTimeTooSkewed": "The difference between the request time and the server's time is "
    "too large.",
    "InvalidArgument": "Invalid Argument",
    "MethodNotAllowed": "The specified method is not allowed against this resource.",
    "ServiceUnavailable": "Please reduce your request rate.",
    "TooManyRequests": "Please reduce your request rate.",
}


class ObsError(Exception):
    def __init__(self, status: int, code: str, *, bucket: str = "", key: str = ""):
        super().__init__(code)
        self.status = status
        self.code = code
        self.bucket = bucket
        self.key = key


def error_response(status: int, code: str, *, bucket: str = "", key: str = "") -> Response:
    request_id = uuid.uuid4().hex[:16].upper()
    extra = f"<BucketName>{escape(bucket)}</BucketName>" if bucket else ""
    extra += f"<Key>{escape(key)}</Key>" if key else ""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{escape(_MESSAGES.get(code, code))}</Message>"
        f"<RequestId>{request_id}</RequestId><HostId>fake-obs</HostId>{extra}</Error>"
    )
    return Response(
        status,
        body.encode(),
        {"Content-Type": "application/xml", "x-obs-request-id": request_id},
    )


def _etag(data: bytes) -> str:
    return '"' + hashlib.md5(data).hexdigest() + '"'


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(ts))


def _http_date(ts: float) -> str:
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(ts))


class Obs:
    def __init__(self, cloud: "FakeCloud"):
        self.cloud = cloud
        # Last-Modified per (bucket, key); objects written by tests directly get the start time.
        self.mtimes: dict[tuple[str, str], float] = {}
        self.started = time.time()

    def handle(self, req: Req) -> Response:
        rest = req.path[len("/obs/") :]
        bucket_raw, _, key_raw = rest.partition("/")
        bucket, key = unquote(bucket_raw), unquote(key_raw)
        try:
            if not bucket:
                raise ObsError(400, "InvalidArgument")
            self._authenticate(req, bucket, key)
            if key:
                return self._object(req, bucket, key)
            return self._bucket(req, bucket)
        except ObsError as err:
            resp = error_response(err.status, err.code, bucket=err.bucket, key=err.key)
            if req.method == "HEAD":
                resp.body = b""
            return resp

    # -- authentication ----------------------------------------------------------------------

    def _authenticate(self, req: Req, bucket: str, key: str) -> None:
        headers = {k: v for k, v in req.headers.get_all()}
        lower = {k.lower(): v for k, v in headers.items()}
        parsed = auth.parse_obs_authorization(lower.get("authorization", ""))
        if parsed is None:
            raise ObsError(403, "AccessDenied")
        ak, signature = parsed
        secret = self.cloud.secret_for(ak)
        if secret is None:
            raise ObsError(403, "AccessDenied")
        sk, security_token = secret
        if security_token is not None and lower.get("x-obs-security-token") != security_token:
            raise ObsError(403, "AccessDenied")
        skew = auth.http_date_skew(lower.get("x-obs-date") or lower.get("date"))
        if skew is None:
            raise ObsError(403, "AccessDenied")
        if skew > auth.MAX_SKEW_S:
            raise ObsError(403, "RequestTimeTooSkewed")
        query = {k: (v or None) for k, v in req.query.items()}
        ok = auth.obs_signature_ok(
            ak=ak,
            sk=sk,
            method=req.method,
            bucket=bucket,
            key=key,
            query=query,
            headers=headers,
            signature=signature,
        )
        if not ok:
            raise ObsError(403, "AccessDenied")

    # -- bucket level ------------------------------------------------------------------------

    def _bucket(self, req: Req, bucket: str) -> Response:
        buckets = self.cloud.buckets
        if req.method == "PUT":
            buckets.setdefault(bucket, {})
            return Response(200, b"", {"Location": f"/{bucket}"})
        if bucket not in buckets:
            raise ObsError(404, "NoSuchBucket", bucket=bucket)
        if req.method == "HEAD":
            return Response(200)
        if req.method == "GET":
            return self._list(req, bucket)
        raise ObsError(405, "MethodNotAllowed")

    def _list(self, req: Req, bucket: str) -> Response:
        """ListObjects (v1): prefix, marker, max-keys, delimiter; NextMarker when truncated."""
        prefix = req.query.get("prefix", "")
        marker = req.query.get("marker", "")
        delimiter = req.query.get("delimiter", "")
        try:
            max_keys = int(req.query.get("max-keys", "1000"))
        except ValueError as exc:
            raise ObsError(400, "InvalidArgument") from exc
        if not 0 <= max_keys <= 1000:
            raise ObsError(400, "InvalidArgument")
        objects = dict(self.cloud.buckets[bucket])
        contents: list[tuple[str, bytes]] = []
        prefixes: list[str] = []
        truncated = False
        last = ""
        for key in sorted(objects):
            if not key.startswith(prefix) or key <= marker:
                continue
            entry = key
            if delimiter:
                cut = key.find(delimiter, len(prefix))
                if cut >= 0:
                    entry = key[: cut + len(delimiter)]
                    if entry in prefixes or entry <= marker:
                        continue
            if len(contents) + len(prefixes) >= max_keys:
                truncated = True
                break
            if entry != key:
                prefixes.append(entry)
            else:
                contents.append((key, objects[key]))
            last = entry
        parts = [
            '<?xml version="1.0" encoding="UTF-8"?>\n',
            f'<ListBucketResult xmlns="{XMLNS}">',
            f"<Name>{escape(bucket)}</Name><Prefix>{escape(prefix)}</Prefix>",
            f"<Marker>{escape(marker)}</Marker>",
        ]
        if truncated:
            parts.append(f"<NextMarker>{escape(last)}</NextMarker>")
        parts.append(f"<MaxKeys>{max_keys}</MaxKeys>")
        if delimiter:
            parts.append(f"<Delimiter>{escape(delimiter)}</Delimiter>")
        parts.append(f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>")
        for key, data in contents:
            parts.append(
                f"<Contents><Key>{escape(key)}</Key>"
                f"<LastModified>{_iso(self._mtime(bucket, key))}</LastModified>"
                f"<ETag>{escape(_etag(data))}</ETag><Size>{len(data)}</Size>"
                f"<Owner><ID>{self.cloud.iam.domain_id}</ID></Owner>"
                "<StorageClass>STANDARD</StorageClass></Contents>"
            )
        for entry in prefixes:
            parts.append(f"<CommonPrefixes><Prefix>{escape(entry)}</Prefix></CommonPrefixes>")
        parts.append("</ListBucketResult>")
        return Response(200, "".join(parts).encode(), {"Content-Type": "application/xml"})

    # -- object level ------------------------------------------------------------------------

    def _mtime(self, bucket: str, key: str) -> float:
        return self.mtimes.get((bucket, key), self.started)

    def _object(self, req: Req, bucket: str, key: str) -> Response:
        buckets = self.cloud.buckets
        if bucket not in buckets:
            raise ObsError(404, "NoSuchBucket", bucket=bucket)
        objects = buckets[bucket]
        if req.method == "PUT":
            data = req.raw_body
            sent_md5 = req.headers.get("Content-MD5")
            if sent_md5 is not None:
                try:
                    digest = base64.b64decode(sent_md5, validate=True)
                except (binascii.Error, ValueError) as exc:
                    raise ObsError(400, "InvalidDigest") from exc
                if len(digest) != 16:
                    raise ObsError(400, "InvalidDigest")
                if digest != hashlib.md5(data).digest():
                    raise ObsError(400, "BadDigest")
            objects[key] = data
            self.mtimes[(bucket, key)] = time.time()
            return Response(200, b"", {"ETag": _etag(data)})
        if req.method == "DELETE":
            objects.pop(key, None)
            self.mtimes.pop((bucket, key), None)
            return Response(204)
        if req.method not in ("GET", "HEAD"):
            raise ObsError(405, "MethodNotAllowed")
        data = objects.get(key)
        if data is None:
            raise ObsError(404, "NoSuchKey", key=key)
        headers = {
            "ETag": _etag(data),
            "Last-Modified": _http_date(self._mtime(bucket, key)),
            "Content-Type": "application/octet-stream",
            "x-obs-storage-class": "STANDARD",
        }
        if req.method == "HEAD":
            headers["Content-Length"] = str(len(data))
            return Response(200, b"", headers)
        return Response(200, data, headers)
