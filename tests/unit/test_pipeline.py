"""The pipeline's stages, driven with fakes (no services)."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.context import ScopedContext
from gateway.errors import DependencyUnavailable, NotFound, PolicyDenied, UpstreamError
from gateway.identity import Principal
from gateway.metrics import GatewayMetrics, StageTimer
from gateway.pipeline import Answer, Caller, ModelCall, Ports, StreamAnswer, run
from gateway.pipeline.authorize import authorize
from gateway.pipeline.chat import CHAT, compose_chat, parse_chat
from gateway.pipeline.parse import gateway_options
from gateway.pipeline.prepare import prepare
from gateway.pipeline.values import Authorized
from gateway.policy import Decision
from gateway.redaction.placeholders import Placeholders
from gateway.upstream import UpstreamResponse, UpstreamStream

ALICE = Principal("alice", ("staff",), key_id="k1")
ALLOW = Decision(True, (), "dec-1", retrieval_enabled=True)


class FakeDecisions:
    def __init__(self, decision: Decision) -> None:
        self.decision = decision
        self.asked: list[tuple[str, str | None]] = []

    async def authorize(
        self, principal: Principal, action: str, model: str | None = None
    ) -> Decision:
        self.asked.append((action, model))
        return self.decision


class FakeAudit:
    def __init__(self, events: list[str]) -> None:
        self.records: list[tuple[str, dict[str, Any]]] = []
        self._events = events

    async def append(self, kind: str, fields: dict[str, Any]) -> str:
        self.records.append((kind, fields))
        self._events.append(f"audit:{kind}")
        return f"aud_{len(self.records)}"


class FakeUpstream:
    def __init__(
        self, events: list[str], *, fail: Exception | None = None, chunks: Sequence[bytes] = ()
    ) -> None:
        self.sent: list[tuple[str, bytes]] = []
        self._events, self._fail, self._chunks = events, fail, chunks

    async def post_json(self, path: str, body: bytes) -> UpstreamResponse:
        self._record(path, body)
        answer = {"choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}]}
        return UpstreamResponse(
            200, {"content-type": "application/json"}, json.dumps(answer).encode()
        )

    async def stream_json(self, path: str, body: bytes) -> UpstreamStream:
        self._record(path, body)
        return UpstreamStream(200, {}, self._iterate())

    async def _iterate(self) -> AsyncIterator[bytes]:
        for chunk in self._chunks:
            yield chunk
        if self._fail is not None:
            raise UpstreamError("dropped", code="upstream_disconnected")

    def _record(self, path: str, body: bytes) -> None:
        self._events.append("upstream")
        if self._fail is not None and not self._chunks:
            raise self._fail
        self.sent.append((path, body))


class FakeContext:
    """``build_context`` that redacts nothing and injects a fixed context message."""

    def __init__(self, message: dict[str, str] | None = None, fail: Exception | None = None):
        self.message, self.fail = message, fail
        self.queries: list[str | None] = []

    async def __call__(
        self,
        *,
        principal: Principal,
        body: dict[str, Any],
        query: str | None,
        decision: Decision,
        requested_corpora: Sequence[str] | None,
        placeholders: Placeholders,
        timer: StageTimer,
        prompt_tokens: Callable[[dict[str, Any]], int],
    ) -> ScopedContext:
        self.queries.append(query)
        if self.fail is not None:
            raise self.fail
        chunks = ({"doc_id": "d1", "chunk_id": "c1"},) if self.message else ()
        return ScopedContext(body=body, message=self.message, query=query, chunks_audit=chunks)


class Harness:
    def __init__(
        self,
        decision: Decision = ALLOW,
        *,
        context: FakeContext | None = None,
        upstream_fail: Exception | None = None,
        chunks: Sequence[bytes] = (),
    ) -> None:
        self.events: list[str] = []
        self.audit = FakeAudit(self.events)
        self.upstream = FakeUpstream(self.events, fail=upstream_fail, chunks=chunks)
        self.context = context or FakeContext()
        self.background: list[Coroutine[Any, Any, Any]] = []
        self.ports = Ports(
            decisions=FakeDecisions(decision),
            audit=self.audit,
            upstream=self.upstream,
            build_context=self.context,
            metrics=GatewayMetrics(),
            redaction_hash_key=b"k" * 32,
            prompt_cipher=None,
            admit=self._admit,
            settle=lambda principal, usage: None,
            background=self.background.append,
        )

    async def _admit(self, principal: Principal, body: dict[str, Any]) -> None:
        self.events.append("admit")

    async def drain(self) -> None:
        for coro in self.background:
            await coro
        self.background.clear()


def chat_call(content: str = "hello", **body: Any) -> ModelCall:
    raw = {"model": "m", "messages": [{"role": "user", "content": content}], **body}
    return parse_chat(json.dumps(raw).encode(), {})


CALLER = Caller(ALICE, "req_1")


async def test_denied_call_is_audited_then_refused() -> None:
    """A policy denial writes a request record with the reasons and sends nothing."""
    h = Harness(Decision(False, ("no model for you",), "dec-2"))
    with pytest.raises(PolicyDenied):
        await run(h.ports, CALLER, chat_call(), StageTimer(h.ports.metrics))
    ((kind, record),) = h.audit.records
    assert kind == "request"
    assert record["allowed"] is False
    assert record["denial_reasons"] == ["no model for you"]
    assert record["policy_decision_ids"] == ["dec-2"]
    assert h.upstream.sent == []


async def test_unoffered_model_is_a_404() -> None:
    """A model the gateway does not offer is OpenAI's 404 model_not_found."""
    h = Harness(Decision(False, ("not offered",), None, model_offered=False))
    with pytest.raises(NotFound) as caught:
        await authorize(h.ports, CALLER, chat_call(), StageTimer(h.ports.metrics))
    assert caught.value.code == "model_not_found"


