"""scan_segment(): the fast, per-segment half of ``verify``, runnable in another process.

Most records are ordinary: their only checks are local (a line that is a record, its
hash, its link to the record before it in the same segment, nothing after a rotation
checkpoint). The scan checks those on the stored bytes, without building the record:
the chain fields are decoded by msgspec into a small struct, and the hash is SHA-256
over the previous hash and the stored line minus its trailing ``"hash"`` member (the
writer's ``seal`` appends it last), so nothing is re-serialised. A line that is not in
the writer's exact form is checked the slow way (parsed and re-serialised canonically),
so what passes is exactly what passed before.

The result, a list of items, is what the verifier's state machine needs: the segment's
first record and every checkpoint in full (their checks depend on other segments), and
each run of ordinary records in between as one summary. Anything unusual (a record that
fails a local check, a torn or non-JSON line) makes the scan give up (``usual=False``):
the verifier then walks the whole log record by record to name the first problem.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from gateway.audit.chain import hash_matches, missing_fields
from gateway.audit.checkpoint import CHECKPOINT_KIND

_TAIL_BYTES = len(b',"hash":"') + 64 + len(b'"}')


class _Chain(msgspec.Struct, gc=False):
    """The chain fields of a record; decoding skips everything else."""

    audit_id: Any
    kind: Any
    seq: int
    time: Any
    prev_hash: str
    hash: str
    writer: Any = None


_DECODER = msgspec.json.Decoder(_Chain)


@dataclass(frozen=True)
class Run:
    """Consecutive ordinary records that passed every local check."""

    count: int
    first_line: int
    first_seq: int
    first_audit_id: str | None
    last_line: int
    last_seq: int
    last_hash: str
    last_audit_id: str | None
    last_kind: Any


@dataclass(frozen=True)
class Full:
    """A record the verifier checks itself: a segment's first, or a checkpoint."""

    line: int
    record: dict[str, Any]


@dataclass
class SegmentScan:
    usual: bool = True
    items: list[Run | Full] = field(default_factory=list)


def scan_segment(path: Path, writer: str | None = None) -> SegmentScan:
    """Scan one segment of ``writer``'s chain (a record naming another writer is unusual)."""
    scan = SegmentScan()
    first: tuple[int, _Chain] | None = None  # the open run's first record and line
    last: _Chain | None = None
    last_line = count = 0
    rotated = False
    with path.open("rb") as handle:
        data = handle.read()
    if data and not data.endswith(b"\n"):
        return SegmentScan(usual=False)  # a torn last line: the slow walk reports it
    # Newlines only end lines, exactly as the record-by-record walk reads them; lines are
    # views into the segment's bytes (no copy per line).
    view, start, number = memoryview(data), 0, 0
    while start < len(data):
        end = data.index(b"\n", start)
        raw, start, number = view[start:end], end + 1, number + 1
        chain = _chain(raw)
        if chain is None or rotated or chain.writer != writer:
            return SegmentScan(usual=False)
        if last is not None and (chain.prev_hash != last.hash or chain.seq != last.seq + 1):
            return SegmentScan(usual=False)
        if last is None or chain.kind == CHECKPOINT_KIND:
            if first is not None and last is not None:
                scan.items.append(_run(first, last, last_line, count))
                first = None
            record = _record(raw)
            if record is None:
                return SegmentScan(usual=False)
            scan.items.append(Full(number, record))
            rotated = chain.kind == CHECKPOINT_KIND and record.get("reason") == "rotation"
        elif first is None:
            first, count = (number, chain), 1
        else:
            count += 1
        last, last_line = chain, number
    if first is not None and last is not None:
        scan.items.append(_run(first, last, last_line, count))
    return scan


def _run(first: tuple[int, _Chain], last: _Chain, last_line: int, count: int) -> Run:
    line, head = first
    return Run(
        count=count,
        first_line=line,
        first_seq=head.seq,
        first_audit_id=_id(head.audit_id),
        last_line=last_line,
        last_seq=last.seq,
        last_hash=last.hash,
        last_audit_id=_id(last.audit_id),
        last_kind=last.kind,
    )


def _id(audit_id: Any) -> str | None:
    return str(audit_id) if audit_id is not None else None


def _chain(raw: memoryview) -> _Chain | None:
    """The chain fields of a record whose hash matches its content; None otherwise."""
    try:
        chain = _DECODER.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None  # not the writer's form (or not a record): the slow walk decides
    end = len(raw) - _TAIL_BYTES
    stored = chain.hash.encode()
    if raw[end:] == b',"hash":"' + stored + b'"}':  # the line ends with exactly that hash
        digest = hashlib.sha256(chain.prev_hash.encode())
        digest.update(raw[:end])
        digest.update(b"}")
        if digest.hexdigest() == chain.hash:
            return chain
    record = _record(raw)  # not in the writer's byte form: check it as before
    return chain if record is not None and hash_matches(record) else None


def _record(raw: bytes | memoryview) -> dict[str, Any] | None:
    try:
        record = json.loads(bytes(raw))
    except ValueError:
        return None
    if not isinstance(record, dict) or missing_fields(record):
        return None
    return record
