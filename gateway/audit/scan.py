"""scan_segment(): the fast, per-segment half of ``verify``, runnable in another process.

Most records are ordinary: their only checks are local (a line that is a record, its
hash, its link to the record before it in the same segment, nothing after a rotation
checkpoint). The scan checks those on the stored bytes, without building the record:
the chain fields are decoded by msgspec into a small struct (everything else is only
skipped), and the hash is SHA-256 over the previous hash and the stored line minus its
trailing ``"hash"`` member (``gateway.audit.chain.line_hash_matches``), so nothing is
re-serialised. A line whose stored bytes do not hash to its ``hash`` is checked the
slow way (parsed and re-serialised canonically: a re-spaced old record still passes).

Lines are decoded one at a time, right before they are hashed, while they are in the
CPU cache (decoding a whole block first, with msgspec's ``decode_lines``, measured
slower). The segment is read in blocks into one reused buffer (a large buffered read: no
allocation, and the block the lines are decoded and hashed from stays in the CPU cache),
not mapped: a live log's file may be truncated by its writer while it is read, which a
mapping would turn into a crash.

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

from gateway.audit.chain import HASH_TAIL_BYTES, hash_matches, missing_fields
from gateway.audit.checkpoint import CHECKPOINT_KIND

BLOCK_BYTES = 1 << 20
"""Bytes read at once; a longer line grows the buffer."""
_HASH_KEY = b',"hash":"'
_CLOSE = b'"}'


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
_DECODE_ERRORS = (msgspec.DecodeError, msgspec.ValidationError)


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
    raw: bytes = b""
    """The stored line (without its newline), for the byte-form hash check."""


@dataclass
class SegmentScan:
    usual: bool = True
    items: list[Run | Full] = field(default_factory=list)


class _Unusual(Exception):
    """Something the record-by-record walk must look at."""


def scan_segment(path: Path, writer: str | None = None) -> SegmentScan:
    """Scan one segment of ``writer``'s chain (a record naming another writer is unusual)."""
    try:
        return _Scan(writer).run(path)
    except _Unusual:
        return SegmentScan(usual=False)


class _Scan:
    def __init__(self, writer: str | None) -> None:
        self.writer = writer
        self.items: list[Run | Full] = []
        self.first: tuple[int, _Chain] | None = None  # the open run's first record, line
        self.count = 0
        self.last: _Chain | None = None
        self.last_line = 0
        self.rotated = False

    def run(self, path: Path) -> SegmentScan:
        buffer = bytearray(BLOCK_BYTES)
        filled = number = 0
        with path.open("rb", buffering=0) as handle:
            while True:
                view = memoryview(buffer)
                read = handle.readinto(view[filled:])
                if not read:
                    view.release()
                    if filled:
                        raise _Unusual  # a torn last line: the walk reports it
                    break
                filled += read
                if not buffer.isascii():  # all-ASCII (the usual log) is valid UTF-8
                    _check_utf8(buffer, view, filled)
                start, number = self._lines(buffer, view, filled, number)
                view.release()
                rest = filled - start
                if rest == len(buffer):  # one line longer than the buffer
                    buffer = buffer + bytearray(len(buffer))
                elif start:
                    buffer[:rest] = buffer[start:filled]
                filled = rest
        self._close_run()
        return SegmentScan(items=self.items)

    def _lines(
        self, buffer: bytearray, view: memoryview, filled: int, number: int
    ) -> tuple[int, int]:
        """Check every complete line of ``buffer[:filled]``: (where the rest starts, the
        last line number). Kept in one loop over locals: it runs once per record."""
        start = 0
        writer, decode, sha256 = self.writer, _DECODER.decode, hashlib.sha256
        find, startswith, join = buffer.find, buffer.startswith, b"".join
        last, first, count, rotated = self.last, self.first, self.count, self.rotated
        last_line = self.last_line
        try:
            while True:
                end = find(b"\n", start, filled)
                if end < 0:
                    break
                number += 1
                line = view[start:end]
                try:
                    chain = decode(line)
                except _DECODE_ERRORS:
                    raise _Unusual from None  # not the writer's form, or not a record
                if rotated or chain.writer != writer:
                    raise _Unusual
                if last is not None and (chain.prev_hash != last.hash or chain.seq != last.seq + 1):
                    raise _Unusual
                cut = end - HASH_TAIL_BYTES
                # One copy and one call beat three updates of an OpenSSL context.
                body = line[: cut - start] if cut > start else b""
                stored = sha256(join((chain.prev_hash.encode(), body, b"}"))).hexdigest()
                if not (
                    stored == chain.hash
                    and cut > start
                    and startswith(_HASH_KEY + stored.encode() + _CLOSE, cut)
                ) and not _canonical_match(line):
                    raise _Unusual
                if last is None or chain.kind == CHECKPOINT_KIND:
                    if first is not None and last is not None:
                        self.items.append(_run(first, last, last_line, count))
                        first = None
                    raw = bytes(line)
                    record = _record(raw)
                    if record is None:
                        raise _Unusual
                    self.items.append(Full(number, record, raw))
                    rotated = chain.kind == CHECKPOINT_KIND and record.get("reason") == "rotation"
                elif first is None:
                    first, count = (number, chain), 1
                else:
                    count += 1
                last, last_line = chain, number
                start = end + 1
        finally:
            self.last, self.first, self.count, self.rotated = last, first, count, rotated
            self.last_line = last_line
        return start, number

    def _close_run(self) -> None:
        if self.first is not None and self.last is not None:
            self.items.append(_run(self.first, self.last, self.last_line, self.count))
            self.first = None


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


def _check_utf8(buffer: bytearray, view: memoryview, filled: int) -> None:
    """The walk's json.loads refuses a line that is not UTF-8 anywhere; msgspec checks
    only the strings it decodes, not those it skips."""
    try:
        str(view[: buffer.rfind(b"\n", 0, filled) + 1], "utf-8")
    except UnicodeDecodeError:
        raise _Unusual from None


def _canonical_match(line: memoryview) -> bool:
    """The old definition: the hash over the canonical JSON of the parsed record."""
    record = _record(bytes(line))
    return record is not None and hash_matches(record)


def _record(raw: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(record, dict) or missing_fields(record):
        return None
    return record
