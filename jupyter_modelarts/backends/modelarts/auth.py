"""Huawei Cloud credentials (env, file, IAM password, metadata) and SDK-HMAC-SHA256 signing."""

from __future__ import annotations

import asyncio
import configparser
import datetime
import functools
import hashlib
import hmac
import logging
import math
import os
import re
import time
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

import httpx

from ...i18n import N_
from ...models import BackendUnavailable, ModelArtsError, PermissionDenied

_ALGORITHM = "SDK-HMAC-SHA256"
_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
_EMPTY_HASH = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
# Connection-scoped headers: HTTP/2 and proxies drop or rewrite them, so signing them would break
# the signature in transit. The SDK never has them in its header set (requests adds them later).
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# 401 error codes that mean "these credentials went stale": worth one retry with fresh ones.
_RETRY_CODES = frozenset({"ModelArts.0202", "ModelArts.0203", "APIGW.0301", "APIGW.0303"})
_TOKEN_MARGIN_S = 300.0
_METADATA_MARGIN_S = 600.0
_KEYS_DURATION_S = 3600
_METADATA_TOKEN_TTL_S = 21600
_HOWTO = (
    "Configure one of: HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK (optionally "
    "HUAWEICLOUD_SDK_PROJECT_ID) in the server's environment; ak and sk under [basic] in "
    "~/.huaweicloud/credentials (or the file named by HUAWEICLOUD_SDK_CREDENTIALS_FILE); "
    "an IAM user name and password; or, inside ModelArts, the metadata service with an agency."
)


class _RedactTokenHeaders(logging.Filter):
    """Masks token headers in httpcore's DEBUG lines, which quote raw response headers."""

    _pattern = re.compile(r"(b'x-(?:subject|auth|security)-token', b')[^']*", re.IGNORECASE)

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and "-token" in record.msg.lower():
            record.msg = self._pattern.sub(r"\1***", record.msg)
        return True


# IAM returns the password token in the X-Subject-Token response header.
_REDACT = _RedactTokenHeaders()
for _name in ("httpcore.http11", "httpcore.http2"):
    logging.getLogger(_name).addFilter(_REDACT)


def _utc_epoch(text: Any) -> float:
    """Epoch seconds of an ISO 8601 time as IAM and the metadata service write it."""
    if not isinstance(text, str):
        raise ValueError("missing expiry")
    # Python < 3.11's fromisoformat does not take the "Z" that both write.
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    moment = datetime.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()


@dataclass(frozen=True, repr=False)
class Credentials:
    """An AK/SK pair, temporary when it carries a security token."""

    ak: str
    sk: str
    security_token: str | None = None
    expires_at: float | None = None
    source: str = ""

    def __repr__(self) -> str:
        return f"Credentials(source={self.source!r}, ak={self.ak[:4] + '…'!r})"


@dataclass(frozen=True, repr=False)
class IamToken:
    """A project-scoped IAM token, sent as X-Auth-Token."""

    token: str
    expires_at: float
    project_id: str | None = None
    source: str = "IAM password"

    def __repr__(self) -> str:
        return (
            f"IamToken(source={self.source!r}, project_id={self.project_id!r}, "
            f"expires_at={self.expires_at!r})"
        )


def _encode(text: str) -> str:
    return quote(text, safe="~")


