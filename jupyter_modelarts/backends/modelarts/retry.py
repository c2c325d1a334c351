"""The one retry policy of the cloud backend, shared by the ModelArts and OBS clients."""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from dataclasses import dataclass

import httpx

# Statuses worth another try: throttled, or a gateway/service that was briefly unavailable.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# Statuses that say the request was not acted on, so even a create may be sent again.
NOT_PROCESSED = frozenset({429, 503})
MAX_RETRY_AFTER_S = 30.0


def retry_after(response: httpx.Response) -> float | None:
    """Seconds the server asked us to wait (Retry-After as seconds or a date), capped."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return min(max(0.0, float(value)), MAX_RETRY_AFTER_S)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return min(max(0.0, when.timestamp() - time.time()), MAX_RETRY_AFTER_S)


@dataclass
class RetryPolicy:
    """Exponential backoff with full jitter, so parallel callers never retry in lockstep;
    a server's ``Retry-After`` wins over the computed wait."""

    max_retries: int = 4
    base_s: float = 0.2
    cap_s: float = 5.0

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before retry ``attempt`` (0-based)."""
        return random.uniform(0, min(self.cap_s, self.base_s * 2**attempt))

    async def pause(self, attempt: int, response: httpx.Response | None = None) -> None:
        wait = retry_after(response) if response is not None else None
        await asyncio.sleep(wait if wait is not None else self.backoff(attempt))
