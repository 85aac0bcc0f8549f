"""What the review pages show, read from the local trail through ``gateway.audit``'s
public functions (``search``, ``show``, ``exposure``, ``verify``): the same answers as
``gateway audit ...`` and the admin API."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from gateway.audit import SearchFilters, exposure, search, show
from gateway.audit.verify import VerifyReport, summarize, verify_all

Outcome = Literal["any", "allowed", "denied", "refused"]
PAGE_SIZE = 50


@dataclass(frozen=True)
class RequestQuery:
    """The search form: every field optional."""

    subject: str | None = None
    doc_id: str | None = None
    corpus: str | None = None
    model: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    outcome: Outcome = "any"
    redaction: str | None = None
    """Only requests where this entity type (e.g. PERSON) was redacted."""
    page: int = 1


@dataclass
class Page:
    rows: list[dict[str, Any]]
    total: int
    page: int
    pages: int


def outcome_of(record: dict[str, Any]) -> str:
    if record.get("refused"):
        return "refused"
    return "denied" if record.get("allowed") is False else "allowed"


def redaction_types(record: dict[str, Any]) -> set[str]:
    """Entity types redacted anywhere in the record (chunks and the caller's messages)."""
    found: set[str] = set()
    stack: list[Any] = [record.get("chunks"), record.get("message_redactions")]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("entity_type"), str):
                found.add(item["entity_type"])
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def search_requests(directory: Path, query: RequestQuery) -> Page:
    """Matching request records, newest first, one page of them."""
    found = search(
        directory,
        SearchFilters(
            subject=query.subject,
            doc_id=query.doc_id,
            corpus=query.corpus,
            since=query.since,
            until=query.until,
        ),
    )
    kept = [
        r
        for r in found
        if (query.model is None or r.get("model") == query.model)
        and (query.outcome == "any" or outcome_of(r) == query.outcome)
        and (query.redaction is None or query.redaction in redaction_types(r))
    ]
    kept.reverse()
    pages = max(1, -(-len(kept) // PAGE_SIZE))
    page = min(max(1, query.page), pages)
    rows = kept[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    return Page(rows, len(kept), page, pages)


def request_detail(directory: Path, audit_id: str) -> dict[str, Any] | None:
    """The record, its outcomes and its place in the chain."""
    return show(directory, audit_id)


@dataclass
class DayCounts:
    day: date
    requests: int = 0
    denied: int = 0
    refused: int = 0
    chunks: int = 0


@dataclass
class Overview:
    days: list[DayCounts]
    totals: dict[str, int] = field(default_factory=dict)


def daily_counts(directory: Path, days: int = 14, today: date | None = None) -> Overview:
    """Requests, denials, refusals and chunks injected per UTC day, the last ``days``."""
    end = today or datetime.now(UTC).date()
    start = end - timedelta(days=days - 1)
    since = datetime(start.year, start.month, start.day, tzinfo=UTC)
    per_day = {start + timedelta(n): DayCounts(start + timedelta(n)) for n in range(days)}
    for record in search(directory, SearchFilters(since=since)):
        try:
            day = datetime.fromisoformat(str(record["time"])).astimezone(UTC).date()
        except (KeyError, ValueError):
            continue
        counts = per_day.get(day)
        if counts is None:
            continue
        counts.requests += 1
        outcome = outcome_of(record)
        counts.denied += outcome == "denied"
        counts.refused += outcome == "refused"
        chunks = record.get("chunks")
        counts.chunks += len(chunks) if isinstance(chunks, list) else 0
    ordered = list(per_day.values())
    totals = {
        name: sum(getattr(d, name) for d in ordered)
        for name in ("requests", "denied", "refused", "chunks")
    }
    return Overview(ordered, totals)


@dataclass
class Exposure:
    doc_id: str
    rows: list[dict[str, Any]]
    subjects: list[tuple[str, int]]
    per_day: list[tuple[date, int]]


def document_exposure(directory: Path, doc_id: str) -> Exposure:
    rows = exposure(directory, doc_id)
    subjects = Counter(str(r.get("subject")) for r in rows)
    days: Counter[date] = Counter()
    for row in rows:
        try:
            days[datetime.fromisoformat(str(row["time"])).astimezone(UTC).date()] += 1
        except (KeyError, ValueError):
            continue
    rows = list(reversed(rows))
    return Exposure(doc_id, rows, subjects.most_common(), sorted(days.items()))


def chain_status(directory: Path, hmac_key: str | None) -> VerifyReport:
    """Every chain of the directory (one per gateway worker), as one summary."""
    return summarize(verify_all([directory], hmac_key))
