"""A last line of defence: credentials are scrubbed from a record before it is written.

The gateway's own fields are hashes and metadata, but some hold caller-chosen text (the
User-Agent, a model name, a request id, a path): a caller who puts ``Bearer ...`` or a
JWT there must still get their request recorded, never a 500 and never the credential
in a log that is kept for years. So a value with a credential shape has that part
replaced by ``[REDACTED]``, a key named like a credential has its whole value replaced,
and the record says which fields were touched (``scrubbed_fields``). Keys are matched by
name at any depth; ``token`` must end the name, so counters like ``total_tokens`` or
``token_count`` pass. Values are checked for the two shapes that are unambiguous: a
``Bearer`` credential and a JWT.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

REDACTED = "[REDACTED]"

_SECRET_KEY = re.compile(
    r"(authorization|api[_-]?key|passw(or)?d|jwt|secret|cookie|credential|token$)",
    re.IGNORECASE | re.ASCII,
)
_SECRET_VALUE = re.compile(
    r"(?i:bearer\s+[a-z0-9._~+/=-]{8,})|eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*",
    re.ASCII,
)
# Every match of the patterns above contains one of these (lower-cased) byte strings, so a
# serialised record holding none of them needs no walk: the common case costs microseconds.
_SCREEN = (
    b"authorization",
    b"apikey",
    b"api_key",
    b"api-key",
    b"passw",
    b"jwt",
    b"secret",
    b"cookie",
    b"credential",
    b'token"',
    b"bearer",
    b"eyj",
)


def might_hold_secrets(serialised: bytes) -> bool:
    """Cheap screen over a record's JSON: False means ``scrub_secrets`` would change nothing."""
    lowered = serialised.lower()
    return any(needle in lowered for needle in _SCREEN)


def scrub_secrets(
    fields: Mapping[str, Any], *, keep: frozenset[str] = frozenset()
) -> tuple[dict[str, Any], list[str]]:
    """``fields`` with credentials replaced, and the paths of what was replaced.

    Top-level keys in ``keep`` (the log's own bookkeeping) are left as they are.
    """
    touched: list[str] = []
    cleaned = {
        _clean_key(str(key), str(key), touched): (
            value if key in keep else _scrub(value, str(key), touched, named=_named(str(key)))
        )
        for key, value in fields.items()
    }
    return cleaned, touched


def _named(key: str) -> bool:
    return bool(_SECRET_KEY.search(key))


def _clean_key(key: str, path: str, touched: list[str]) -> str:
    if _SECRET_VALUE.search(key):
        touched.append(f"{path} (key)")
        return _SECRET_VALUE.sub(REDACTED, key)
    return key


def _scrub(value: Any, path: str, touched: list[str], *, named: bool = False) -> Any:
    if named:
        if value != REDACTED:
            touched.append(path)
        return REDACTED
    if isinstance(value, Mapping):
        result: dict[str, Any] = {}
        for key, item in value.items():
            where = f"{path}.{key}"
            clean = _clean_key(str(key), where, touched)
            result[clean] = _scrub(item, where, touched, named=_named(str(key)))
        return result
    if isinstance(value, list | tuple):
        return [_scrub(item, f"{path}[{i}]", touched) for i, item in enumerate(value)]
    if isinstance(value, str) and _SECRET_VALUE.search(value):
        touched.append(path)
        return _SECRET_VALUE.sub(REDACTED, value)
    return value
