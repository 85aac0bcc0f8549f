"""Callers' messages: analysed once per content, refused with 413 beyond the limits."""

from typing import Any

import pytest

from gateway.errors import PayloadTooLarge
from gateway.message_pii import MessageAnalyzer
from gateway.pii.analyzer import PiiSpan


class RecordingAnalyzer:
    """Finds one span per text (its length) and records each call."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    async def __call__(self, texts: list[str]) -> list[list[PiiSpan]]:
        self.calls.append(list(texts))
        return [[PiiSpan(type="LEN", start=0, end=len(t), score=1.0)] for t in texts]


async def test_each_text_is_analysed_once_while_cached() -> None:
    """A replayed history is not analysed again; each text gets its own spans."""
    recorder = RecordingAnalyzer()
    analyzer = MessageAnalyzer(recorder, cache_size=10)
    first = await analyzer.spans_for(["ab", "abc"])
    second = await analyzer.spans_for(["ab", "abc", "abcd"])
    assert recorder.calls == [["ab", "abc"], ["abcd"]]
    assert [s[0]["end"] for s in first] == [2, 3]
    assert [s[0]["end"] for s in second] == [2, 3, 4]


async def test_a_message_over_the_limit_is_refused_with_413_naming_the_limit() -> None:
    """One text longer than the per-message limit: 413, nothing analysed."""
    recorder = RecordingAnalyzer()
    analyzer = MessageAnalyzer(recorder, max_message_chars=10, max_request_chars=100)
    with pytest.raises(PayloadTooLarge) as caught:
        await analyzer.spans_for(["short", "x" * 11])
    error: Any = caught.value
    assert error.status_code == 413
    assert error.code == "message_too_long"
    assert "GATEWAY_MESSAGE_PII_MAX_MESSAGE_CHARS" in error.message
    assert "10 characters" in error.message
    assert recorder.calls == []


async def test_a_request_over_the_limit_is_refused_even_if_cached() -> None:
    """The request limit counts every text, cached or not: the answer does not depend on
    what the cache happens to hold."""
    recorder = RecordingAnalyzer()
    analyzer = MessageAnalyzer(recorder, max_message_chars=10, max_request_chars=20)
    await analyzer.spans_for(["x" * 10, "y" * 10])
    with pytest.raises(PayloadTooLarge) as caught:
        await analyzer.spans_for(["x" * 10, "y" * 10, "z"])
    assert caught.value.code == "messages_too_long"
    assert "GATEWAY_MESSAGE_PII_MAX_REQUEST_CHARS" in caught.value.message
    assert len(recorder.calls) == 1


async def test_texts_at_the_limits_are_analysed() -> None:
    """Exactly at both limits is allowed."""
    recorder = RecordingAnalyzer()
    analyzer = MessageAnalyzer(recorder, max_message_chars=10, max_request_chars=20)
    found = await analyzer.spans_for(["x" * 10, "y" * 10])
    assert [s[0]["end"] for s in found] == [10, 10]


def _span(text: str) -> list[dict[str, Any]]:
    return [{"type": "PERSON", "start": 0, "end": len(text), "score": 0.9}]


async def test_message_spans_survive_cache_eviction() -> None:
    """Spans come from this call's lookups: a tiny or zero-sized cache never means no PII."""

    async def analyze(texts: list[str]) -> list[list[dict[str, Any]]]:
        return [_span(t) for t in texts]

    for size in (0, 1):
        analyzer = MessageAnalyzer(analyze, cache_size=size)  # type: ignore[arg-type]
        spans = await analyzer.spans_for(["Alice", "Bob", "Carol"])
        assert all(s for s in spans), f"cache_size={size} lost spans"
