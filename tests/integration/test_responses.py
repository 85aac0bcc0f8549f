"""POST /v1/responses governed like chat, and the caller's own stored responses only
(real Elasticsearch and OPA, the recording fake upstream)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from gateway.settings import Settings

from ..conftest import ALICE, BOB, CAROL
from .conftest import INJECTED_DOCUMENT, FakeUpstream, audit_records, audit_records_soon

pytestmark = pytest.mark.integration

RESPONSES = "/v1/responses"
EMAIL = "maria.gonzales@globex.example"


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def ask(content: Any, **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "input": content, **extra}


def only_request(upstream: FakeUpstream) -> dict[str, Any]:
    (received,) = [r for r in upstream.requests() if r["path"] == "/v1/responses"]
    return received


def events(raw: str) -> list[dict[str, Any]]:
    return [
        json.loads(line[5:])
        for block in raw.split("\n\n")
        for line in block.split("\n")
        if line.startswith("data:")
    ]


async def test_context_goes_into_instructions_and_the_audit_matches(
    demo_client: AsyncTestClient[Any], settings: Settings, fake_upstream: FakeUpstream
) -> None:
    """bob's string input retrieves only what he may see, as instructions before his own;
    the audit record names the chunks and hashes the exact upstream body."""
    response = await demo_client.post(
        RESPONSES,
        json=ask("price discount seat vault tokens", instructions="Answer in French."),
        headers=auth(BOB),
    )
    assert response.status_code == 200, response.text
    assert response.json()["object"] == "response"
    received = only_request(fake_upstream)
    instructions = received["body"]["instructions"]
    injected = dict(INJECTED_DOCUMENT.findall(instructions))
    assert "acme-pricing-2026" in injected
    assert set(injected) <= {"acme-pricing-2026", "acme-vacation-policy"}
    assert instructions.endswith("\n\nAnswer in French.")
    assert received["body"]["input"] == "price discount seat vault tokens"
    (record,) = [r for r in audit_records(settings) if r.get("endpoint") == "responses.create"]
    assert record["allowed"] is True
    assert {c["doc_id"] for c in record["chunks"]} == set(injected)
    digest = hashlib.sha256(received["raw_body"].encode()).hexdigest()
    assert record["upstream_body_sha256"] == digest
    assert response.headers["x-gateway-audit-id"] == record["audit_id"]


async def test_every_caller_string_is_redacted_and_restored_where_policy_allows(
    demo_client: AsyncTestClient[Any], settings: Settings, fake_upstream: FakeUpstream
) -> None:
    """An e-mail in a text part, a tool output and an unknown item reaches the model as a
    placeholder; carol (allowed to see originals) gets it back in the answer."""
    items = [
        {"role": "user", "content": [{"type": "input_text", "text": f"write to {EMAIL}"}]},
        {"type": "function_call", "call_id": "c1", "name": "lookup", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": f"found {EMAIL}"},
        {"type": "x_future_item", "payload": {"note": f"cc {EMAIL}"}},
        {"role": "user", "content": "Globex renewal"},
    ]
    response = await demo_client.post(
        RESPONSES, json=ask(items, metadata={"gateway_retrieval": "off"}), headers=auth(CAROL)
    )
    assert response.status_code == 200, response.text
    received = only_request(fake_upstream)
    assert EMAIL not in received["raw_body"]
    assert "<EMAIL_ADDRESS_1>" in json.dumps(received["body"]["input"])
    assert "metadata" not in received["body"]
    text = response.json()["output"][0]["content"][0]["text"]
    assert EMAIL in text
    (record,) = [r for r in audit_records(settings) if r.get("endpoint") == "responses.create"]
    sites = {r["site"] for r in record["message_redactions"]}
    assert {"input[0].content[0].text", "input[2].output", "input[3].payload.note"} <= sites


async def test_placeholders_stay_for_callers_who_may_not_see_originals(
    demo_client: AsyncTestClient[Any], fake_upstream: FakeUpstream
) -> None:
    """bob's answer keeps the placeholder the model saw."""
    response = await demo_client.post(
        RESPONSES,
        json=ask(f"mail {EMAIL}", metadata={"gateway_retrieval": "off"}),
        headers=auth(BOB),
    )
    assert response.status_code == 200, response.text
    assert "<EMAIL_ADDRESS_1>" in response.json()["output"][0]["content"][0]["text"]
    assert EMAIL not in response.text


@pytest.mark.parametrize(
    ("key", "body", "status", "code"),
    [
        (BOB, ask("hi", model="gpt-4o"), 403, "policy_denied"),
        (BOB, ask("hi", model="nope"), 404, "model_not_found"),
        (ALICE, ask("hi", background=True), 403, "policy_denied"),
        (ALICE, ask("hi", tools=[{"type": "web_search"}]), 403, "policy_denied"),
        (ALICE, ask([{"type": "item_reference", "id": "msg_1"}]), 400, "unsupported_value"),
        (ALICE, ask("hi", conversation="conv_1"), 400, "unsupported_parameter"),
        (ALICE, {"input": "hi"}, 400, "missing_required_parameter"),
    ],
)
async def test_refusals_never_reach_the_upstream(
    demo_client: AsyncTestClient[Any],
    fake_upstream: FakeUpstream,
    key: str,
    body: dict[str, Any],
    status: int,
    code: str,
) -> None:
    """Denied models, background, hosted tools and ungovernable inputs are refused with
    OpenAI's error body; nothing is sent upstream."""
    response = await demo_client.post(RESPONSES, json=body, headers=auth(key))
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert "x-request-id" in response.headers
    assert not [r for r in fake_upstream.requests() if r["path"] == "/v1/responses"]


