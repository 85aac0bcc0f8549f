"""The hash chain: every record commits to its predecessor's hash.

A record's ``hash`` is SHA-256 over the previous record's hash followed by the canonical
JSON of the record without ``hash`` (sorted keys, no spaces, UTF-8). Editing a field
breaks that record's hash; deleting, inserting or reordering records breaks the link
(``prev_hash`` and ``seq``) of the record that follows.

The writer stores each record as that canonical JSON with ``,"hash":"<hex>"`` appended
before the closing brace (``seal``), so the hash is also SHA-256 over the previous hash
and the stored line without that last member: verify hashes the stored bytes
(``line_hash_matches``) and needs no parse and re-serialisation. A line not in the
writer's byte form (an older or re-spaced record) is still checked canonically.
"""

from __future__ import annotations

import hashlib
from typing import Any

from gateway.hashing import canonical_json, sha256_hex

GENESIS_HASH = "0" * 64
CHAIN_FIELDS = ("audit_id", "kind", "seq", "time", "prev_hash", "hash")
HASH_TAIL_BYTES = len(b',"hash":"') + 64 + len(b'"}')
"""Length of the stored line's last member, the hash, and the closing brace."""


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


def stored_hash_matches(raw: bytes, prev_hash: str, stored: str) -> bool:
    """Whether the stored line ``raw`` (no newline) ends with ``,"hash":"<stored>"}``
    and ``stored`` is SHA-256 over ``prev_hash`` and the line without that member."""
    cut = len(raw) - HASH_TAIL_BYTES
    if cut <= 0 or raw[cut:] != f',"hash":"{stored}"}}'.encode():
        return False
    digest = hashlib.sha256(prev_hash.encode())
    digest.update(memoryview(raw)[:cut])
    digest.update(b"}")
    return digest.hexdigest() == stored


def line_hash_matches(raw: bytes, record: dict[str, Any]) -> bool:
    """The hash check of a stored record: over its stored bytes, or else (a line not in
    the writer's byte form) over the canonical JSON of its content."""
    stored, prev_hash = record.get("hash"), record.get("prev_hash")
    if (
        isinstance(stored, str)
        and isinstance(prev_hash, str)
        and stored_hash_matches(raw, prev_hash, stored)
    ):
        return True
    return hash_matches(record)
