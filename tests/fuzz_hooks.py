"""Schemathesis hooks: half the generated bodies carry what the OS or the parser can't take.

Schemathesis' own strings are valid UTF-8 text of modest size, so alone it never sends a lone
surrogate, deep nesting or a huge string; and its bodies are mostly refused for another reason
before a hostile value could matter. So each body here may get one of them in one of its strings,
object keys or values, and so may a body the route accepts (issue 9: these left records wedged).
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import strategies as st

HOSTILE_TEXT = ["\x00", "\ud800", "\udfff", "a\udc80b", "x" * 100_000]
DEEP = 64
#: A body each route accepts (the fuzzing server has a bucket named "bucket").
VALID_BODIES = {
    ("POST", "/jobs"): {"name": "fuzz", "code": "print(1)", "env": {"A": "1"}},
    ("POST", "/mounts"): {"uri": "obs://bucket/fuzz/", "mount_path": "/data/fuzz/"},
    ("POST", "/images"): {"name": "fuzz", "description": "fuzzed"},
    ("PATCH", "/lease"): {"duration_s": 3600},
}


def _nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"a": value}
    return value


def _variants(value: Any) -> list[Any]:
    """``value`` with one hostile change, for each place a change can go."""
    out: list[Any] = []
    if isinstance(value, str):
        out += [value + bad for bad in HOSTILE_TEXT]
    elif isinstance(value, dict):
        out += [{**value, bad: "1"} for bad in HOSTILE_TEXT[:4]]
        out.append({**value, "deep": _nested(DEEP)})
        for key, item in value.items():
            out += [{**value, key: changed} for changed in _variants(item)]
            out.append({**value, key: _nested(DEEP)})
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out += [[*value[:index], changed, *value[index + 1 :]] for changed in _variants(item)]
    return out


@schemathesis.hook
def flatmap_body(context, body):
    operation = context.operation
    valid = VALID_BODIES.get((operation.method.upper(), operation.path))
    variants = _variants(body) + (_variants(valid) if valid else [])
    if not variants:
        return st.just(body)
    return st.one_of(st.just(body), st.sampled_from(variants))


def _has_unsafe_text(value: Any, depth: int = 0) -> bool:
    """NUL or a lone surrogate anywhere in keys or strings, or nesting past the server's bound."""
    if depth > 32:
        return True
    if isinstance(value, str):
        return "\x00" in value or any("\ud800" <= char <= "\udfff" for char in value)
    if isinstance(value, dict):
        return any(
            _has_unsafe_text(k, depth) or _has_unsafe_text(v, depth + 1) for k, v in value.items()
        )
    if isinstance(value, list):
        return any(_has_unsafe_text(item, depth + 1) for item in value)
    return False


@schemathesis.check
def unsafe_body_refused(ctx, response, case):
    """A body the OS can't take is refused at the edge (400 naming the field), never accepted
    to fail later in the background."""
    if case.method.upper() in ("POST", "PATCH") and _has_unsafe_text(case.body):
        if response.status_code != 400 or "field" not in response.json():
            raise AssertionError(
                f"{case.method} {case.path} with NUL, a lone surrogate or deep nesting answered "
                f"{response.status_code}, not a 400 naming the field"
            )