async def test_record_is_durable_before_the_upstream_call() -> None:
    """The request record is appended before the upstream sees a byte, and names the
    exact bytes it got."""
    h = Harness(context=FakeContext({"role": "system", "content": "ctx"}))
    answer = await run(h.ports, CALLER, chat_call(), StageTimer(h.ports.metrics))
    assert isinstance(answer, Answer)
    assert h.events == ["admit", "audit:request", "upstream"]
    ((path, sent),) = h.upstream.sent
    record = h.audit.records[0][1]
    assert path == "chat/completions"
    assert record["upstream_body_sha256"] == hashlib.sha256(sent).hexdigest()
    assert record["chunks"] == [{"doc_id": "d1", "chunk_id": "c1"}]
    assert json.loads(sent)["messages"][0] == {"role": "system", "content": "ctx"}
    assert answer.headers["x-gateway-audit-id"] == "aud_1"
    await h.drain()
    kind, outcome = h.audit.records[-1]
    assert kind == "outcome"
    assert outcome["request_audit_id"] == "aud_1"
    assert outcome["finish_reason"] == "stop"


async def test_refusal_after_authorization_is_audited() -> None:
    """A context stage that cannot answer leaves a refused record and no upstream call."""
    h = Harness(context=FakeContext(fail=DependencyUnavailable("elasticsearch", "down")))
    with pytest.raises(DependencyUnavailable):
        await run(h.ports, CALLER, chat_call(), StageTimer(h.ports.metrics))
    ((_, record),) = h.audit.records
    assert record["allowed"] is False
    assert record["refused"] == "dependency_unavailable"
    assert record["status"] == 503
    assert "upstream" not in h.events


async def test_upstream_failure_is_the_outcome() -> None:
    """An upstream that cannot answer is recorded as the outcome; the error names the
    request's audit id."""
    h = Harness(upstream_fail=UpstreamError("timeout", code="upstream_timeout"))
    with pytest.raises(UpstreamError) as caught:
        await run(h.ports, CALLER, chat_call(), StageTimer(h.ports.metrics))
    assert caught.value.headers["x-gateway-audit-id"] == "aud_1"
    kind, outcome = h.audit.records[-1]
    assert kind == "outcome"
    assert outcome["error"] == "upstream_timeout"


async def test_stream_outcome_recorded_when_upstream_drops() -> None:
    """A stream cut by the upstream ends with an OpenAI error event and an outcome
    record saying it did not complete."""
    h = Harness(chunks=[b"data: {}\n\n"], upstream_fail=UpstreamError("x"))
    answer = await run(h.ports, CALLER, chat_call(stream=True), StageTimer(h.ports.metrics))
    assert isinstance(answer, StreamAnswer)
    received = [chunk async for chunk in answer.chunks]
    assert received[0] == b"data: {}\n\n"
    assert b"upstream_disconnected" in received[-1]
    await h.drain()
    outcome = h.audit.records[-1][1]
    assert outcome["stream_completed"] is False
    assert outcome["error"] == "upstream_disconnected"


async def test_retrieval_off_asks_no_query() -> None:
    """``x-gateway-retrieval: off`` reaches the context stage as no query; so does a
    policy that disables retrieval for the model."""
    h = Harness()
    call = parse_chat(
        json.dumps({"model": "m", "messages": [{"role": "user", "content": "q"}]}).encode(),
        {"x-gateway-retrieval": "off"},
    )
    await prepare(h.ports, Authorized(CALLER, call, ALLOW), StageTimer(h.ports.metrics))
    no_retrieval = Decision(True, (), None, retrieval_enabled=False)
    await prepare(
        h.ports, Authorized(CALLER, chat_call("q"), no_retrieval), StageTimer(h.ports.metrics)
    )
    await prepare(h.ports, Authorized(CALLER, chat_call("q"), ALLOW), StageTimer(h.ports.metrics))
    assert h.context.queries == [None, None, "q"]


def test_gateway_options_never_go_upstream() -> None:
    """The gateway's own metadata options are removed; other metadata stays."""
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "x"}],
        "metadata": {"gateway_corpora": "a", "team": "ops"},
    }
    assert compose_chat(body, None)["metadata"] == {"team": "ops"}
    only_ours = {**body, "metadata": {"gateway_retrieval": "off"}}
    assert "metadata" not in compose_chat(only_ours, None)
    assert gateway_options({}, body).corpora == ("a",)


@settings(max_examples=50, deadline=None)
@given(st.text(min_size=1, max_size=200))
def test_record_hash_matches_what_was_sent(content: str) -> None:
    """For any message, the record's body hash is the hash of the bytes forwarded."""

    async def scenario() -> None:
        h = Harness()
        await run(h.ports, CALLER, chat_call(content), StageTimer(h.ports.metrics))
        sent = h.upstream.sent[0][1]
        assert h.audit.records[0][1]["upstream_body_sha256"] == hashlib.sha256(sent).hexdigest()
        assert json.loads(sent)["messages"][-1]["content"] == content
        await h.drain()

    asyncio.run(scenario())


def test_chat_endpoint_restores() -> None:
    """Chat answers may be restored (when policy allows); the spec says how."""
    assert CHAT.restore_body is not None
    assert CHAT.restore_stream is not None
