"""Async calls to the ModelArts API: retries with backoff, error mapping, one poll per interval."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx

from ...i18n import N_
from ...models import (
    BackendUnavailable,
    Conflict,
    InvalidRequest,
    ModelArtsError,
    NotFound,
    PermissionDenied,
    UpstreamError,
)
from .retry import NOT_PROCESSED, RETRY_STATUSES, RetryPolicy

T = TypeVar("T")


class UncertainOutcome(UpstreamError):
    """A non-idempotent call may or may not have taken effect (connection lost after sending)."""


def _error_fields(body: Any) -> tuple[str | None, str | None]:
    """(code, message) from any ModelArts error shape, read as the official SDK's parser does."""
    if not isinstance(body, dict):
        return None, None
    for code_key, msg_keys in (
        ("error_code", ("error_msg", "error_message")),
        ("errorCode", ("errorMsg",)),
        ("code", ("message",)),
    ):
        if code_key in body:
            message = next((body[k] for k in msg_keys if k in body), None)
            return str(body[code_key]), None if message is None else str(message)
    for value in body.values():
        if isinstance(value, dict):
            code, message = _error_fields(value)
            if code:
                return code, message
    return None, None


class NotAuthenticated(PermissionDenied):
    """ModelArts did not accept the credentials at all (401), rather than refusing an action."""

    def to_json(self) -> dict[str, Any]:
        # Clients know one reason for both; the message says which it is.
        return {**super().to_json(), "reason": PermissionDenied.__name__}


def names_agency(message: str) -> bool:
    """Whether a refusal is about ModelArts' agency (委托) rather than the user's own rights."""
    return "agency" in message.lower() or "委托" in message


def permission_fix(action: str, agency: bool) -> str:
    """What to do about a refused ``action``: the agency's right, or the user's."""
    if agency:
        return N_(
            f"ModelArts' agency (委托) for this user lacks a right {action} needs: in the "
            "ModelArts console → 全局配置 (Global Configuration) → 添加授权 (Add Authorization), "
            "add an agency for this user in this region, or extend the existing one's policies"
        )
    return N_(
        f"the credentials need the IAM action {action}: ask the account administrator to grant "
        "it (in strict authorization mode, 严格授权模式, a sub-user needs every action granted "
        "explicitly), and a grant to the workspace when the refusal names one"
    )


def upstream_error(response: httpx.Response, action: str) -> ModelArtsError:
    """The domain error for a ModelArts error response, keeping its code and request id."""
    try:
        body = response.json()
    except ValueError:
        body = None
    code, message = _error_fields(body)
    code = code or f"HTTP.{response.status_code}"
    message = message or response.reason_phrase or "no message"
    request_id = response.headers.get("X-Request-Id")
    where = N_(f"ModelArts {code}, request {request_id}") if request_id else N_(f"ModelArts {code}")
    status = response.status_code
    if status == 401:
        return NotAuthenticated(
            f"{message} ({where}); the credentials were not accepted: check the access key, "
            "its secret and the project",
            code=code,
            request_id=request_id,
        )
    if status == 403:
        agency = names_agency(message)
        return PermissionDenied(
            f"{message} ({where}); {permission_fix(action, agency)}",
            iam_action=action,
            agency=agency,
            code=code,
            request_id=request_id,
        )
    kind = {400: InvalidRequest, 404: NotFound, 409: Conflict}.get(status)
    if kind is None:
        kind = UpstreamError
    return kind(f"{message} ({where})", code=code, request_id=request_id)


class ModelArtsClient:
    """JSON calls to one ModelArts endpoint with the retry policy of a careful client.

    Idempotent calls are retried on connection errors and 429/502/503/504 with exponential
    backoff and full jitter, honouring ``Retry-After``. Other calls are retried only when the
    answer proves they were not acted on (429, 503, or a connection never made); otherwise they
    raise :class:`UncertainOutcome` so the caller can look the result up before trying again.
    """

    def __init__(
        self,
        *,
        endpoint: str,
        auth: httpx.Auth,
        timeout: float,
        retry: RetryPolicy,
        user_agent: str,
    ):
        self.retry = retry
        self.http = httpx.AsyncClient(
            base_url=endpoint,
            auth=auth,
            timeout=timeout,
            headers={"User-Agent": user_agent},
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    async def call(
        self,
        method: str,
        path: str,
        *,
        action: str,
        idempotent: bool,
        json: Any = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        """Send one request; returns the decoded JSON body (None when empty)."""
        attempt = 0
        while True:
            try:
                response = await self.http.request(method, path, json=json, params=params)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as err:
                # Never reached the server: safe to send again, whatever the method.
                failure: Exception = err
                answer = None
            except httpx.TransportError as err:
                if not idempotent:
                    raise UncertainOutcome(
                        f"the connection to ModelArts broke during {method} {path}; "
                        "the request may or may not have been carried out"
                    ) from None
                failure, answer = err, None
            else:
                status = response.status_code
                if status < 400:
                    return response.json() if response.content else None
                # Any 5xx but "not processed" ones may come after the service acted (a gateway
                # that gave up while the service went on): a create must be looked up first.
                if not idempotent and status >= 500 and status not in NOT_PROCESSED:
                    raise UncertainOutcome(
                        f"ModelArts answered {status} to {method} {path}; "
                        "the request may or may not have been carried out"
                    )
                if status not in RETRY_STATUSES:
                    raise upstream_error(response, action)
                failure, answer = upstream_error(response, action), response
            if attempt >= self.retry.max_retries:
                if isinstance(failure, ModelArtsError):
                    raise failure
                raise BackendUnavailable(
                    f"ModelArts did not answer {method} {path} after {attempt + 1} tries "
                    f"({type(failure).__name__})"
                ) from None
            await self.retry.pause(attempt, answer)
            attempt += 1


class SharedPoll:
    """Answers from the last ``ttl`` seconds, and one upstream call for concurrent askers.

    However many browser tabs and cells poll the lease or a job, each key costs at most one
    upstream call per interval. Failures are not kept: the next asker tries again. At most
    ``max_entries`` answers are kept: expired ones go first, then the oldest, so thousands of
    job ids asked once never pile up.
    """

    def __init__(self, ttl: float, max_entries: int = 1024):
        self.ttl = ttl
        self.max_entries = max_entries
        # Insertion order is expiry order: every entry lives ttl from when it was stored.
        self._values: OrderedDict[Any, tuple[float, Any]] = OrderedDict()
        self._inflight: dict[Any, asyncio.Future] = {}

    def __len__(self) -> int:
        return len(self._values)

    async def get(self, key: Any, fetch: Callable[[], Awaitable[T]]) -> T:
        cached = self._values.get(key)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            value = await fetch()
        except BaseException as err:
            future.set_exception(err)
            future.exception()  # retrieved here, so a future nobody awaited logs nothing
            raise
        else:
            self._store(key, value)
            future.set_result(value)
            return value
        finally:
            del self._inflight[key]

    def _store(self, key: Any, value: Any) -> None:
        now = time.monotonic()
        self._values.pop(key, None)
        self._values[key] = (now + self.ttl, value)
        while self._values:
            oldest, (expires, _) = next(iter(self._values.items()))
            if expires > now and len(self._values) <= self.max_entries:
                break
            del self._values[oldest]

    def invalidate(self, *keys: Any) -> None:
        """Forget the given keys (after a write), or everything when none are given."""
        if not keys:
            self._values.clear()
        for key in keys:
            self._values.pop(key, None)
