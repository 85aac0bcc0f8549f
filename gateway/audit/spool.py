"""The segments are the spool: a cursor says how far a consumer has taken them.

The cursor (segment name + byte offset) lives in the audit directory and is replaced
atomically after each batch the consumer confirmed, so a crash repeats at most the last
batch, never skips one. Reading stops at the last complete line and, when the writer
runs in this process, at what it has made durable; a segment is left for the next only
once it is finished (it ends with its rotation checkpoint, or the next one has data).
A spool follows one writer's chain (``spool-<consumer>@<writer>.cursor.json``; the legacy
chain keeps ``spool-<consumer>.cursor.json``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from gateway.audit.checkpoint import is_rotation
from gateway.audit.segments import (
    complete_length,
    list_segments,
    reverse_lines,
    segment_name,
    segment_number,
    write_atomic,
)

log = structlog.get_logger("gateway.audit.spool")

DurablePosition = Callable[[], tuple[str, int]]


@dataclass(frozen=True)
class Cursor:
    segment: str
    offset: int


@dataclass(frozen=True)
class Batch:
    records: list[dict[str, Any]]
    start: Cursor
    end: Cursor


class Spool:
    """Reads records after a named consumer's cursor; ``commit`` moves the cursor."""

    def __init__(
        self,
        directory: Path,
        consumer: str,
        *,
        durable: DurablePosition | None = None,
        writer: str | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.writer = writer
        name = consumer if writer is None else f"{consumer}@{writer}"
        self.cursor_path = self.directory / f"spool-{name}.cursor.json"
        self._durable = durable

    def load_cursor(self) -> Cursor:
        """The committed cursor; the start of the log if there is none or it is unreadable
        (re-reading is safe for an idempotent consumer, skipping is not)."""
        start = Cursor(segment_name(1, self.writer), 0)
        if not self.cursor_path.exists():
            return start
        cursor = _parse_cursor(self.cursor_path.read_bytes())
        if cursor is None:
            log.error("audit_spool_cursor_unreadable", path=str(self.cursor_path))
        return cursor or start

    def commit(self, cursor: Cursor) -> None:
        payload = {"segment": cursor.segment, "offset": cursor.offset}
        write_atomic(self.cursor_path, json.dumps(payload).encode() + b"\n")

    def read(self, cursor: Cursor, max_records: int, max_bytes: int = 8 << 20) -> Batch:
        """The next complete records after ``cursor`` (at most ``max_records``)."""
        while True:
            path = self.directory / cursor.segment
            data = self._read_complete(path, cursor.offset, max_bytes) if path.exists() else b""
            if data:
                return self._batch(cursor, data, max_records)
            following = self._following(cursor)
            if following is None:
                return Batch([], cursor, cursor)
            cursor = Cursor(following, 0)

    def _read_complete(self, path: Path, offset: int, max_bytes: int) -> bytes:
        limit = self._limit(path.name)
        budget = None if limit is None else max(limit - offset, 0)
        with path.open("rb") as handle:
            handle.seek(offset)
            data = b""
            while b"\n" not in data:  # more than once only for a record over max_bytes
                room = max_bytes if budget is None else min(max_bytes, budget - len(data))
                more = handle.read(room) if room > 0 else b""
                if not more:
                    break
                data += more
        return data[: data.rfind(b"\n") + 1]

    def _limit(self, name: str) -> int | None:
        """Bytes of ``name`` the writer has made durable (None: all of them)."""
        if self._durable is None:
            return None
        segment, size = self._durable()
        number, durable_number = segment_number(name), segment_number(segment)
        if number < durable_number:
            return None
        return size if number == durable_number else 0

    def _batch(self, cursor: Cursor, data: bytes, max_records: int) -> Batch:
        records: list[dict[str, Any]] = []
        offset = cursor.offset
        for raw in data[:-1].split(b"\n"):
            if len(records) >= max_records:
                break
            try:
                record = json.loads(raw)
            except ValueError:
                record = None
            if isinstance(record, dict):
                records.append(record)
            else:
                log.error("audit_spool_unreadable_line", segment=cursor.segment, offset=offset)
            offset += len(raw) + 1
        return Batch(records, cursor, Cursor(cursor.segment, offset))

    def _following(self, cursor: Cursor) -> str | None:
        """The segment after the cursor's, once the cursor has all of a finished one."""
        number = segment_number(cursor.segment)
        later = [
            p for p in list_segments(self.directory, self.writer) if segment_number(p.name) > number
        ]
        if not later:
            return None
        current = self.directory / cursor.segment
        if not current.exists():
            log.error("audit_spool_segment_missing", segment=cursor.segment, next=later[0].name)
            return later[0].name
        if cursor.offset < complete_length(current):
            return None  # the rest is not durable yet
        following = later[0]
        writer_moved_on = following.stat().st_size > 0 and self._limit(following.name) != 0
        return following.name if writer_moved_on or _finished(current) else None


def _parse_cursor(raw: bytes) -> Cursor | None:
    try:
        data = json.loads(raw)
        cursor = Cursor(str(data["segment"]), int(data["offset"]))
        segment_number(cursor.segment)
    except (ValueError, KeyError, TypeError):
        return None
    return cursor


def _finished(path: Path) -> bool:
    for raw in reverse_lines(path):
        try:
            record = json.loads(raw)
        except ValueError:
            return False
        return isinstance(record, dict) and is_rotation(record)
    return False