def sign_request(
    request: httpx.Request,
    creds: Credentials,
    *,
    project_id: str | None = None,
    now: datetime.datetime | None = None,
) -> None:
    """Sign ``request`` in place the way huaweicloudsdkcore's BasicCredentials + Signer do."""
    headers = request.headers
    if project_id:
        headers["X-Project-Id"] = project_id
    if creds.security_token is not None:
        headers["X-Security-Token"] = creds.security_token

    # The SDK sends the canonical query string itself, so the server verifies what was signed.
    pairs = sorted(parse_qsl(request.url.query.decode("ascii"), keep_blank_values=True))
    query = "&".join(f"{_encode(k)}={_encode(v)}" for k, v in pairs)
    if query.encode("ascii") != request.url.query:
        request.url = request.url.copy_with(query=query.encode("ascii") or None)

    if "Authorization" in headers:
        return

    content_type = headers.get("Content-Type")
    if content_type and not content_type.startswith(("application/json", "application/bson")):
        headers["X-Sdk-Content-Sha256"] = "UNSIGNED-PAYLOAD"
    date = headers.get("X-Sdk-Date")
    if date is None:
        moment = now or datetime.datetime.now(datetime.timezone.utc)
        if moment.tzinfo is not None:
            moment = moment.astimezone(datetime.timezone.utc)
        date = moment.strftime(_DATE_FORMAT)
        headers["X-Sdk-Date"] = date
    if "Host" not in headers:
        headers["Host"] = request.url.netloc.decode("ascii")
    # The SDK sends every header value trimmed, as it signs them.
    for name in list(headers):
        value = headers[name]
        if value != value.strip():
            headers[name] = value.strip()

    signed = sorted(name for name in headers if "_" not in name and name not in _HOP_BY_HOP)
    canonical_headers = "".join(f"{name}:{headers[name]}\n" for name in signed)
    body = request.content
    if not body:
        payload_hash = _EMPTY_HASH
    else:
        payload_hash = headers.get("X-Sdk-Content-Sha256") or hashlib.sha256(body).hexdigest()
    path = request.url.raw_path.split(b"?", 1)[0].decode("ascii")
    canonical_uri = "/".join(_encode(part) for part in unquote(path).split("/"))
    if not canonical_uri.endswith("/"):
        canonical_uri += "/"
    canonical_request = "\n".join(
        [
            request.method.upper(),
            canonical_uri,
            query,
            canonical_headers,
            ";".join(signed),
            payload_hash,
        ]
    )
    string_to_sign = "\n".join(
        [_ALGORITHM, date, hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()]
    )
    signature = hmac.new(
        creds.sk.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha256
    ).hexdigest()
    headers["Authorization"] = (
        f"{_ALGORITHM} Access={creds.ak}, SignedHeaders={';'.join(signed)}, Signature={signature}"
    )


