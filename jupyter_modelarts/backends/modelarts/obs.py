"""A small async OBS client: the native V2 `OBS` signature over httpx, objects listed, read,
written (in parallel parts for big files), copied and deleted. What is read from local files,
and the changed-files uploader, is in :mod:`.obs_files`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import logging
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import formatdate
from typing import TYPE_CHECKING
from urllib.parse import quote

import httpx

from ...models import (
    BackendUnavailable,
    NotFound,
    PermissionDenied,
    UpstreamError,
)
from ..snapshot import in_pool
from .obs_files import (
    HASH_POOL,
    MAX_PARTS,
    MIN_PART_SIZE,
    Body,
    FileDigest,
    MiB,
    all_or_none,
    changed_while_read,
    digest_file,
    file_body,
)
from .retry import RETRY_STATUSES, RetryPolicy

if TYPE_CHECKING:
    from .auth import Credentials

log = logging.getLogger(__name__)

# Query parameters that OBS signs as sub-resources (a subset of esdk-obs-python's list);
# ordinary parameters such as prefix/marker/max-keys are not signed.
SUB_RESOURCES = frozenset(
    {
        "acl",
        "append",
        "cors",
        "delete",
        "lifecycle",
        "location",
        "metadata",
        "partnumber",
        "policy",
        "position",
        "restore",
        "storageclass",
        "tagging",
        "uploadid",
        "uploads",
        "versionid",
        "versioning",
        "versions",
        "response-cache-control",
        "response-content-disposition",
        "response-content-encoding",
        "response-content-language",
        "response-content-type",
        "response-expires",
    }
)


def encode_key(key: str) -> str:
    """An object key as it appears in the URL path and in the signed resource."""
    return quote(key, safe="/~")


def canonical_resource(
    bucket: str, key: str, query: Iterable[tuple[str, str | None]] = (), *, path_style: bool
) -> str:
    """``/bucket/key`` plus sorted sub-resources; a bare bucket is ``/bucket/`` only when
    virtual-hosted (esdk-obs-python signs ``/bucket`` in path style)."""
    resource = f"/{bucket}/{encode_key(key)}" if key or not path_style else f"/{bucket}"
    subs = sorted(
        (k, v) for k, v in query if k.lower() in SUB_RESOURCES or k.lower().startswith("x-obs-")
    )
    if subs:
        resource += "?" + "&".join(k if v is None else f"{k}={v}" for k, v in subs)
    return resource


def string_to_sign(method: str, resource: str, headers: Mapping[str, str]) -> str:
    lower = {k.lower(): v for k, v in headers.items()}
    # x-obs-date, when sent, replaces Date, which is then signed as empty.
    date = "" if "x-obs-date" in lower else lower.get("date", "")
    lines = [method, lower.get("content-md5", ""), lower.get("content-type", ""), date]
    obs_headers = "".join(
        f"{k}:{v.strip() if k.startswith('x-obs-meta-') else v}\n"
        for k, v in sorted(lower.items())
        if k.startswith("x-obs-")
    )
    return "\n".join(lines) + "\n" + obs_headers + resource


def authorization(ak: str, sk: str, to_sign: str) -> str:
    digest = hmac.new(sk.encode(), to_sign.encode(), hashlib.sha1).digest()
    return f"OBS {ak}:{base64.b64encode(digest).decode()}"


def _local_name(tag: str) -> str:
    return tag.rpartition("}")[2]


def _child_text(element: ET.Element, name: str) -> str | None:
    for child in element:
        if _local_name(child.tag) == name:
            return child.text or ""
    return None


def _parse_error(response: httpx.Response) -> tuple[str, str, str]:
    """(code, message, request id) of an OBS error; the body may be empty (HEAD) or not XML."""
    code, message = "", ""
    request_id = response.headers.get("x-obs-request-id", "")
    try:
        root = ET.fromstring(response.content) if response.content else None
    except ET.ParseError:
        root = None
    if root is not None:
        code = _child_text(root, "Code") or ""
        message = _child_text(root, "Message") or ""
        request_id = _child_text(root, "RequestId") or request_id
    code = code or response.headers.get("x-obs-error-code", "") or f"HTTP{response.status_code}"
    return code, message or response.reason_phrase, request_id


def obs_action(method: str, key: str, params: list[tuple[str, str | None]]) -> str:
    """The OBS action a request needs: listing a bucket, or reading, writing or deleting an
    object (multipart parts and copies write)."""
    if not key:
        return "obs:bucket:ListBucket"
    if method in ("GET", "HEAD"):
        return "obs:object:GetObject"
    if method == "DELETE" and "uploadId" not in dict(params):
        return "obs:object:DeleteObject"
    return "obs:object:PutObject"


def _is_local(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _parse_time(text: str) -> float:
    """An ISO 8601 UTC time as OBS lists it (``2025-01-01T00:00:00.000Z``), 0 if unreadable."""
    for layout in ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return datetime.strptime(text, layout).replace(tzinfo=timezone.utc).timestamp()
        except ValueError:
            continue
    return 0.0


def _xml(response: httpx.Response, what: str) -> ET.Element:
    """The XML answer of a successful request; OBS may answer 200 with an Error document."""
    try:
        root = ET.fromstring(response.content)
    except ET.ParseError as exc:
        raise UpstreamError(f"OBS answered {what} with bad XML") from exc
    if _local_name(root.tag) == "Error":
        code = _child_text(root, "Code") or "Error"
        request_id = _child_text(root, "RequestId") or None
        raise UpstreamError(
            f"{what}: {_child_text(root, 'Message') or code} (OBS {code}, request id "
            f"{request_id or 'unknown'})",
            code=f"OBS.{code}",
            request_id=request_id,
        )
    return root


def _etag(value: str | None) -> str:
    return (value or "").strip('"').lower()


def _stored(response: httpx.Response, md5: bytes, what: str) -> str:
    """The ETag of a PUT, checked to be the MD5 of the bytes meant: OBS stored what we sent."""
    etag = _etag(response.headers.get("etag"))
    if etag != md5.hex():
        raise UpstreamError(
            f"{what}: OBS returned ETag {etag!r}, expected {md5.hex()!r} "
            f"(request id {response.headers.get('x-obs-request-id', '')})"
        )
    return etag


@dataclass
class ObjectInfo:
    key: str
    etag: str  # unquoted, lower-case; an MD5 only for objects not uploaded in parts
    size: int
    modified: float  # POSIX seconds


class ObsClient:
    """Objects up, down, listed, copied and deleted, and files uploaded in parallel parts above
    ``multipart_threshold``. Keys come from ``keys()`` on every attempt, so rotated temporary
    credentials are picked up; the secret never leaves the signer."""

    def __init__(
        self,
        endpoint: str,
        keys: Callable[[], Awaitable[Credentials]],
        *,
        client: httpx.AsyncClient | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        part_size: int = 8 * MiB,
        multipart_threshold: int = 32 * MiB,
        part_concurrency: int = 4,
    ):
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size must be at least {MIN_PART_SIZE} bytes")
        url = httpx.URL(endpoint if "://" in endpoint else f"https://{endpoint}")
        self._scheme = url.scheme
        self._netloc = url.netloc.decode()
        # A path on a path-style endpoint (a proxy or a test fake) routes only: it is not signed.
        self._prefix = url.path.rstrip("/")
        self.path_style = _is_local(url.host)
        self._keys = keys
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient()
        self._timeout = timeout
        self.retry = retry or RetryPolicy()
        self.part_size = part_size
        self.multipart_threshold = multipart_threshold
        self.part_concurrency = part_concurrency

    def __repr__(self) -> str:
        return f"ObsClient({self._scheme}://{self._netloc})"

    def _url(self, bucket: str, key: str, query: str) -> str:
        path = f"/{encode_key(key)}"
        if self.path_style:
            base = f"{self._scheme}://{self._netloc}{self._prefix}/{bucket}"
            path = path if key else ""
        else:
            base = f"{self._scheme}://{bucket}.{self._netloc}"
        return base + path + (f"?{query}" if query else "")

    async def _request(
        self,
        method: str,
        bucket: str,
        key: str = "",
        *,
        params: list[tuple[str, str | None]] | None = None,
        headers: dict[str, str] | None = None,
        content: Body = None,
        accept: tuple[int, ...] = (),
    ) -> httpx.Response:
        """Send with retries; statuses in ``accept`` are answers, not errors."""
        params = params or []
        query = "&".join(k if v is None else f"{k}={quote(v, safe='')}" for k, v in params)
        url = self._url(bucket, key, query)
        resource = canonical_resource(bucket, key, params, path_style=self.path_style)
        what = f"{method} obs://{bucket}/{key}"
        attempt = 0
        while True:
            creds = await self._keys()
            signed = {**(headers or {}), "Date": formatdate(usegmt=True)}
            if creds.security_token:
                signed["x-obs-security-token"] = creds.security_token
            signed["Authorization"] = authorization(
                creds.ak, creds.sk, string_to_sign(method, resource, signed)
            )
            # A stream is made afresh per attempt: a retry re-reads the file from its offset.
            body = content() if callable(content) else content
            try:
                response = await self._client.request(
                    method, url, headers=signed, content=body, timeout=self._timeout
                )
            except httpx.TransportError as exc:
                # Timeouts and connection failures: every request we send is idempotent (an
                # initiate sent twice leaves an empty upload behind, which costs nothing).
                if attempt < self.retry.max_retries:
                    attempt = await self._pause(attempt, what, type(exc).__name__)
                    continue
                raise BackendUnavailable(
                    f"OBS is unreachable for {what}: {type(exc).__name__} "
                    f"after {attempt + 1} attempts"
                ) from exc
            status = response.status_code
            if status < 300 or status in accept:
                return response
            if status in RETRY_STATUSES and attempt < self.retry.max_retries:
                attempt = await self._pause(attempt, what, f"HTTP {status}", response)
                continue
            raise self._error(response, what, obs_action(method, key, params))

    async def _pause(
        self, attempt: int, what: str, reason: str, response: httpx.Response | None = None
    ) -> int:
        log.warning("OBS %s failed (%s); retry %d", what, reason, attempt + 1)
        await self.retry.pause(attempt, response)
        return attempt + 1

    @staticmethod
    def _error(response: httpx.Response, what: str, action: str) -> Exception:
        code, message, request_id = _parse_error(response)
        text = f"{what}: {message} (OBS {code}, request id {request_id or 'unknown'})"
        status = response.status_code
        if status == 403:
            return PermissionDenied(
                f"{text}; the credentials need the OBS action {action} on this bucket (a "
                "bucket policy, or an IAM policy with OBS rights: ask the administrator)",
                iam_action=action,
                code=f"OBS.{code}",
                request_id=request_id or None,
            )
        if status == 404:
            return NotFound(text, code=f"OBS.{code}", request_id=request_id or None)
        return UpstreamError(text, code=f"OBS.{code}", request_id=request_id or None)

    # -- listing and reading --------------------------------------------------------------

    async def list_entries(self, bucket: str, prefix: str) -> list[ObjectInfo]:
        """Every object under ``prefix``, all pages."""
        entries: list[ObjectInfo] = []
        marker = ""
        while True:
            params: list[tuple[str, str | None]] = [("prefix", prefix), ("max-keys", "1000")]
            if marker:
                params.append(("marker", marker))
            response = await self._request("GET", bucket, params=params)
            root = _xml(response, f"GET obs://{bucket}/")
            last = ""
            for element in root:
                if _local_name(element.tag) == "Contents":
                    last = _child_text(element, "Key") or ""
                    entries.append(
                        ObjectInfo(
                            key=last,
                            etag=_etag(_child_text(element, "ETag")),
                            size=int(_child_text(element, "Size") or 0),
                            modified=_parse_time(_child_text(element, "LastModified") or ""),
                        )
                    )
            if (_child_text(root, "IsTruncated") or "").lower() != "true":
                return entries
            # NextMarker is only promised with a delimiter; the last key serves otherwise.
            next_marker = _child_text(root, "NextMarker") or last
            if not next_marker or next_marker == marker:
                raise UpstreamError(f"OBS listing of obs://{bucket}/{prefix} does not advance")
            marker = next_marker

    async def list_objects(self, bucket: str, prefix: str) -> dict[str, str]:
        """Every key under ``prefix`` with its ETag (unquoted, lower-case), all pages."""
        return {e.key: e.etag for e in await self.list_entries(bucket, prefix)}

    async def bucket_exists(self, bucket: str) -> bool:
        """False only when OBS says there is no such bucket (a refused HEAD raises)."""
        try:
            await self._request("HEAD", bucket)
        except NotFound:
            return False
        return True

    async def head_object(self, bucket: str, key: str) -> int | None:
        """The object's size, None when there is no such object."""
        response = await self._head(bucket, key)
        return None if response is None else int(response.headers.get("content-length", 0))

    async def _head(self, bucket: str, key: str) -> httpx.Response | None:
        try:
            return await self._request("HEAD", bucket, key)
        except NotFound:
            return None

    async def get_object(self, bucket: str, key: str) -> bytes:
        """A whole (small) object."""
        return (await self._request("GET", bucket, key)).content

    async def get_range(self, bucket: str, key: str, start: int, end: int) -> bytes:
        """Bytes ``[start, end)`` of an object, fewer where it ends sooner; b"" past its end."""
        if end <= start:
            return b""
        response = await self._request(
            "GET", bucket, key, headers={"Range": f"bytes={start}-{end - 1}"}, accept=(416,)
        )
        if response.status_code == 416:
            return b""
        if response.status_code == 200:  # the range was ignored: the whole object came
            return response.content[start:end]
        return response.content

    # -- writing -------------------------------------------------------------------------

    async def put_object(
        self,
        bucket: str,
        key: str,
        data: bytes,
        *,
        content_type: str = "application/octet-stream",
    ) -> str:
        """Upload one (small) object; returns its ETag after checking that OBS stored these
        bytes."""
        md5 = hashlib.md5(data).digest()
        return await self._put(bucket, key, data, len(data), md5, content_type)

    async def _put(
        self, bucket: str, key: str, body: Body, size: int, md5: bytes, content_type: str
    ) -> str:
        headers = {
            "Content-MD5": base64.b64encode(md5).decode(),
            "Content-Type": content_type,
            "Content-Length": str(size),
            # Listings show multipart ETags, which are not MD5s; the metadata always is one.
            "x-obs-meta-md5": md5.hex(),
        }
        response = await self._request("PUT", bucket, key, headers=headers, content=body)
        return _stored(response, md5, f"PUT obs://{bucket}/{key}")

    def part_size_for(self, size: int) -> int | None:
        """Bytes per part for a file of ``size`` bytes; None: one PUT."""
        if size <= self.multipart_threshold:
            return None
        least = -(-size // MAX_PARTS)
        return max(self.part_size, -(-least // MiB) * MiB)

    async def upload_file(
        self,
        bucket: str,
        key: str,
        path: str,
        *,
        digest: FileDigest | None = None,
        content_type: str = "application/octet-stream",
        progress: Callable[[int], None] | None = None,
    ) -> str:
        """Upload a file streamed from disk, in parallel parts above the threshold; returns
        the ETag. ``digest`` is the file's :func:`digest_file` when the caller has it;
        ``progress(n)`` hears of every ``n`` more bytes sent (a retried part is not counted
        twice)."""
        if digest is None:
            digest = await in_pool(HASH_POOL, digest_file, path, self.part_size_for)
        try:
            if digest.part_size is None:
                body = digest.data
                if body is None:
                    body = file_body(path, 0, digest.size, progress)
                elif progress:
                    progress(digest.size)
                return await self._put(bucket, key, body, digest.size, digest.md5, content_type)
            return await self._multipart(bucket, key, path, digest, content_type, progress)
        except UpstreamError as err:
            if err.code == "OBS.BadDigest":  # the bytes read differ from the ones hashed
                raise changed_while_read(path) from err
            raise

    async def _multipart(
        self,
        bucket: str,
        key: str,
        path: str,
        digest: FileDigest,
        content_type: str,
        progress: Callable[[int], None] | None,
    ) -> str:
        headers = {"Content-Type": content_type, "x-obs-meta-md5": digest.hex}
        response = await self._request(
            "POST", bucket, key, params=[("uploads", None)], headers=headers
        )
        upload_id = _child_text(_xml(response, f"POST obs://{bucket}/{key}?uploads"), "UploadId")
        if not upload_id:
            raise UpstreamError(f"OBS started no multipart upload of obs://{bucket}/{key}")
        try:
            etags = await self._parts(bucket, key, path, upload_id, digest, progress)
            return await self._complete(bucket, key, upload_id, etags, digest)
        except BaseException:
            # Parts of an unfinished upload are billed until aborted.
            await self._abort(bucket, key, upload_id)
            raise

    async def _parts(
        self,
        bucket: str,
        key: str,
        path: str,
        upload_id: str,
        digest: FileDigest,
        progress: Callable[[int], None] | None,
    ) -> list[str]:
        assert digest.part_size is not None
        etags = [""] * len(digest.parts)
        pending = iter(range(len(digest.parts)))

        async def worker() -> None:
            for index in pending:
                etags[index] = await self._upload_part(
                    bucket, key, path, upload_id, index, digest, progress
                )

        # The first failure stops the other parts before the upload is aborted.
        await all_or_none([worker() for _ in range(min(self.part_concurrency, len(digest.parts)))])
        return etags

    async def _upload_part(
        self,
        bucket: str,
        key: str,
        path: str,
        upload_id: str,
        index: int,
        digest: FileDigest,
        progress: Callable[[int], None] | None,
    ) -> str:
        assert digest.part_size is not None
        offset = index * digest.part_size
        length = min(digest.part_size, digest.size - offset)
        md5 = digest.parts[index]
        counted = 0  # bytes of this part already reported: a retry re-sends, it is not progress
        attempt_sent = 0

        def sent(n: int) -> None:
            nonlocal counted, attempt_sent
            attempt_sent += n
            if progress and attempt_sent > counted:
                progress(attempt_sent - counted)
                counted = attempt_sent

        chunks = file_body(path, offset, length, sent)

        def body() -> AsyncIterator[bytes]:
            nonlocal attempt_sent
            attempt_sent = 0
            return chunks()

        response = await self._request(
            "PUT",
            bucket,
            key,
            params=[("partNumber", str(index + 1)), ("uploadId", upload_id)],
            headers={
                "Content-MD5": base64.b64encode(md5).decode(),
                "Content-Length": str(length),
            },
            content=body,
        )
        return _stored(response, md5, f"PUT obs://{bucket}/{key} part {index + 1}")

    async def _complete(
        self, bucket: str, key: str, upload_id: str, etags: list[str], digest: FileDigest
    ) -> str:
        root = ET.Element("CompleteMultipartUpload")
        for number, etag in enumerate(etags, 1):
            part = ET.SubElement(root, "Part")
            ET.SubElement(part, "PartNumber").text = str(number)
            ET.SubElement(part, "ETag").text = f'"{etag}"'
        what = f"POST obs://{bucket}/{key}?uploadId"
        try:
            response = await self._request(
                "POST",
                bucket,
                key,
                params=[("uploadId", upload_id)],
                headers={"Content-Type": "application/xml"},
                content=ET.tostring(root, encoding="utf-8"),
            )
        except NotFound as err:
            # A retry after a lost answer finds the upload gone: the object says if it was ours.
            head = await self._head(bucket, key) if err.code == "OBS.NoSuchUpload" else None
            if (
                head is not None
                and head.headers.get("x-obs-meta-md5") == digest.hex
                and int(head.headers.get("content-length", -1)) == digest.size
            ):
                return _etag(head.headers.get("etag"))
            raise
        return _etag(_child_text(_xml(response, what), "ETag"))

    async def _abort(self, bucket: str, key: str, upload_id: str) -> None:
        try:
            await self._request("DELETE", bucket, key, params=[("uploadId", upload_id)])
        except Exception as err:  # the failure that led here is the one to report
            log.warning("could not abort the upload of obs://%s/%s: %s", bucket, key, err)

    async def copy_object(self, source_bucket: str, source_key: str, bucket: str, key: str) -> str:
        """Server-side copy, metadata included; returns the new object's ETag."""
        source = quote(f"/{source_bucket}/{source_key}", safe="/")
        response = await self._request("PUT", bucket, key, headers={"x-obs-copy-source": source})
        root = _xml(response, f"PUT obs://{bucket}/{key} (copy)")
        return _etag(_child_text(root, "ETag"))

    async def delete_object(self, bucket: str, key: str) -> None:
        """Remove an object; one already gone is no error."""
        try:
            await self._request("DELETE", bucket, key)
        except NotFound:
            pass

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()
