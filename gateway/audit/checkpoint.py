"""Signed checkpoints, and the head file that remembers the newest one.

A chain alone proves order, not completeness: whoever deletes the last records, or
rewrites the whole chain, leaves a valid chain. A checkpoint is a record of kind
``checkpoint`` that seals the record before it (``covers_seq``, ``covers_hash``) with an
HMAC-SHA256 under a key the log's readers do not hold, so a rewritten chain cannot carry
valid signatures. The head file (``audit-head-<writer>.json``, ``audit-head.json`` for the
legacy writer, replaced atomically at every checkpoint) holds a copy of the newest
checkpoint outside the segments: a log that ends before it was truncated. Without a key,
checkpoints are written unsigned and prove order and completeness only against accidents;
verify reports them as "unsigned".
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from pathlib import Path
from typing import Any, Literal

from gateway.audit.segments import write_atomic
from gateway.hashing import canonical_json

CHECKPOINT_KIND = "checkpoint"
HEAD_NAME = "audit-head.json"
HEAD_PATTERN = re.compile(r"^audit-head(?:-(?P<writer>[A-Za-z0-9][A-Za-z0-9_.-]{0,63}))?\.json$")
SIGNATURE_ALGORITHM = "hmac-sha256"
Reason = Literal["interval", "rotation", "close"]
_SIGNED_FIELDS = ("covers_seq", "covers_hash", "reason", "segment", "next_segment")


def signing_key(key: str | bytes | None) -> bytes | None:
    if key is None:
        return None
    raw = key.encode() if isinstance(key, str) else key
    if not raw:
        raise ValueError("the audit HMAC key is empty")
    return raw


def checkpoint_fields(
    *,
    covers_seq: int,
    covers_hash: str,
    reason: Reason,
    segment: str,
    next_segment: str | None,
    key: bytes | None,
) -> dict[str, Any]:
    """The fields of a checkpoint record; the writer adds the chain fields."""
    fields: dict[str, Any] = {
        "covers_seq": covers_seq,
        "covers_hash": covers_hash,
        "reason": reason,
        "segment": segment,
        "next_segment": next_segment,
    }
    fields["signature_alg"] = SIGNATURE_ALGORITHM if key else None
    fields["signature"] = sign(key, fields) if key else None
    return fields


def sign(key: bytes, fields: dict[str, Any]) -> str:
    message = canonical_json({name: fields.get(name) for name in _SIGNED_FIELDS})
    return hmac.new(
        key, b"gateway-audit-checkpoint-v1\n" + message.encode(), hashlib.sha256
    ).hexdigest()


def is_signed(record: dict[str, Any]) -> bool:
    return bool(record.get("signature"))


def signature_valid(key: bytes, record: dict[str, Any]) -> bool:
    signature = record.get("signature")
    if not isinstance(signature, str) or record.get("signature_alg") != SIGNATURE_ALGORITHM:
        return False
    return hmac.compare_digest(signature, sign(key, record))


def is_rotation(record: dict[str, Any]) -> bool:
    return record.get("kind") == CHECKPOINT_KIND and record.get("reason") == "rotation"


def head_name(writer: str | None = None) -> str:
    return HEAD_NAME if writer is None else f"audit-head-{writer}.json"


def head_writers(directory: Path) -> set[str | None]:
    """Writers with a head file in ``directory`` (None: the legacy writer)."""
    if not directory.is_dir():
        return set()
    return {
        match.group("writer")
        for match in (HEAD_PATTERN.fullmatch(path.name) for path in directory.iterdir())
        if match is not None
    }


def write_head(directory: Path, checkpoint: dict[str, Any], writer: str | None = None) -> None:
    payload = json.dumps({"checkpoint": checkpoint}).encode() + b"\n"
    write_atomic(directory / head_name(writer), payload)


def read_head(directory: Path, writer: str | None = None) -> dict[str, Any] | None:
    """The newest checkpoint as the head file remembers it; ValueError if unreadable."""
    path = directory / head_name(writer)
    if not path.exists():
        return None
    try:
        checkpoint = json.loads(path.read_bytes())["checkpoint"]
        int(checkpoint["seq"])
        checkpoint.items()
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"unreadable head file {path.name}") from exc
    return dict(checkpoint)
