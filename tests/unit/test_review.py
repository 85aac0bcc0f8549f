"""Review sessions, the SVG charts, and the review pages' reading of the trail."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.audit import AuditLog
from gateway.identity import Principal
from gateway.review.charts import bar_chart
from gateway.review.data import (
    RequestQuery,
    daily_counts,
    document_exposure,
    redaction_types,
    search_requests,
)
from gateway.review.sessions import SessionStore, csrf_matches

CAROL = Principal("carol", ("security",), {"tenant": "acme"})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_session_is_found_by_its_id_only() -> None:
    """The id given to the browser finds the session; any other string finds nothing."""
    store = SessionStore()
    session_id, _session = store.create(CAROL)
    found = store.get(session_id)
    assert found is not None
    assert found.principal == CAROL
    assert store.get(session_id + "x") is None
    assert store.get(None) is None
    assert session_id not in repr(store._sessions)  # stored under a digest


def test_sessions_end_when_idle_or_too_old() -> None:
    """Idle past the limit, or older than the absolute limit, a session is gone."""
    clock = Clock()
    store = SessionStore(idle_s=60, absolute_s=300, clock=clock)
    idle_id, _ = store.create(CAROL)
    clock.now += 61
    assert store.get(idle_id) is None
    busy_id, _ = store.create(CAROL)
    for _ in range(5):
        clock.now += 50
        assert store.get(busy_id) is not None
    clock.now += 51
    assert store.get(busy_id) is None


def test_sign_out_and_eviction() -> None:
    """end() removes a session; past the cap the oldest sign-in is evicted."""
    store = SessionStore(max_sessions=2)
    first, _ = store.create(CAROL)
    second, _ = store.create(CAROL)
    third, _ = store.create(CAROL)
    assert store.get(first) is None
    store.end(second)
    assert store.get(second) is None
    assert store.get(third) is not None
    assert len(store) == 1


def test_csrf_token_must_match_exactly() -> None:
    """The form token is the session's own; a missing or other token does not match."""
    store = SessionStore()
    _, session = store.create(CAROL)
    _, other = store.create(CAROL)
    assert csrf_matches(session, session.csrf_token)
    assert not csrf_matches(session, other.csrf_token)
    assert not csrf_matches(session, None)


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
