"""The one SHA-256 digest and the one canonical JSON form the gateway hashes and keys by.

``canonical_json`` is the audit chain's form (sorted keys, no spaces, UTF-8 kept as is):
a record's hash is computed over it, so it must never change. Cache keys and digests
use the same form, so equal values always give equal keys.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def sha256_hex(data: str | bytes) -> str:
    """The hex SHA-256 of ``data`` (text is encoded as UTF-8)."""
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def canonical_json(value: Any) -> str:
    """``value`` as JSON with sorted keys, compact separators and non-ASCII kept."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
