"""What keeps a server from being idle, for the local IDLE lease.

Kernels: one busy (or starting) is busy, and each message it sends is activity (jupyter_server
keeps ``execution_state`` and ``last_activity``). Terminals: input or output is activity, and
one with some lately counts as busy. The browser: ``POST /activity``, which the frontend sends on
the user's own keys and pointer, never on its polling. Jobs are asked of the store by the lease
(a query: off the loop).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .models import now_ms


def _ms(when: Any) -> int | None:
    """A jupyter_server ``last_activity`` (an aware datetime) as epoch ms."""
    return int(when.timestamp() * 1000) if isinstance(when, datetime) else None


class Activity:
    """Reads the server's kernels and terminals, and keeps the browser's last activity."""

    def __init__(self, serverapp: Any):
        self.serverapp = serverapp
        self.browser_at: int | None = None

    def browser_seen(self) -> None:
        """``POST /activity``: the user acted in a browser."""
        self.browser_at = now_ms()

    def look(self, recent_ms: int) -> tuple[list[str], int | None]:
        """What is busy now ("kernel", "terminal"), and the latest activity seen (epoch ms).
        A terminal with input or output in the last ``recent_ms`` is busy (it has no state)."""
        busy: list[str] = []
        latest = self.browser_at
        kernels = getattr(self.serverapp, "kernel_manager", None)
        for kernel_id in kernels.list_kernel_ids() if kernels is not None else []:
            try:
                kernel = kernels.get_kernel(kernel_id)
            except KeyError:  # shut down meanwhile
                continue
            if getattr(kernel, "execution_state", None) in ("busy", "starting"):
                busy.append("kernel")
            latest = _later(latest, _ms(getattr(kernel, "last_activity", None)))
        web_app = getattr(self.serverapp, "web_app", None)
        terminals = web_app.settings.get("terminal_manager") if web_app is not None else None
        now = now_ms()
        for term in list(getattr(terminals, "terminals", {}).values()):
            seen = _ms(getattr(term, "last_activity", None))
            if seen is not None and now - seen <= recent_ms:
                busy.append("terminal")
            latest = _later(latest, seen)
        return sorted(set(busy)), latest


def _later(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    return a if b is None else max(a, b)
