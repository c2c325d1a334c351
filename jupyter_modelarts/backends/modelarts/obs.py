"""A small async OBS client (native V2 `OBS` signature over httpx) and a changed-files uploader."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import logging
import os
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from email.utils import formatdate
from typing import TYPE_CHECKING
from urllib.parse import quote

import httpx

from ...models import (
    BackendUnavailable,
    InvalidRequest,
    NotFound,
    ObsUri,
    PermissionDenied,
    UpstreamError,
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


def _is_local(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class ObsClient:
    """PUT and list objects. Keys come from ``keys()`` on every attempt, so rotated temporary
    credentials are picked up; the secret never leaves the signer."""

    def __init__(
        self,
        endpoint: str,
        keys: Callable[[], Awaitable[Credentials]],
        *,
        client: httpx.AsyncClient | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
    ):
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
        params: list[tuple[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        params = params or []
        query = "&".join(f"{k}={quote(v, safe='')}" for k, v in params)
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
            try:
                response = await self._client.request(
                    method, url, headers=signed, content=content, timeout=self._timeout
                )
            except httpx.TransportError as exc:
                # Timeouts and connection failures: every request we send is idempotent.
                if attempt < self.retry.max_retries:
                    attempt = await self._pause(attempt, what, type(exc).__name__)
                    continue
                raise BackendUnavailable(
                    f"OBS is unreachable for {what}: {type(exc).__name__} "
                    f"after {attempt + 1} attempts"
                ) from exc
            if response.status_code < 300:
                return response
            status = response.status_code
            if status in RETRY_STATUSES and attempt < self.retry.max_retries:
                attempt = await self._pause(attempt, what, f"HTTP {status}", response)
                continue
            raise self._error(response, what)

    async def _pause(
        self, attempt: int, what: str, reason: str, response: httpx.Response | None = None
    ) -> int:
        log.warning("OBS %s failed (%s); retry %d", what, reason, attempt + 1)
        await self.retry.pause(attempt, response)
        return attempt + 1

    @staticmethod
    def _error(response: httpx.Response, what: str) -> Exception:
        code, message, request_id = _parse_error(response)
        text = f"{what}: {message} (OBS {code}, request id {request_id or 'unknown'})"
        status = response.status_code
        if status == 403:
            return PermissionDenied(text, code=f"OBS.{code}", request_id=request_id or None)
        if status == 404:
            return NotFound(text, code=f"OBS.{code}", request_id=request_id or None)
        return UpstreamError(text, code=f"OBS.{code}", request_id=request_id or None)

    async def list_objects(self, bucket: str, prefix: str) -> dict[str, str]:
        """Every key under ``prefix`` with its ETag (unquoted, lower-case), all pages."""
        objects: dict[str, str] = {}
        marker = ""
        while True:
            params = [("prefix", prefix), ("max-keys", "1000")]
            if marker:
                params.append(("marker", marker))
            response = await self._request("GET", bucket, params=params)
            try:
                root = ET.fromstring(response.content)
            except ET.ParseError as exc:
                raise UpstreamError(f"OBS answered GET obs://{bucket}/ with bad XML") from exc
            last = ""
            for element in root:
                if _local_name(element.tag) == "Contents":
                    last = _child_text(element, "Key") or ""
                    etag = _child_text(element, "ETag") or ""
                    objects[last] = etag.strip('"').lower()
            if (_child_text(root, "IsTruncated") or "").lower() != "true":
                return objects
            # NextMarker is only promised with a delimiter; the last key serves otherwise.
            next_marker = _child_text(root, "NextMarker") or last
            if not next_marker or next_marker == marker:
                raise UpstreamError(f"OBS listing of obs://{bucket}/{prefix} does not advance")
            marker = next_marker

    async def put_object(
        self,
        bucket: str,
        key: str,
        data: bytes,
        *,
        content_type: str = "application/octet-stream",
    ) -> str:
        """Upload one object; returns its ETag after checking that OBS stored these bytes."""
        md5 = hashlib.md5(data)
        headers = {
            "Content-MD5": base64.b64encode(md5.digest()).decode(),
            "Content-Type": content_type,
        }
        response = await self._request("PUT", bucket, key, headers=headers, content=data)
        etag = response.headers.get("etag", "").strip('"').lower()
        if etag != md5.hexdigest():
            raise UpstreamError(
                f"PUT obs://{bucket}/{key}: OBS returned ETag {etag!r}, expected "
                f"{md5.hexdigest()!r} (request id {response.headers.get('x-obs-request-id', '')})"
            )
        return etag

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()


@dataclass
class UploadResult:
    uploaded: int
    skipped: int
    bytes_uploaded: int


def _read(path: str) -> tuple[bytes, str]:
    with open(path, "rb") as f:
        data = f.read()
    return data, hashlib.md5(data).hexdigest()


async def upload_dir(
    obs: ObsClient,
    local_dir: str,
    files: list[str],
    dest: ObsUri,
    *,
    sources: Mapping[str, str] | None = None,
    progress: Callable[[int, int, int, int], None] | None = None,
    concurrency: int = 4,
) -> UploadResult:
    """Upload ``local_dir/<rel>`` to ``dest.key + rel`` for each rel, skipping unchanged files;
    ``sources`` names another file of ``local_dir`` to read for a rel (a symlink's target)."""
    sources = sources or {}
    for rel in files:
        parts = rel.split("/")
        if rel.startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise InvalidRequest(f"{rel!r} is not a relative path inside {local_dir}")
    sizes = await asyncio.to_thread(
        lambda: [
            os.path.getsize(os.path.join(local_dir, *sources.get(rel, rel).split("/")))
            for rel in files
        ]
    )
    total_bytes = sum(sizes)
    remote = await obs.list_objects(dest.bucket, dest.key)
    done = skipped = uploaded = bytes_done = bytes_uploaded = 0
    if progress:
        progress(0, len(files), 0, total_bytes)
    semaphore = asyncio.Semaphore(concurrency)

    async def one(rel: str, size: int) -> None:
        nonlocal done, skipped, uploaded, bytes_done, bytes_uploaded
        key = dest.key + rel
        async with semaphore:
            source = os.path.join(local_dir, *sources.get(rel, rel).split("/"))
            data, md5 = await asyncio.to_thread(_read, source)
            if remote.get(key) == md5:
                skipped += 1
            else:
                await obs.put_object(dest.bucket, key, data)
                uploaded += 1
                bytes_uploaded += len(data)
        done += 1
        bytes_done += size
        if progress:
            progress(done, len(files), bytes_done, total_bytes)

    tasks = [asyncio.ensure_future(one(rel, size)) for rel, size in zip(files, sizes)]
    try:
        await asyncio.gather(*tasks)
    finally:
        # The first failure (or our cancellation) stops the other uploads before it propagates.
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return UploadResult(uploaded=uploaded, skipped=skipped, bytes_uploaded=bytes_uploaded)
