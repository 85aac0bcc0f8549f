"""A last line of defence: a record that names a credential is refused, not written.

The chat path passes only hashes and metadata. An audit log is kept for years and read
by reviewers, so a key or token that slipped into a record would outlive its rotation;
the writer refuses such a record with ValueError (a bug to fix, never a request to
serve) instead of scrubbing it quietly. Keys are matched by name at any depth; ``token``
must end the name, so counters like ``total_tokens`` or ``token_count`` pass. Values are
checked for the two shapes that are unambiguous: a ``Bearer`` credential and a JWT.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_SECRET_KEY = re.compile(
    r"(authorization|api[_-]?key|passw(or)?d|jwt|secret|cookie|credential|token$)",
    re.IGNORECASE | re.ASCII,
)
_SECRET_VALUE = re.compile(
    r"(?i:\bbearer\s+[a-z0-9._~+/=-]{8,})|\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*",
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
    """Cheap screen over a record's JSON: False means ``refuse_secrets`` would pass."""
    lowered = serialised.lower()
    return any(needle in lowered for needle in _SCREEN)


def refuse_secrets(fields: Mapping[str, Any]) -> None:
    """Raise ValueError naming the path of the first credential-like key or value."""
    problem = _find(fields, "")
    if problem is not None:
        raise ValueError(f"audit record refused: {problem} looks like a credential")


def _find(value: Any, path: str) -> str | None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if _SECRET_KEY.search(str(key)):
                return f"field {where!r}"
            found = _find(item, where)
            if found is not None:
                return found
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = _find(item, f"{path}[{index}]")
            if found is not None:
                return found
    elif isinstance(value, str) and _SECRET_VALUE.search(value):
        return f"the value of {path!r}"
    return None
