"""Chat with scoped context: authorized chunks only, redacted per policy, audited exactly."""

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from gateway.settings import Settings

from ..conftest import ALICE, BOB, CAROL
from .conftest import INJECTED_DOCUMENT, FakeUpstream, audit_records

pytestmark = pytest.mark.integration

CHAT = "/v1/chat/completions"
DOCUMENT = INJECTED_DOCUMENT


def _ask(content: str, **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}], **extra}


def _injected(received: dict[str, Any]) -> dict[str, str]:
    """doc_id -> chunk text of the context message the upstream received."""
    first = received["body"]["messages"][0]
    assert first["role"] == "system"
    return {doc_id: text for doc_id, text in DOCUMENT.findall(first["content"])}


def _audit(settings: Settings) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for path in sorted(Path(settings.audit_dir).glob("*.jsonl"))
        for line in path.read_text().splitlines()
    ]


async def test_only_authorized_chunks_reach_the_model(
    demo_client: AsyncTestClient[Any], fake_upstream: FakeUpstream
) -> None:
    """bob (sales) asking about everything gets pricing, never the runbook or key accounts."""
    response = await demo_client.post(
        CHAT,
        json=_ask("price discount seat vault tokens Globex renewal"),
        headers={"Authorization": f"Bearer {BOB}"},
    )
    assert response.status_code == 200, response.text
    (received,) = fake_upstream.requests()
    injected = _injected(received)
    assert set(injected) <= {"acme-pricing-2026", "acme-vacation-policy"}
    assert "acme-pricing-2026" in injected
    raw = received["raw_body"]
    assert "break-glass" not in raw
    assert "Globex renews" not in raw


async def test_pii_is_redacted_and_audit_matches_what_was_sent(
    demo_client: AsyncTestClient[Any], settings: Settings, fake_upstream: FakeUpstream
) -> None:
    """carol sees key accounts, but contact details reach the model as placeholders only."""
    response = await demo_client.post(
        CHAT,
        json=_ask("Globex champion contact renewal"),
        headers={"Authorization": f"Bearer {CAROL}"},
    )
    assert response.status_code == 200, response.text
    (received,) = fake_upstream.requests()
    injected = _injected(received)
    accounts = injected["acme-key-accounts"]
    assert "maria.gonzales@globex.example" not in received["raw_body"]
    assert "415 555 0134" not in received["raw_body"]
    assert "<EMAIL_ADDRESS_1>" in accounts
    request_record = next(r for r in _audit(settings) if r["kind"] == "request")
    assert (
        request_record["upstream_body_sha256"]
        == hashlib.sha256(received["raw_body"].encode()).hexdigest()
    )
    audited = {c["doc_id"]: c for c in request_record["chunks"]}
    assert set(audited) == set(injected)
    for doc_id, text in injected.items():
        assert audited[doc_id]["sha256_injected"] == hashlib.sha256(text.encode()).hexdigest()
    types = {r["entity_type"] for r in audited["acme-key-accounts"]["redactions"]}
    assert {"EMAIL_ADDRESS", "PHONE_NUMBER"} <= types
    assert "maria.gonzales" not in json.dumps(request_record)


async def test_security_caller_gets_originals_restored(
    demo_client: AsyncTestClient[Any], fake_upstream: FakeUpstream
) -> None:
    """Policy lets carol (security) see originals: placeholders in the answer are restored."""
    response = await demo_client.post(
        CHAT,
        json=_ask("Globex champion contact renewal"),
        headers={"Authorization": f"Bearer {CAROL}"},
    )
    answer = response.json()["choices"][0]["message"]["content"]
    assert "Seen: " in answer  # the fake echoed the placeholders it received
    assert "maria.gonzales@globex.example" in answer
    assert "<EMAIL_ADDRESS_1>" not in answer


async def test_streamed_and_tool_call_restoration(
    demo_client: AsyncTestClient[Any], fake_upstream: FakeUpstream
) -> None:
    """Split placeholders are restored in streamed content and tool-call arguments."""
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {}}}]
    headers = {"Authorization": f"Bearer {CAROL}"}
    streamed = await demo_client.post(
        CHAT, json=_ask("Globex champion contact", stream=True), headers=headers
    )
    text = ""
    arguments = ""
    for line in streamed.text.splitlines():
        if line.startswith("data: {"):
            delta = json.loads(line[6:])["choices"][0]["delta"]
            text += delta.get("content") or ""
    assert "maria.gonzales@globex.example" in text
    assert "<EMAIL_ADDRESS" not in text
    tool_stream = await demo_client.post(
        CHAT, json=_ask("Globex champion contact", stream=True, tools=tools), headers=headers
    )
    for line in tool_stream.text.splitlines():
        if line.startswith("data: {"):
            for call in json.loads(line[6:])["choices"][0]["delta"].get("tool_calls") or []:
                arguments += call.get("function", {}).get("arguments") or ""
    people = json.loads(arguments)["people"]
    assert "maria.gonzales@globex.example" in people
    assert not any(p.startswith("<") for p in people)


async def test_other_callers_keep_placeholders(
    demo_client: AsyncTestClient[Any], fake_upstream: FakeUpstream
) -> None:
    """Without the policy's restore, the answer keeps placeholders (no original leaks back)."""
    response = await demo_client.post(
        CHAT,
        json=_ask("break-glass vault tokens incident"),
        headers={"Authorization": f"Bearer {ALICE}"},
    )
    assert response.status_code == 200
    (received,) = fake_upstream.requests()
    assert "acme-incident-runbook" in _injected(received)


