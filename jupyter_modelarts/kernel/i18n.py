"""The kernel's messages in the user's language: the one the frontend last told the server.

The server holds the catalogue (``GET /i18n``), so a kernel of any environment speaks it without
the package installed there. ``_("Job {id} stopped", id=job_id)`` looks the message up, then
fills its ``{name}`` placeholders; scripts/i18n.py extracts every literal given to ``_``.
"""

from __future__ import annotations

import re
import time
from typing import Any

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
#: How often a magic asks the server whether the language changed (a cheap call: the
#: messages come only when it did).
RECHECK_S = 2.0

_state: dict[str, Any] = {"language": "en", "messages": {}, "checked": 0.0}


def N_(message: str) -> str:
    """Mark a message kept in a constant, so that scripts/i18n.py extracts it; pass the
    constant to ``_`` where it is shown."""
    return message


def _(msgid: str, /, **values: Any) -> str:
    """``msgid`` in the user's language, its ``{name}`` placeholders filled from ``values``."""
    text = _state["messages"].get(msgid) or msgid
    if not values:
        return text
    return _PLACEHOLDER.sub(
        lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0), text
    )


def language() -> str:
    """The language the kernel speaks now (``en``, ``zh_CN``…)."""
    return _state["language"]


def follow(client: Any, force: bool = False) -> None:
    """Take the server's language (at most every RECHECK_S unless ``force``); a server that
    cannot say leaves the language as it was."""
    now = time.monotonic()
    if not force and now - _state["checked"] < RECHECK_S:
        return
    _state["checked"] = now
    try:
        answer = client.i18n(known=_state["language"])
    except Exception:  # an older server, or one going away: keep speaking as before
        return
    if answer.get("messages") is not None:
        _state["messages"] = answer["messages"]
    _state["language"] = answer.get("language") or "en"