async def test_stored_responses_are_their_callers_only(
    demo_client: AsyncTestClient[Any], settings: Settings, fake_upstream: FakeUpstream
) -> None:
    """alice may read, continue and delete her response; bob gets 404 for each, audited
    as a denial, and nothing of alice's reaches him or the upstream on his behalf."""
    created = await demo_client.post(
        RESPONSES, json=ask("hello", metadata={"gateway_retrieval": "off"}), headers=auth(ALICE)
    )
    assert created.status_code == 200, created.text
    response_id = created.json()["id"]
    fake_upstream.clear()
    for method, path in [
        ("GET", f"{RESPONSES}/{response_id}"),
        ("GET", f"{RESPONSES}/{response_id}/input_items"),
        ("DELETE", f"{RESPONSES}/{response_id}"),
    ]:
        denied = await demo_client.request(method, path, headers=auth(BOB))
        assert denied.status_code == 404, denied.text
        assert denied.json()["error"]["type"] == "not_found_error"
    chained = await demo_client.post(
        RESPONSES, json=ask("again", previous_response_id=response_id), headers=auth(BOB)
    )
    assert chained.status_code == 404
    assert chained.json()["error"]["param"] == "previous_response_id"
    assert fake_upstream.requests() == []
    refused = [r for r in audit_records(settings) if r.get("refused") == "not_owner"]
    assert len(refused) == 4
    assert {r["subject"] for r in refused} == {"bob"}

    own = await demo_client.get(f"{RESPONSES}/{response_id}", headers=auth(ALICE))
    assert own.status_code == 200
    assert own.json()["id"] == response_id
    items = await demo_client.get(f"{RESPONSES}/{response_id}/input_items", headers=auth(ALICE))
    assert items.status_code == 200
    assert items.json()["object"] == "list"
    follow = await demo_client.post(
        RESPONSES,
        json=ask("again", previous_response_id=response_id, metadata={"gateway_retrieval": "off"}),
        headers=auth(ALICE),
    )
    assert follow.status_code == 200, follow.text
    assert follow.json()["previous_response_id"] == response_id
    deleted = await demo_client.delete(f"{RESPONSES}/{response_id}", headers=auth(ALICE))
    assert deleted.status_code == 200
    assert deleted.json()["deleted"] is True
    gone = await demo_client.get(f"{RESPONSES}/{response_id}", headers=auth(ALICE))
    assert gone.status_code == 404


async def test_stream_restores_split_placeholders_and_records_the_owner(
    demo_client: AsyncTestClient[Any], settings: Settings, fake_upstream: FakeUpstream
) -> None:
    """carol's streamed answer arrives as OpenAI's events with placeholders restored in the
    deltas, the done events and the final response; the id is hers to read afterwards."""
    response = await demo_client.post(
        RESPONSES,
        json=ask(f"mail {EMAIL}", stream=True, metadata={"gateway_retrieval": "off"}),
        headers=auth(CAROL),
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    got = events(response.text)
    kinds = [e["type"] for e in got]
    assert kinds[0] == "response.created"
    assert kinds[-1] == "response.completed"
    text = "".join(e["delta"] for e in got if e["type"] == "response.output_text.delta")
    assert EMAIL in text
    assert "<EMAIL" not in text
    done = next(e for e in got if e["type"] == "response.output_text.done")
    assert done["text"] == text
    assert EMAIL in got[-1]["response"]["output"][0]["content"][0]["text"]
    numbers = [e["sequence_number"] for e in got]
    assert numbers == sorted(set(numbers))
    response_id = got[0]["response"]["id"]
    own = await demo_client.get(f"{RESPONSES}/{response_id}", headers=auth(CAROL))
    assert own.status_code == 200
    outcomes = await audit_records_soon(settings, "outcome", 1)
    assert any(o.get("stream_completed") is True for o in outcomes)


async def test_streamed_function_call_arguments_are_restored(
    demo_client: AsyncTestClient[Any], fake_upstream: FakeUpstream
) -> None:
    """Function-call argument deltas (3 characters each upstream) add up to restored JSON."""
    tools = [{"type": "function", "name": "lookup", "parameters": {"type": "object"}}]
    response = await demo_client.post(
        RESPONSES,
        json=ask(f"mail {EMAIL}", stream=True, tools=tools, metadata={"gateway_retrieval": "off"}),
        headers=auth(CAROL),
    )
    assert response.status_code == 200, response.text
    got = events(response.text)
    arguments = "".join(
        e["delta"] for e in got if e["type"] == "response.function_call_arguments.delta"
    )
    assert json.loads(arguments)["people"] == [EMAIL]
