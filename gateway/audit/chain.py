"""The hash chain: every record commits to its predecessor's hash.

A record's ``hash`` is SHA-256 over the previous record's hash followed by the canonical
JSON of the record without ``hash`` (sorted keys, no spaces, UTF-8). Editing a field
breaks that record's hash; deleting, inserting or reordering records breaks the link
(``prev_hash`` and ``seq``) of the record that follows.
"""

from __future__ import annotations

from typing import Any

from gateway.hashing import canonical_json, sha256_hex

GENESIS_HASH = "0" * 64
CHAIN_FIELDS = ("audit_id", "kind", "seq", "time", "prev_hash", "hash")


def record_hash(prev_hash: str, body: dict[str, Any]) -> str:
    canonical = canonical_json(body)
    return sha256_hex(prev_hash + canonical)


def seal(body: dict[str, Any]) -> tuple[str, bytes]:
    """(hash, line): the record's hash and its JSON line, newline included.

    The line is the canonical body with ``hash`` appended, so the body is serialised once.
    """
    canonical = canonical_json(body)
    digest = sha256_hex(body["prev_hash"] + canonical)
    line = f'{canonical[:-1]},"hash":"{digest}"}}\n'
    return digest, line.encode()


def body_of(record: dict[str, Any]) -> dict[str, Any]:
    """The hashed part of a stored record: everything but ``hash``."""
    return {key: value for key, value in record.items() if key != "hash"}


def hash_matches(record: dict[str, Any]) -> bool:
    return record.get("hash") == record_hash(str(record.get("prev_hash")), body_of(record))


def missing_fields(record: dict[str, Any]) -> list[str]:
    return [name for name in CHAIN_FIELDS if name not in record]
