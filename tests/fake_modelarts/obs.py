"""Fake OBS, path-style under the `/obs` URL prefix (`/obs/{bucket}[/{key}]`) and virtual-hosted.

Virtual-hosted requests reach the fake with it as their HTTP proxy: the request line holds the
real URL `http://{bucket}.obs.{region}.myhuaweicloud.com/{key}` (and `Host` that name), so the
client builds, addresses and signs exactly what it would send to OBS. `obs.{region}...` without
a bucket in the host is served path-style, as OBS does.

Objects live in `FakeCloud.buckets` (bucket -> key -> bytes), which tests read and write directly.
Every request must carry a valid V2 `Authorization: OBS AK:sig`; the temporary access key also
needs `x-obs-security-token`. The signed canonical resource is `/{bucket}/{key}` (see auth.py).

Served: ListObjects, PUT (Content-MD5 checked), server-side copy (`x-obs-copy-source`), GET
(with `Range` → 206), HEAD, DELETE, and multipart uploads (initiate, parts, complete, abort)
with OBS's checks. `requests` records every OBS request; `fail_parts`, `part_delay_s` and
`max_parts_in_flight` let tests break parts and watch how many are sent at once.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import re
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit
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
    "NoSuchUpload": "The specified multipart upload does not exist.",
    "BadDigest": "The Content-MD5 you specified did not match what we received.",
    "InvalidDigest": "The Content-MD5 you specified is not valid.",
    "RequestTimeTooSkewed": "The difference between the request time and the server's time is "
    "too large.",
    "InvalidArgument": "Invalid Argument",
    "InvalidPart": "One or more of the specified parts could not be found or its entity tag "
    "did not match.",
    "InvalidPartOrder": "The list of parts was not in ascending order.",
    "EntityTooSmall": "Your proposed upload is smaller than the minimum allowed object size.",
    "MalformedXML": "The XML you provided was not well-formed.",
    "InvalidRange": "The requested range cannot be satisfied.",
    "MethodNotAllowed": "The specified method is not allowed against this resource.",
    "InternalError": "We encountered an internal error. Please try again.",
    "ServiceUnavailable": "Please reduce your request rate.",
    "TooManyRequests": "Please reduce your request rate.",
}
MAX_PART_NUMBER = 10_000
_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


class ObsError(Exception):
    def __init__(self, status: int, code: str, *, bucket: str = "", key: str = "", headers=None):
        super().__init__(code)
        self.status = status
        self.code = code
        self.bucket = bucket
        self.key = key
        self.headers = headers or {}


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


def _xml_response(root: str, inner: str) -> Response:
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns="{XMLNS}">{inner}</{root}>'
    return Response(200, body.encode(), {"Content-Type": "application/xml"})


def _md5_etag(data: bytes) -> str:
    return '"' + hashlib.md5(data).hexdigest() + '"'


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(ts))


def _http_date(ts: float) -> str:
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(ts))


def _meta(req: Req) -> dict[str, str]:
    return {k.lower(): v for k, v in req.headers.get_all() if k.lower().startswith("x-obs-meta-")}


@dataclass
class ObsRequest:
    """One OBS request as the fake understood it; `op` names the operation."""

    method: str
    op: str
    bucket: str
    key: str
    body_size: int
    style: str  # "path" or "virtual"
    host: str
    status: int = 0


@dataclass
class Upload:
    bucket: str
    key: str
    meta: dict[str, str]
    parts: dict[int, tuple[str, bytes]] = field(default_factory=dict)  # number -> (ETag, data)


class Obs:
    def __init__(self, cloud: FakeCloud):
        self.cloud = cloud
        # Last-Modified per (bucket, key); objects written by tests directly get the start time.
        self.mtimes: dict[tuple[str, str], float] = {}
        self.started = time.time()
        # x-obs-meta-* headers per object.
        self.meta: dict[tuple[str, str], dict[str, str]] = {}
        # ETag per object with the bytes it was computed for: a test's direct write is re-hashed.
        self._etags: dict[tuple[str, str], tuple[bytes, str]] = {}
        # Buckets these keys may not touch (another account's, or a policy denying them).
        self.denied_buckets: set[str] = set()
        # Per bucket, the kinds of access ("list", "get", "put", "delete") a policy denies.
        self.denied_ops: dict[str, set[str]] = {}
        self.uploads: dict[str, Upload] = {}
        self.requests: list[ObsRequest] = []
        #: OBS's smallest part but the last (100 KB).
        self.min_part_size = 100 * 1024
        #: Part number -> statuses its next uploads are answered with (503, 500, ...).
        self.fail_parts: dict[int, list[int]] = {}
        #: Seconds each part upload is held before it is answered, so overlapping ones show.
        self.part_delay_s = 0.0
        self.parts_in_flight = 0
        self.max_parts_in_flight = 0

    # -- routing -----------------------------------------------------------------------------

    def _domain(self) -> str:
        return f"obs.{self.cloud.region}.myhuaweicloud.com"

    def route(self, path: str, host: str) -> tuple[str, str, str, str] | None:
        """(style, host, raw bucket, raw key) of an OBS request, None for other services."""
        if path.startswith("/obs/"):
            bucket, _, key = path[len("/obs/") :].partition("/")
            return "path", host, bucket, key
        if "://" in path:  # absolute form: the fake is the client's proxy
            url = urlsplit(path)
            host, path = url.netloc, url.path or "/"
        name = host.rpartition(":")[0] if ":" in host else host
        name = name.lower()
        domain = self._domain()
        if name == domain:
            bucket, _, key = path[1:].partition("/")
            return "path", host, bucket, key
        if name.endswith("." + domain):
            return "virtual", host, name[: -len(domain) - 1], path[1:]
        return None

    def owns(self, path: str) -> bool:
        """Whether a request line's target is OBS (its errors are then XML)."""
        return self.route(path, "") is not None

    async def handle(self, req: Req) -> Response:
        routed = self.route(req.path, req.headers.get("Host", ""))
        assert routed is not None, "dispatched a request that is not for OBS"
        style, host, bucket_raw, key_raw = routed
        bucket, key = unquote(bucket_raw), unquote(key_raw)
        call = ObsRequest(req.method, "", bucket, key, len(req.raw_body), style, host)
        self.requests.append(call)
        try:
            if not bucket:
                raise ObsError(400, "InvalidArgument")
            self._authenticate(req, bucket, key)
            if bucket in self.denied_buckets:
                raise ObsError(403, "AccessDenied")
            if _access(req.method, key, req.query) in self.denied_ops.get(bucket, ()):
                raise ObsError(403, "AccessDenied", bucket=bucket, key=key)
            if key:
                resp = await self._object(req, bucket, key, call)
            else:
                call.op = "list" if req.method == "GET" else req.method.lower() + "_bucket"
                resp = self._bucket(req, bucket)
        except ObsError as err:
            resp = error_response(err.status, err.code, bucket=err.bucket, key=err.key)
            resp.headers.update(err.headers)
            if req.method == "HEAD":
                resp.body = b""
        call.status = resp.status
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
                f"<ETag>{escape(self._etag(bucket, key, data))}</ETag><Size>{len(data)}</Size>"
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

    def _etag(self, bucket: str, key: str, data: bytes) -> str:
        cached = self._etags.get((bucket, key))
        if cached is not None and cached[0] is data:
            return cached[1]
        etag = _md5_etag(data)
        self._etags[(bucket, key)] = (data, etag)
        return etag

    def _store(self, bucket: str, key: str, data: bytes, etag: str, meta: dict[str, str]) -> None:
        self.cloud.buckets[bucket][key] = data
        self._etags[(bucket, key)] = (data, etag)
        self.meta[(bucket, key)] = dict(meta)
        self.mtimes[(bucket, key)] = time.time()

    async def _object(self, req: Req, bucket: str, key: str, call: ObsRequest) -> Response:
        if bucket not in self.cloud.buckets:
            raise ObsError(404, "NoSuchBucket", bucket=bucket)
        query = req.query
        method = req.method
        if method == "POST" and "uploads" in query:
            call.op = "initiate"
            return self._initiate(req, bucket, key)
        if "uploadId" in query and method in ("PUT", "POST", "DELETE"):
            upload = self.uploads.get(query["uploadId"])
            if upload is None or (upload.bucket, upload.key) != (bucket, key):
                raise ObsError(404, "NoSuchUpload", key=key)
            if method == "PUT":
                call.op = "upload_part"
                return await self._upload_part(req, upload)
            if method == "POST":
                call.op = "complete"
                return self._complete(req, query["uploadId"], upload)
            call.op = "abort"
            del self.uploads[query["uploadId"]]
            return Response(204)
        if method == "PUT" and req.headers.get("x-obs-copy-source") is not None:
            call.op = "copy"
            return self._copy(req, bucket, key)
        if method == "PUT":
            call.op = "put"
            data = req.raw_body
            self._check_md5(req, data)
            etag = _md5_etag(data)
            self._store(bucket, key, data, etag, _meta(req))
            return Response(200, b"", {"ETag": etag})
        if method == "DELETE":
            call.op = "delete"
            self.cloud.buckets[bucket].pop(key, None)
            for table in (self.mtimes, self.meta, self._etags):
                table.pop((bucket, key), None)
            return Response(204)
        if method not in ("GET", "HEAD"):
            raise ObsError(405, "MethodNotAllowed")
        call.op = method.lower()
        data = self.cloud.buckets[bucket].get(key)
        if data is None:
            raise ObsError(404, "NoSuchKey", key=key)
        headers = {
            "ETag": self._etag(bucket, key, data),
            "Last-Modified": _http_date(self._mtime(bucket, key)),
            "Content-Type": "application/octet-stream",
            "Accept-Ranges": "bytes",
            "x-obs-storage-class": "STANDARD",
            **self.meta.get((bucket, key), {}),
        }
        if method == "HEAD":
            headers["Content-Length"] = str(len(data))
            return Response(200, b"", headers)
        wanted = _byte_range(req.headers.get("Range"), len(data))
        if wanted is None:
            return Response(200, data, headers)
        start, end = wanted
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{len(data)}"
        return Response(206, data[start:end], headers)

    def _check_md5(self, req: Req, data: bytes) -> None:
        sent_md5 = req.headers.get("Content-MD5")
        if sent_md5 is None:
            return
        try:
            digest = base64.b64decode(sent_md5, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ObsError(400, "InvalidDigest") from exc
        if len(digest) != 16:
            raise ObsError(400, "InvalidDigest")
        if digest != hashlib.md5(data).digest():
            raise ObsError(400, "BadDigest")

    def _copy(self, req: Req, bucket: str, key: str) -> Response:
        if req.raw_body:
            raise ObsError(400, "InvalidArgument")
        source = unquote(req.headers["x-obs-copy-source"]).lstrip("/")
        source_bucket, _, source_key = source.partition("/")
        objects = self.cloud.buckets.get(source_bucket)
        if objects is None:
            raise ObsError(404, "NoSuchBucket", bucket=source_bucket)
        data = objects.get(source_key)
        if data is None:
            raise ObsError(404, "NoSuchKey", key=source_key)
        etag = self._etag(source_bucket, source_key, data)
        directive = (req.headers.get("x-obs-metadata-directive") or "COPY").upper()
        meta = _meta(req) if directive == "REPLACE" else self.meta.get((source_bucket, source_key))
        self._store(bucket, key, data, etag, meta or {})
        return _xml_response(
            "CopyObjectResult",
            f"<LastModified>{_iso(self._mtime(bucket, key))}</LastModified>"
            f"<ETag>{escape(etag)}</ETag>",
        )

    # -- multipart ---------------------------------------------------------------------------

    def _initiate(self, req: Req, bucket: str, key: str) -> Response:
        upload_id = uuid.uuid4().hex
        self.uploads[upload_id] = Upload(bucket, key, _meta(req))
        return _xml_response(
            "InitiateMultipartUploadResult",
            f"<Bucket>{escape(bucket)}</Bucket><Key>{escape(key)}</Key>"
            f"<UploadId>{upload_id}</UploadId>",
        )

    async def _upload_part(self, req: Req, upload: Upload) -> Response:
        try:
            number = int(req.query.get("partNumber", ""))
        except ValueError as exc:
            raise ObsError(400, "InvalidArgument") from exc
        if not 1 <= number <= MAX_PART_NUMBER:
            raise ObsError(400, "InvalidArgument")
        self.parts_in_flight += 1
        self.max_parts_in_flight = max(self.max_parts_in_flight, self.parts_in_flight)
        try:
            if self.part_delay_s:
                await asyncio.sleep(self.part_delay_s)
        finally:
            self.parts_in_flight -= 1
        failures = self.fail_parts.get(number)
        if failures:
            status = failures.pop(0)
            raise ObsError(status, "ServiceUnavailable" if status == 503 else "InternalError")
        data = req.raw_body
        self._check_md5(req, data)
        etag = _md5_etag(data)
        upload.parts[number] = (etag, data)
        return Response(200, b"", {"ETag": etag})

    def _complete(self, req: Req, upload_id: str, upload: Upload) -> Response:
        try:
            root = ET.fromstring(req.raw_body)
        except ET.ParseError as exc:
            raise ObsError(400, "MalformedXML") from exc
        if root.tag.rpartition("}")[2] != "CompleteMultipartUpload":
            raise ObsError(400, "MalformedXML")
        listed: list[tuple[int, str]] = []
        for part in root:
            fields = {child.tag.rpartition("}")[2]: (child.text or "") for child in part}
            try:
                listed.append((int(fields["PartNumber"]), fields["ETag"].strip('"')))
            except (KeyError, ValueError) as exc:
                raise ObsError(400, "MalformedXML") from exc
        if not listed:
            raise ObsError(400, "MalformedXML")
        numbers = [number for number, _ in listed]
        if numbers != sorted(set(numbers)):
            raise ObsError(400, "InvalidPartOrder")
        chosen = []
        for index, (number, etag) in enumerate(listed):
            stored = upload.parts.get(number)
            if stored is None or stored[0].strip('"') != etag.lower():
                raise ObsError(400, "InvalidPart")
            if index < len(listed) - 1 and len(stored[1]) < self.min_part_size:
                raise ObsError(400, "EntityTooSmall")
            chosen.append(stored[1])
        digests = b"".join(hashlib.md5(data).digest() for data in chosen)
        etag = f'"{hashlib.md5(digests).hexdigest()}-{len(chosen)}"'
        # Parts uploaded but not listed are dropped, as in OBS.
        del self.uploads[upload_id]
        self._store(upload.bucket, upload.key, b"".join(chosen), etag, upload.meta)
        return _xml_response(
            "CompleteMultipartUploadResult",
            f"<Location>/{escape(upload.bucket)}/{escape(upload.key)}</Location>"
            f"<Bucket>{escape(upload.bucket)}</Bucket><Key>{escape(upload.key)}</Key>"
            f"<ETag>{escape(etag)}</ETag>",
        )


def _access(method: str, key: str, query: dict[str, str]) -> str:
    """The kind of access a request needs, as a bucket policy grants it: ListBucket (list),
    GetObject (get), PutObject (put, multipart parts too) or DeleteObject (delete)."""
    if not key:
        return "list" if method in ("GET", "HEAD") else "bucket"
    if method in ("GET", "HEAD"):
        return "get"
    if method == "DELETE" and "uploadId" not in query:
        return "delete"
    return "put"


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """[start, end) of a single `Range: bytes=` header, None to send everything."""
    m = _RANGE.match((header or "").strip())
    if not m or m.group(1) == m.group(2) == "":
        return None  # absent or not understood: the whole object, as HTTP says
    first, last = m.group(1), m.group(2)
    if first and last and int(last) < int(first):
        return None  # not a valid range: ignored
    if first:
        start, end = int(first), size if not last else min(size, int(last) + 1)
    else:  # the last N bytes
        start, end = max(0, size - int(last)), size if int(last) else 0
    if start >= end:
        raise ObsError(416, "InvalidRange", headers={"Content-Range": f"bytes */{size}"})
    return start, end
