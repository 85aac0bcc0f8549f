"""Regression tests for defects found in review: each one fails on the old code."""

from typing import Any

import pytest
from structlog.testing import capture_logs

from gateway.errors import DependencyUnavailable, UpstreamError
from gateway.finetune.examples import parse_examples
from gateway.http.errors import gateway_error_handler
from gateway.message_pii import MessageAnalyzer
from gateway.policy import parse_authz_decision
from gateway.redaction.placeholders import Placeholders


def test_restoration_is_limited_to_tokens_that_were_sent() -> None:
    """A value redacted from a chunk the budget left out cannot be restored by its token."""
    placeholders = Placeholders(b"k")
    sent = placeholders.replace("PERSON", "Alice Visible")
    hidden = placeholders.replace("PERSON", "Bob Secretname")
    view = placeholders.restricted_to(f'{{"messages": [{{"content": "{sent} met"}}]}}')
    assert view.restore(f"{sent} and {hidden}") == f"Alice Visible and {hidden}"


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


def test_finetune_scan_reads_tool_calls_next_to_content() -> None:
    """Tool-call arguments are scanned even when the message also has content."""
    line = (
        '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", '
        '"content": "ok", "tool_calls": [{"type": "function", "function": {"name": "f", '
        '"arguments": "{\\"text\\": \\"governed passage\\"}"}}]}]}'
    )
    parsed = parse_examples(line.encode())
    texts = " ".join(t for example in parsed for t in example.texts)
    assert "governed passage" in texts


@pytest.mark.parametrize("corpora", ["hr", [1, 2], {"a": 1}])
def test_malformed_corpora_restriction_fails_closed(corpora: Any) -> None:
    """A corpora restriction of the wrong type is an error, never 'all corpora'."""
    response = {"result": {"allow": True, "retrieval": {"enabled": True, "corpora": corpora}}}
    with pytest.raises(DependencyUnavailable, match="wrong shape"):
        parse_authz_decision(response)


def test_upstream_error_text_is_not_logged() -> None:
    """An upstream message (which may quote the prompt) is relayed, not logged."""
    with capture_logs() as logs:
        response = gateway_error_handler(None, UpstreamError("input was: secret prompt text"))  # type: ignore[arg-type]
    assert response.status_code == 502
    assert "secret prompt text" not in repr(logs)