async def test_retrieval_can_be_switched_off_and_narrowed(
    demo_client: AsyncTestClient[Any], fake_upstream: FakeUpstream
) -> None:
    """x-gateway-retrieval: off sends no context; gateway_corpora narrows; our keys are stripped."""
    auth = {"Authorization": f"Bearer {BOB}"}
    await demo_client.post(
        CHAT, json=_ask("price discount"), headers={**auth, "x-gateway-retrieval": "off"}
    )
    await demo_client.post(
        CHAT,
        json=_ask("price discount", metadata={"gateway_corpora": "other", "team": "x"}),
        headers=auth,
    )
    as_array = await demo_client.post(
        CHAT, json=_ask("price discount", metadata={"gateway_corpora": ["other"]}), headers=auth
    )
    widened = await demo_client.post(
        CHAT,
        json=_ask("price discount", metadata={"gateway_corpora": ["acme-handbook"]}),
        headers=auth,
    )
    malformed = await demo_client.post(
        CHAT, json=_ask("price discount", metadata={"gateway_corpora": 5}), headers=auth
    )
    assert as_array.status_code == widened.status_code == 200
    assert malformed.status_code == 400
    assert malformed.json()["error"]["param"] == "metadata.gateway_corpora"
    off, narrowed, narrowed_by_array, pricing = fake_upstream.requests()
    assert [m["role"] for m in off["body"]["messages"]] == ["user"]
    assert [m["role"] for m in narrowed["body"]["messages"]] == ["user"]
    assert narrowed["body"]["metadata"] == {"team": "x"}
    assert [m["role"] for m in narrowed_by_array["body"]["messages"]] == ["user"]
    assert "metadata" not in narrowed_by_array["body"]
    assert "acme-pricing-2026" in _injected(pricing)


async def test_caller_pii_is_redacted_and_analysis_is_cached(
    demo_client: AsyncTestClient[Any], fake_upstream: FakeUpstream
) -> None:
    """The caller's phone number reaches the model as a placeholder; a replayed history
    is not analysed again."""
    history = [{"role": "user", "content": "Call me on +1 415 555 0199 about the vacation days."}]
    auth = {"Authorization": f"Bearer {BOB}", "x-gateway-retrieval": "off"}
    analyzer = demo_client.app.state.services.message_analyzer
    await demo_client.post(CHAT, json={"model": "gpt-4o-mini", "messages": history}, headers=auth)
    analysed = analyzer.analysed_chars
    follow_up = [
        *history,
        {"role": "assistant", "content": "Sure."},
        {"role": "user", "content": "Thanks"},
    ]
    await demo_client.post(CHAT, json={"model": "gpt-4o-mini", "messages": follow_up}, headers=auth)
    first, second = fake_upstream.requests()
    assert "415 555 0199" not in first["raw_body"] + second["raw_body"]
    assert "<PHONE_NUMBER_1>" in first["body"]["messages"][0]["content"]
    assert second["body"]["messages"][0] == first["body"]["messages"][0]  # same placeholder
    assert analyzer.analysed_chars - analysed == len("Sure.") + len("Thanks")


async def test_models_are_filtered_by_policy(demo_client: AsyncTestClient[Any]) -> None:
    """GET /v1/models lists only what the caller may use; others are 404 for them."""
    bob = await demo_client.get("/v1/models", headers={"Authorization": f"Bearer {BOB}"})
    alice = await demo_client.get("/v1/models", headers={"Authorization": f"Bearer {ALICE}"})
    assert [m["id"] for m in bob.json()["data"]] == ["gpt-4o-mini", "text-embedding-3-small"]
    assert [m["id"] for m in alice.json()["data"]] == [
        "gpt-4o",
        "gpt-4o-mini",
        "text-embedding-3-small",
    ]
    hidden = await demo_client.get("/v1/models/gpt-4o", headers={"Authorization": f"Bearer {BOB}"})
    assert hidden.status_code == 404
    assert hidden.json()["error"]["code"] == "model_not_found"
    assert (await demo_client.get("/v1/models")).status_code == 401


async def test_stage_timings_in_headers_and_metrics(
    demo_client: AsyncTestClient[Any], fake_upstream: FakeUpstream
) -> None:
    """Responses carry Server-Timing per stage; /metrics exposes the same histograms."""
    response = await demo_client.post(
        CHAT, json=_ask("vacation days"), headers={"Authorization": f"Bearer {BOB}"}
    )
    timing = response.headers["server-timing"]
    for stage in ("authorize", "retrieve", "redact", "audit", "upstream"):
        assert f"{stage};dur=" in timing
    metrics = (await demo_client.get("/metrics")).text
    assert 'gateway_stage_seconds_count{stage="retrieve"} 1.0' in metrics
    assert 'gateway_chat_requests_total{outcome="forwarded"} 1.0' in metrics


class _BrokenRetriever:
    async def retrieve(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug in a context stage")


async def test_unexpected_failure_in_a_context_stage_is_audited_and_refused(
    demo_client: AsyncTestClient[Any], fake_upstream: FakeUpstream, settings: Settings
) -> None:
    """A bug (not a GatewayError) while building context: 500 in OpenAI's shape, one audit
    record saying so, nothing sent upstream, and the bug's text not echoed."""
    demo_client.app.state.services.retriever = _BrokenRetriever()
    response = await demo_client.post(
        CHAT, json=_ask("price discount"), headers={"Authorization": f"Bearer {BOB}"}
    )
    assert response.status_code == 500
    assert response.json()["error"]["type"] == "server_error"
    assert "bug" not in response.text
    assert fake_upstream.requests() == []
    (record,) = audit_records(settings)
    assert record["allowed"] is False
    assert (record["refused"], record["status"]) == ("internal_error", 500)
