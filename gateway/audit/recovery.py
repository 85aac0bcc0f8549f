"""Opening a log: find where the chain stands and repair what a crash can leave behind.

A crash can leave (a) a torn last line, a write cut short: it never became a record (its
``append`` did not return), so it is truncated away; (b) an empty new segment whose
predecessor never got its rotation checkpoint: the empty file is removed; (c) a head
file older than the newest checkpoint: it is rewritten. Anything a crash cannot explain
(a log shorter than its head, a rotation checkpoint whose next segment is gone, a
complete line that is not a record) refuses to open: appending would bury the evidence.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.audit.chain import GENESIS_HASH
from gateway.audit.checkpoint import CHECKPOINT_KIND, is_rotation, read_head, write_head
from gateway.audit.segments import (
    complete_length,
    fsync_directory,
    list_segments,
    reverse_lines,
    segment_name,
    segment_number,
)


class AuditCorrupt(Exception):
    """The log is in a state no crash explains; a person must look (``gateway audit verify``)."""


@dataclass(frozen=True)
class Recovered:
    seq: int
    last_hash: str
    segment: int
    size: int
    since_checkpoint: int
    torn_bytes: int
    removed_segment: str | None


def recover(directory: Path, checkpoint_every: int, writer: str | None = None) -> Recovered:
    """Where ``writer``'s chain in ``directory`` stands (None: the legacy writer)."""
    directory.mkdir(parents=True, exist_ok=True)
    segments = list_segments(directory, writer)
    if not segments:
        _check_head(directory, 0, None, writer)  # a head without segments: they were deleted
        _create(directory / segment_name(1, writer))
        return Recovered(0, GENESIS_HASH, 1, 0, 0, 0, None)
    last = segments[-1]
    torn = _truncate_torn_line(last)
    removed = None
    if len(segments) > 1 and last.stat().st_size == 0:
        before = _last_record(segments[-2])
        if before is None or not is_rotation(before):
            last.unlink()
            fsync_directory(directory)
            removed, segments = last.name, segments[:-1]
            last = segments[-1]
    tail = _scan_tail(last, checkpoint_every)
    if tail.last is None and len(segments) > 1:
        tail = _Tail(_last_record(segments[-2]), 0, None)
    if tail.last is not None and is_rotation(tail.last) and tail.last.get("segment") == last.name:
        raise AuditCorrupt(f"segment {tail.last.get('next_segment')} is missing")
    seq = int(tail.last["seq"]) if tail.last else 0
    _check_head(directory, seq, tail.checkpoint, writer)
    return Recovered(
        seq=seq,
        last_hash=str(tail.last["hash"]) if tail.last else GENESIS_HASH,
        segment=segment_number(last.name),
        size=last.stat().st_size,
        since_checkpoint=tail.since_checkpoint,
        torn_bytes=torn,
        removed_segment=removed,
    )


@dataclass(frozen=True)
class _Tail:
    last: dict[str, Any] | None
    since_checkpoint: int
    checkpoint: dict[str, Any] | None


def _scan_tail(path: Path, checkpoint_every: int) -> _Tail:
    """The last record, records since the last checkpoint (capped), and that checkpoint."""
    last: dict[str, Any] | None = None
    since = 0
    for raw in reverse_lines(path):
        record = _parse(raw, path)
        if last is None:
            last = record
        if record.get("kind") == CHECKPOINT_KIND:
            return _Tail(last, since, record)
        since += 1
        if since >= checkpoint_every:
            break
    return _Tail(last, since, None)


def _check_head(
    directory: Path, seq: int, newest: dict[str, Any] | None, writer: str | None
) -> None:
    try:
        head = read_head(directory, writer)
    except ValueError as exc:
        raise AuditCorrupt(str(exc)) from exc
    head_seq = int(head["seq"]) if head else 0
    if head_seq > seq:
        raise AuditCorrupt(
            f"the log ends at seq {seq} but its head file names a checkpoint at seq {head_seq}"
        )
    if newest is not None and int(newest["seq"]) > head_seq:
        write_head(directory, newest, writer)  # the crash came between checkpoint and head


def _last_record(path: Path) -> dict[str, Any] | None:
    for raw in reverse_lines(path):
        return _parse(raw, path)
    return None


def _parse(raw: bytes, path: Path) -> dict[str, Any]:
    try:
        record = json.loads(raw)
        int(record["seq"])
        str(record["hash"])
    except (ValueError, KeyError, TypeError) as exc:
        raise AuditCorrupt(f"{path.name} holds a line that is not an audit record") from exc
    if not isinstance(record, dict):
        raise AuditCorrupt(f"{path.name} holds a line that is not an audit record")
    return record


def _truncate_torn_line(path: Path) -> int:
    size = path.stat().st_size
    keep = complete_length(path)
    if keep == size:
        return 0
    fd = os.open(path, os.O_WRONLY)
    try:
        os.ftruncate(fd, keep)
        os.fsync(fd)
    finally:
        os.close(fd)
    return size - keep


def _create(path: Path) -> None:
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    fsync_directory(path.parent)