class CredentialChain:
    """Finds credentials the way the Huawei SDK does, caches them and refreshes them in time."""

    def __init__(
        self,
        *,
        env: Mapping[str, str],
        credentials_file: str | None,
        iam_endpoint: str,
        region: str,
        iam_user: str | None = None,
        iam_password: str | None = None,
        iam_domain: str | None = None,
        metadata_endpoint: str | None = None,
        timeout: float = 10.0,
        log: logging.Logger | None = None,
    ):
        self._env = dict(env)
        self._credentials_file = credentials_file
        self._iam = iam_endpoint.rstrip("/")
        self._region = region
        self._iam_user = iam_user
        self._iam_password = iam_password
        # An account (not an IAM user) logs in with its own name as the domain.
        self._iam_domain = iam_domain or iam_user
        self._metadata = metadata_endpoint.rstrip("/") if metadata_endpoint else None
        self._timeout = timeout
        self._log = log or logging.getLogger(__name__)
        self._current: Credentials | IamToken | None = None
        self._refresh_at = 0.0
        self._keys: Credentials | None = None
        self._keys_refresh_at = 0.0
        self._project_id: str | None = None
        #: (IAM user id, name) as a password login tells them; None otherwise.
        self.user: tuple[str, str] | None = None
        self._client: httpx.AsyncClient | None = None
        # Every secret seen so far, scrubbed from any upstream text we quote in errors.
        self._secrets: set[str] = {iam_password} if iam_password else set()

    # Locks are made on first use, in the running loop: on Python 3.9 a lock binds to the loop
    # current when it is made, and this object may be made before the server's loop runs.
    @functools.cached_property
    def _lock(self) -> asyncio.Lock:
        return asyncio.Lock()

    @functools.cached_property
    def _keys_lock(self) -> asyncio.Lock:
        return asyncio.Lock()

    @property
    def project_id(self) -> str | None:
        return self._project_id

    def source(self) -> str | None:
        """Where the credentials in use came from (never the key), None before resolving."""
        return self._current.source if self._current is not None else None

    def describe(self) -> str:
        current = self._current
        if isinstance(current, Credentials):
            kind = "temporary AK/SK" if current.security_token else "AK/SK"
            return f"{current.source}: {kind} {current.ak[:4]}…"
        if isinstance(current, IamToken):
            return f"{current.source}: token of IAM user {self._iam_user!r}"
        candidates = ["environment", f"credentials file {self._file_path()}"]
        if self._iam_user and self._iam_password:
            candidates.append(f"IAM password of user {self._iam_user!r}")
        if self._metadata:
            candidates.append(f"metadata service {self._metadata}")
        return "not resolved yet; will try " + ", ".join(candidates)

    def invalidate(self) -> None:
        self._current = None
        self._refresh_at = 0.0
        self._keys = None
        self._keys_refresh_at = 0.0

    def _invalidate_if_current(self, used: Credentials | IamToken) -> None:
        # Concurrent 401s for the same stale credential cause one refresh, not one each.
        if self._current is used:
            self.invalidate()

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def get(self) -> Credentials | IamToken:
        current = self._current
        if current is not None and time.time() < self._refresh_at:
            return current
        async with self._lock:
            current = self._current
            if current is not None and time.time() < self._refresh_at:
                return current
            current, refresh_at = await self._resolve()
            self._current, self._refresh_at = current, refresh_at
            self._log.info("Huawei Cloud credentials: %s", self.describe())
            return current

    async def get_keys(self) -> Credentials:
        current = await self.get()
        if isinstance(current, Credentials):
            return current
        keys = self._keys
        if keys is not None and time.time() < self._keys_refresh_at:
            return keys
        async with self._keys_lock:
            keys = self._keys
            if keys is not None and time.time() < self._keys_refresh_at:
                return keys
            keys = await self._exchange(current)
            self._keys = keys
            self._keys_refresh_at = (keys.expires_at or math.inf) - _TOKEN_MARGIN_S
            self._log.info("Huawei Cloud temporary keys: %s %s…", keys.source, keys.ak[:4])
            return keys

    # -- sources ---------------------------------------------------------------------------

    def _file_path(self) -> str:
        return (
            self._credentials_file
            or self._env.get("HUAWEICLOUD_SDK_CREDENTIALS_FILE")
            or os.path.join(os.path.expanduser("~"), ".huaweicloud", "credentials")
        )

    async def _resolve(self) -> tuple[Credentials | IamToken, float]:
        tried: list[str] = []
        creds = self._from_env(tried) or self._from_file(tried)
        if creds is not None:
            return creds, math.inf
        if self._iam_user and self._iam_password:
            token = await self._password_token()
            self._project_id = token.project_id or self._project_id
            return token, token.expires_at - _TOKEN_MARGIN_S
        tried.append("IAM password: no user name and password configured")
        if self._metadata:
            creds = await self._from_metadata(tried)
            if creds is not None:
                return creds, (creds.expires_at or math.inf) - _METADATA_MARGIN_S
        else:
            tried.append("metadata service: not enabled")
        raise BackendUnavailable(
            "No Huawei Cloud credentials found. Tried: " + "; ".join(tried) + ". " + _HOWTO
        )

    def _from_env(self, tried: list[str]) -> Credentials | None:
        ak = self._env.get("HUAWEICLOUD_SDK_AK")
        sk = self._env.get("HUAWEICLOUD_SDK_SK")
        if not (ak and sk):
            missing = "HUAWEICLOUD_SDK_SK" if ak else "HUAWEICLOUD_SDK_AK"
            tried.append(f"environment: {missing} not set")
            return None
        token = self._env.get("HUAWEICLOUD_SDK_SECURITY_TOKEN") or None
        self._remember(sk, token)
        self._project_id = self._env.get("HUAWEICLOUD_SDK_PROJECT_ID") or None
        return Credentials(ak, sk, token, source=N_("environment (HUAWEICLOUD_SDK_AK)"))

    def _from_file(self, tried: list[str]) -> Credentials | None:
        path = self._file_path()
        parser = configparser.ConfigParser(interpolation=None)
        try:
            with open(path, encoding="utf-8") as file:
                parser.read_file(file)
        except FileNotFoundError:
            tried.append(f"credentials file {path}: not found")
            return None
        except OSError as exc:
            tried.append(f"credentials file {path}: unreadable ({exc.strerror})")
            return None
        except configparser.Error as exc:
            # configparser quotes the offending line, which may hold the SK: give line numbers only.
            lines = [str(n) for n, _ in getattr(exc, "errors", [])]
            if isinstance(exc, configparser.MissingSectionHeaderError):
                lines = [str(exc.lineno)]
            where = f" at line {', '.join(lines)}" if lines else ""
            tried.append(f"credentials file {path}: not valid INI{where}")
            return None
        for section in ("basic", "global"):
            if not parser.has_section(section):
                continue
            ak = parser.get(section, "ak", fallback="")
            sk = parser.get(section, "sk", fallback="")
            if not (ak and sk):
                continue
            token = parser.get(section, "security_token", fallback="") or None
            self._remember(sk, token)
            self._project_id = parser.get(section, "project_id", fallback="") or None
            return Credentials(ak, sk, token, source=N_(f"credentials file {path}"))
        tried.append(f"credentials file {path}: no ak and sk under [basic] or [global]")
        return None

    async def _password_token(self) -> IamToken:
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": self._iam_user,
                            "password": self._iam_password,
                            "domain": {"name": self._iam_domain},
                        }
                    },
                },
                "scope": {"project": {"name": self._region}},
            }
        }
        url = f"{self._iam}/v3/auth/tokens"
        response = await self._call("IAM password login", "POST", url, json=body)
        token = response.headers.get("X-Subject-Token")
        try:
            info = response.json()["token"]
            expires_at = _utc_epoch(info["expires_at"])
        except (ValueError, KeyError, TypeError):
            info, expires_at = {}, None
        if not token or expires_at is None:
            raise BackendUnavailable(f"IAM password login at {url}: unexpected response")
        self._remember(token)
        project_id = (info.get("project") or {}).get("id")
        user = info.get("user") or {}
        if user.get("id"):
            self.user = (str(user["id"]), str(user.get("name") or ""))
        return IamToken(token, expires_at, project_id, source=N_("IAM password"))

    async def _exchange(self, token: IamToken) -> Credentials:
        body = {
            "auth": {
                "identity": {
                    "methods": ["token"],
                    "token": {"id": token.token, "duration_seconds": _KEYS_DURATION_S},
                }
            }
        }
        url = f"{self._iam}/v3.0/OS-CREDENTIAL/securitytokens"
        response = await self._call("IAM token exchange", "POST", url, json=body)
        return self._parse_keys(response, "IAM token exchange", url)

    async def _from_metadata(self, tried: list[str]) -> Credentials | None:
        where = f"metadata service {self._metadata}"
        headers = {}
        try:
            client = self._http()
            # IMDSv2-style session token; older metadata services do not offer it.
            response = await client.put(
                f"{self._metadata}/meta-data/latest/api/token",
                headers={"X-Metadata-Token-Ttl-Seconds": str(_METADATA_TOKEN_TTL_S)},
            )
            if response.status_code == 200 and response.text:
                self._remember(response.text)
                headers["X-Metadata-Token"] = response.text
            url = f"{self._metadata}/openstack/latest/securitykey"
            response = await client.get(url, headers=headers)
        except httpx.HTTPError as exc:
            tried.append(f"{where}: unreachable ({type(exc).__name__})")
            return None
        if response.status_code >= 400:
            tried.append(f"{where}: HTTP {response.status_code} {self._upstream_text(response)}")
            return None
        return self._parse_keys(response, N_("metadata service"), url)

    def _parse_keys(self, response: httpx.Response, source: str, url: str) -> Credentials:
        try:
            data = response.json()
            data = data.get("credential") or data.get("credentials") or data
            ak, sk = data["access"], data["secret"]
            token = data.get("securitytoken") or data.get("security_token")
            expires_at = _utc_epoch(data.get("expires_at") or data.get("expiration"))
        except (ValueError, KeyError, TypeError, AttributeError):
            raise BackendUnavailable(f"{source} at {url}: unexpected response") from None
        self._remember(sk, token)
        return Credentials(ak, sk, token, expires_at, source=source)

    # -- HTTP ------------------------------------------------------------------------------

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            # The metadata service is link-local: never reach it through an environment proxy.
            mounts = {self._metadata: httpx.AsyncHTTPTransport()} if self._metadata else None
            self._client = httpx.AsyncClient(timeout=self._timeout, mounts=mounts)
        return self._client

    async def _call(self, what: str, method: str, url: str, **kwargs: Any) -> httpx.Response:
        headers = {"Content-Type": "application/json;charset=UTF-8"}
        try:
            response = await self._http().request(method, url, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise BackendUnavailable(
                f"{what} at {url}: unreachable ({type(exc).__name__})"
            ) from exc
        if response.status_code < 400:
            return response
        code = self._upstream_code(response)
        message = (
            f"{what} at {url} failed: HTTP {response.status_code} {self._upstream_text(response)}"
        )
        error: type[ModelArtsError] = (
            PermissionDenied if response.status_code in (401, 403) else BackendUnavailable
        )
        raise error(message, code=code)

    @staticmethod
    def _upstream_code(response: httpx.Response) -> str | None:
        try:
            data = response.json()
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        nested = data.get("error") if isinstance(data.get("error"), dict) else {}
        code = data.get("error_code") or nested.get("code")
        return code if isinstance(code, str) else None

    def _upstream_text(self, response: httpx.Response) -> str:
        """The upstream error code and message, with every known secret masked."""
        try:
            data = response.json()
        except ValueError:
            data = None
        if isinstance(data, dict):
            nested = data.get("error") if isinstance(data.get("error"), dict) else {}
            code = data.get("error_code") or nested.get("code") or ""
            text = data.get("error_msg") or data.get("error_message") or nested.get("message")
            text = f"{code} {text or ''}".strip()
        else:
            text = response.text
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text[:300]

    def _remember(self, *secrets: str | None) -> None:
        self._secrets.update(s for s in secrets if s)


class ModelArtsAuth(httpx.Auth):
    """httpx auth for ModelArts: AK/SK signing or X-Auth-Token, one retry on stale credentials."""

    requires_request_body = True

    def __init__(self, chain: CredentialChain, project_id: str | None):
        self._chain = chain
        self._project_id = project_id

    def sync_auth_flow(self, request: httpx.Request):
        raise RuntimeError("use an AsyncClient")

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        await request.aread()
        original = request.headers.copy()
        used = await self._apply(request)
        response = yield request
        if response.status_code != 401 or not await _is_stale(response):
            return
        self._chain._invalidate_if_current(used)
        request.headers = original
        await self._apply(request)
        yield request

    async def _apply(self, request: httpx.Request) -> Credentials | IamToken:
        creds = await self._chain.get()
        project_id = self._project_id or self._chain.project_id
        if isinstance(creds, Credentials):
            sign_request(request, creds, project_id=project_id)
        else:
            request.headers["X-Auth-Token"] = creds.token
            if project_id:
                request.headers["X-Project-Id"] = project_id
        return creds


async def _is_stale(response: httpx.Response) -> bool:
    await response.aread()
    try:
        data = response.json()
    except ValueError:
        return False
    return isinstance(data, dict) and data.get("error_code") in _RETRY_CODES
