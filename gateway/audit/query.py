"""Reading the local trail for review: search, one record with its outcomes, exposure.

Plain functions over the segments, shared by ``gateway audit`` and an admin API. They
scan in log order (a line is parsed only if it can match), skip what is not a complete
record, and never check the chain: that is ``verify``'s job. At scale, the
``<prefix>-audit`` index answers the same questions.

A directory holds one chain per writer (gateway worker), and replicas have a directory
each: every function takes one directory or several and merges all their chains by
record time (each chain is already in time order, so the merge streams).
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.audit.segments import all_segments, iter_lines

Directories = Path | Sequence[Path]


@dataclass(frozen=True)
class SearchFilters:
    """What ``search`` keeps; unset fields do not filter."""

    subject: str | None = None
    """Only records of this subject."""
    doc_id: str | None = None
    """Only requests whose prompt held a chunk of this document."""
    corpus: str | None = None
    """Only requests whose prompt held a chunk of this corpus."""
    since: datetime | None = None
    """Records at or after this time (naive times are UTC)."""
    until: datetime | None = None
    """Records before this time (naive times are UTC)."""
    denied: bool | None = None
    """True: only requests policy denied; False: only allowed ones."""
    kind: str | None = "request"
    """Record kind (``request``, ``outcome``, ``checkpoint``); None for every kind."""
    limit: int | None = None
    """Stop after this many matches."""


def records(directories: Directories, containing: str | None = None) -> Iterator[dict[str, Any]]:
    """Every complete record of every chain, merged by time (log order within a chain);
    with ``containing``, only lines holding that JSON string value (a cheap pre-filter:
    callers still check the field)."""
    needle = json.dumps(containing, ensure_ascii=False).encode() if containing else None
    streams = [
        chain_records(segments, needle)
        for directory in _as_list(directories)
        for segments in all_segments(Path(directory)).values()
    ]
    if len(streams) == 1:
        return streams[0]
    return heapq.merge(*streams, key=_time_key)


def chain_records(segments: list[Path], needle: bytes | None = None) -> Iterator[dict[str, Any]]:
    """The complete records of one chain's segments, in log order."""
    for path in segments:
        for _number, _offset, raw, complete in iter_lines(path):
            if not complete or (needle is not None and needle not in raw):
                continue
            try:
                record = json.loads(raw)
            except ValueError:
                continue
            if isinstance(record, dict):
                yield record


def search(directory: Directories, filters: SearchFilters | None = None) -> list[dict[str, Any]]:
    """Records matching every set filter, in log order."""
    filters = filters or SearchFilters()
    needle = filters.doc_id or filters.subject or filters.corpus
    found: list[dict[str, Any]] = []
    for record in records(directory, needle):
        if _matches(record, filters):
            found.append(record)
            if filters.limit is not None and len(found) >= filters.limit:
                break
    return found


def show(directory: Directories, audit_id: str) -> dict[str, Any] | None:
    """``{"record": ..., "outcomes": [...]}`` for one audit id, or None if absent."""
    record: dict[str, Any] | None = None
    outcomes: list[dict[str, Any]] = []
    for candidate in records(directory, audit_id):
        if candidate.get("audit_id") == audit_id:
            record = candidate
        elif candidate.get("kind") == "outcome" and candidate.get("request_audit_id") == audit_id:
            outcomes.append(candidate)
    return None if record is None else {"record": record, "outcomes": outcomes}


def exposure(directory: Directories, doc_id: str) -> list[dict[str, Any]]:
    """Every request whose prompt held a chunk of ``doc_id``: who, when, which model."""
    exposed = []
    for record in records(directory, doc_id):
        chunks = [c for c in _chunks(record) if c.get("doc_id") == doc_id]
        if record.get("kind") != "request" or not chunks:
            continue
        exposed.append(
            {
                "time": record.get("time"),
                "subject": record.get("subject"),
                "audit_id": record.get("audit_id"),
                "model": record.get("model"),
                "request_id": record.get("request_id"),
                "chunks": [
                    {k: c.get(k) for k in ("chunk_id", "doc_version", "corpus", "classification")}
                    for c in chunks
                ],
            }
        )
    return exposed


def _matches(record: dict[str, Any], filters: SearchFilters) -> bool:
    chunks = _chunks(record)
    checks = (
        filters.kind is None or record.get("kind") == filters.kind,
        filters.subject is None or record.get("subject") == filters.subject,
        filters.doc_id is None or any(c.get("doc_id") == filters.doc_id for c in chunks),
        filters.corpus is None or any(c.get("corpus") == filters.corpus for c in chunks),
        filters.denied is None or (record.get("allowed") is False) == filters.denied,
    )
    if not all(checks):
        return False
    if filters.since is None and filters.until is None:
        return True
    when = _time(record)
    if when is None:
        return False
    return (filters.since is None or when >= _utc(filters.since)) and (
        filters.until is None or when < _utc(filters.until)
    )


def _as_list(directories: Directories) -> list[Path]:
    if isinstance(directories, str | Path):
        return [Path(directories)]
    return [Path(directory) for directory in directories]


def _time_key(record: dict[str, Any]) -> datetime:
    return _time(record) or datetime.min.replace(tzinfo=UTC)


def _chunks(record: dict[str, Any]) -> list[dict[str, Any]]:
    chunks = record.get("chunks")
    return [c for c in chunks if isinstance(c, dict)] if isinstance(chunks, list) else []


def _time(record: dict[str, Any]) -> datetime | None:
    try:
        return _utc(datetime.fromisoformat(str(record.get("time"))))
    except ValueError:
        return None


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
