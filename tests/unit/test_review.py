"""Review form tokens, the SVG charts, and the review pages' reading of the trail."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.audit import AuditLog
from gateway.hashing import sha256_hex
from gateway.identity import Principal
from gateway.review.charts import bar_chart
from gateway.review.data import (
    RequestQuery,
    daily_counts,
    document_exposure,
    redaction_types,
    search_requests,
)
from gateway.review.sessions import Session, csrf_matches, csrf_token

CAROL = Principal("carol", ("security",), {"tenant": "acme"})


def _session(session_id: str) -> Session:
    return Session(CAROL, csrf_token(session_id), 0.0, 0.0)


def test_csrf_token_must_match_exactly() -> None:
    """The form token is the session's own; a missing or other session's token does not
    match."""
    session, other = _session("first-session-id"), _session("second-session-id")
    assert csrf_matches(session, session.csrf_token)
    assert not csrf_matches(session, other.csrf_token)
    assert not csrf_matches(session, None)


def test_the_form_token_reveals_neither_the_session_id_nor_its_stored_digest() -> None:
    """The token is derived from the session id in its own digest domain: it is not the
    id, nor the SHA-256 the session is stored under."""
    token = csrf_token("some-session-id")
    assert token == csrf_token("some-session-id")
    assert "some-session-id" not in token
    assert token != sha256_hex("some-session-id")


@given(st.text(max_size=30), st.lists(st.integers(0, 10_000), max_size=40))
def test_charts_escape_labels_and_describe_themselves(title: str, values: list[int]) -> None:
    """Whatever the title, the SVG holds it escaped, with role img and a description."""
    points = [(f"2026-12-{n % 28 + 1:02d}", v) for n, v in enumerate(values)]
    svg = str(bar_chart("c1", title + "<script>", points))
    assert "<script>" not in svg
    assert 'role="img"' in svg
    assert f"{sum(values)} in total" in svg
    assert svg.count("<rect") == len(values)


def request(subject: str, **fields: Any) -> dict[str, Any]:
    return {"subject": subject, "endpoint": "chat.completions", "model": "gpt-4o-mini", **fields}


def chunk(doc_id: str, entity: str | None = None) -> dict[str, Any]:
    redactions = [{"entity_type": entity, "operator": "replace", "count": 1}] if entity else []
    return {"doc_id": doc_id, "chunk_id": f"{doc_id}#0", "corpus": "h", "redactions": redactions}


@pytest.fixture
async def trail(tmp_path: Path) -> Path:
    """alice twice (one with a PERSON redaction), bob denied, carol refused."""
    async with AuditLog(tmp_path) as audit:
        await audit.append("request", request("alice", allowed=True, chunks=[chunk("a", "PERSON")]))
        await audit.append("request", request("bob", allowed=False, denial_reasons=["no"]))
        await audit.append("request", request("carol", allowed=False, refused="opa_down"))
        both = [chunk("a"), chunk("b")]
        await audit.append("request", request("alice", allowed=True, chunks=both, model="gpt-4o"))
    return tmp_path


def test_search_filters_outcome_model_and_redaction(trail: Path) -> None:
    """Outcome, model and redacted entity type narrow the search; newest first."""

    def subjects(query: RequestQuery) -> list[str]:
        return [r["subject"] for r in search_requests(trail, query).rows]

    assert subjects(RequestQuery()) == ["alice", "carol", "bob", "alice"]
    assert subjects(RequestQuery(outcome="denied")) == ["bob"]
    assert subjects(RequestQuery(outcome="refused")) == ["carol"]
    assert subjects(RequestQuery(model="gpt-4o")) == ["alice"]
    assert subjects(RequestQuery(redaction="PERSON")) == ["alice"]
    assert subjects(RequestQuery(doc_id="b")) == ["alice"]


def test_search_pages(trail: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages hold PAGE_SIZE rows; a page past the end shows the last one."""
    monkeypatch.setattr("gateway.review.data.PAGE_SIZE", 3)
    first = search_requests(trail, RequestQuery())
    assert (len(first.rows), first.total, first.pages) == (3, 4, 2)
    last = search_requests(trail, RequestQuery(page=9))
    assert (last.page, [r["subject"] for r in last.rows]) == (2, ["alice"])


def test_daily_counts_and_exposure(trail: Path) -> None:
    """Today's counts add up per kind of outcome; exposure lists every prompt per document."""
    today = datetime.now(UTC).date()
    overview = daily_counts(trail, days=3, today=today)
    assert [d.day for d in overview.days] == [today - timedelta(2), today - timedelta(1), today]
    assert overview.totals == {"requests": 4, "denied": 1, "refused": 1, "chunks": 3}
    assert daily_counts(trail, days=2, today=date(2000, 1, 2)).totals["requests"] == 0
    exposure = document_exposure(trail, "a")
    assert len(exposure.rows) == 2
    assert exposure.subjects == [("alice", 2)]
    assert exposure.per_day == [(today, 2)]


def test_redaction_types_are_found_anywhere_in_the_record() -> None:
    """Entity types come from chunk redactions and message redactions alike."""
    record = {
        "chunks": [chunk("a", "PERSON")],
        "message_redactions": [{"entity_type": "EMAIL_ADDRESS", "operator": "mask", "count": 2}],
    }
    assert redaction_types(record) == {"PERSON", "EMAIL_ADDRESS"}
    assert redaction_types({}) == set()
