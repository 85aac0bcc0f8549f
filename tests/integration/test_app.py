"""The gateway app in-process, against the real Elasticsearch, OPA and fake upstream."""

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from gateway.app import create_app
from gateway.settings import Settings

from ..conftest import ALICE, BOB
from .conftest import FakeUpstream, audit_records_soon, closed_port_url

pytestmark = pytest.mark.integration

CHAT = "/v1/chat/completions"


def _audit(settings: Settings) -> list[dict[str, Any]]:
    path = Path(settings.audit_dir) / "audit-000001.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[AsyncTestClient[Any]]:
    async with AsyncTestClient(app=create_app(settings)) as test_client:
        yield test_client


def _chat(content: str = "hello", model: str = "gpt-4o-mini", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": content}], **extra}


async def test_healthz(client: AsyncTestClient[Any]) -> None:
    """Liveness answers without touching dependencies."""
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_reports_each_dependency(client: AsyncTestClient[Any]) -> None:
    """With the real stack up, every dependency reports ready (the PII workers once their
    models are loaded)."""
    for _ in range(600):
        response = await client.get("/readyz")
        if response.json()["checks"]["pii_analysis"]["ok"]:
            break
        await asyncio.sleep(0.2)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"elasticsearch", "opa", "audit", "pii_analysis"}


@pytest.mark.parametrize(
    ("override", "failing"),
    [("elasticsearch_url", "elasticsearch"), ("opa_url", "opa")],
)
async def test_readyz_503_names_the_stopped_dependency(
    settings_for: Any, override: str, failing: str
) -> None:
    """A stopped dependency makes /readyz a 503 that names it, and only it."""
    settings = settings_for(
        **{override: closed_port_url()},
        elasticsearch_timeout_s=1,
        opa_timeout_s=0.5,
        message_pii_analysis=False,  # no PII workers: nothing else can be failing
        finetune_pii_scan=False,
    )
    async with AsyncTestClient(app=create_app(settings)) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == [failing]
    assert body["checks"][failing]["ok"] is False


async def test_chat_is_forwarded_with_gateway_credentials(
    client: AsyncTestClient[Any], settings: Settings, fake_upstream: FakeUpstream
) -> None:
    """An allowed request reaches the upstream unchanged, with the gateway's key only."""
    body = _chat("what is our vacation policy?", seed=7, temperature=0.2)
    response = await client.post(CHAT, json=body, headers={"Authorization": f"Bearer {BOB}"})
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"].startswith("Fake answer")
    assert response.headers["x-request-id"]
    received = fake_upstream.requests()
    assert len(received) == 1
    assert received[0]["body"] == body
    assert received[0]["headers"]["authorization"] == "Bearer sk-fake-upstream-key"
    assert BOB not in json.dumps(received[0])
    await audit_records_soon(settings, "outcome", at_least=1)
    request_record, outcome = _audit(settings)
    assert request_record["audit_id"] == response.headers["x-gateway-audit-id"]
    assert request_record["subject"] == "bob"
    assert (
        request_record["upstream_body_sha256"]
        == hashlib.sha256(received[0]["raw_body"].encode()).hexdigest()
    )
    assert outcome["request_audit_id"] == request_record["audit_id"]
    assert outcome["usage"]["total_tokens"] > 0


async def test_streaming_is_passed_through(
    client: AsyncTestClient[Any], settings: Settings, fake_upstream: FakeUpstream
) -> None:
    """A streamed answer arrives as server-sent events ending in [DONE]."""
    body = _chat("stream please", stream=True, stream_options={"include_usage": True})
    response = await client.post(CHAT, json=body, headers={"Authorization": f"Bearer {ALICE}"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == "Fake answer. You asked: stream please"
    assert chunks[-1]["usage"]["total_tokens"] > 0  # usage chunk passed through
    assert fake_upstream.requests()[0]["body"] == body


@pytest.mark.parametrize(
    ("headers", "payload", "status", "error_type"),
    [
        ({}, _chat(), 401, "authentication_error"),
        ({"Authorization": "Bearer sk-wrong"}, _chat(), 401, "authentication_error"),
        ({"Authorization": f"Bearer {BOB}"}, _chat(model="gpt-4o"), 403, "permission_error"),
        (
            {"Authorization": f"Bearer {BOB}"},
            _chat(model="no-such-model"),
            404,
            "not_found_error",
        ),
        (
            {"Authorization": f"Bearer {BOB}"},
            {"model": "gpt-4o-mini"},
            400,
            "invalid_request_error",
        ),
    ],
)
async def test_refused_requests_never_reach_upstream(
    client: AsyncTestClient[Any],
    fake_upstream: FakeUpstream,
    headers: dict[str, str],
    payload: dict[str, Any],
    status: int,
    error_type: str,
) -> None:
    """Bad keys, policy denials and bad bodies get OpenAI errors; the upstream sees nothing."""
    response = await client.post(CHAT, json=payload, headers=headers)
    assert response.status_code == status
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == error_type
    assert fake_upstream.requests() == []


async def test_policy_denial_is_audited_with_reason(
    client: AsyncTestClient[Any], settings: Settings
) -> None:
    """A denied request leaves an audit record with the policy's reasons."""
    response = await client.post(
        CHAT, json=_chat(model="gpt-4o"), headers={"Authorization": f"Bearer {BOB}"}
    )
    assert response.status_code == 403
    assert 'may not use model \\"gpt-4o\\"' in response.text
    (record,) = _audit(settings)
    assert record["allowed"] is False
    assert record["denial_reasons"] == ['subject "bob" may not use model "gpt-4o"']


async def test_invalid_json_and_oversize_bodies(
    settings_for: Any, fake_upstream: FakeUpstream
) -> None:
    """Invalid JSON is a 400, an oversize body a 413, both OpenAI-shaped."""
    settings = settings_for(max_request_bytes=2048)
    auth = {"Authorization": f"Bearer {BOB}", "content-type": "application/json"}
    async with AsyncTestClient(app=create_app(settings)) as client:
        bad = await client.post(CHAT, content=b"{nope", headers=auth)
        big = await client.post(CHAT, json=_chat("x" * 5000), headers=auth)
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid_json"
    assert big.status_code == 413
    assert big.json()["error"]["code"] == "request_too_large"
    assert fake_upstream.requests() == []


async def test_opa_down_fails_closed(settings_for: Any, fake_upstream: FakeUpstream) -> None:
    """With OPA stopped, chat is refused with 503 and nothing is sent upstream."""
    settings = settings_for(opa_url=closed_port_url(), opa_timeout_s=0.5)
    async with AsyncTestClient(app=create_app(settings)) as client:
        response = await client.post(CHAT, json=_chat(), headers={"Authorization": f"Bearer {BOB}"})
    assert response.status_code == 503
    assert response.json()["error"]["message"].startswith("opa unavailable")
    assert fake_upstream.requests() == []


async def test_upstream_error_is_mapped(fake_upstream: FakeUpstream, settings_for: Any) -> None:
    """An unreachable upstream is a 503 naming the upstream."""
    settings = settings_for(upstream_base_url=closed_port_url() + "/v1")
    async with AsyncTestClient(app=create_app(settings)) as other:
        response = await other.post(CHAT, json=_chat(), headers={"Authorization": f"Bearer {BOB}"})
    assert response.status_code == 503
    assert response.json()["error"]["message"].startswith("upstream unavailable")


async def test_unknown_route_is_openai_shaped(client: AsyncTestClient[Any]) -> None:
    """Even framework errors (404, 405) use OpenAI's error body."""
    missing = await client.get("/v1/nothing")
    wrong_method = await client.get(CHAT)
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "not_found_error"
    assert wrong_method.status_code == 405
    assert set(wrong_method.json()["error"]) == {"message", "type", "param", "code"}


async def test_upstream_cut_mid_stream_becomes_error_event(
    client: AsyncTestClient[Any], settings: Settings, fake_upstream: FakeUpstream
) -> None:
    """A stream the upstream drops ends with an OpenAI error event; the outcome says cut."""
    response = await client.post(
        CHAT, json=_chat("FAKE_CUT_STREAM", stream=True), headers={"Authorization": f"Bearer {BOB}"}
    )
    events = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
    assert json.loads(events[-1])["error"]["type"] == "upstream_error"
    assert "[DONE]" not in events
    (outcome,) = await audit_records_soon(settings, "outcome", at_least=1)
    assert outcome["stream_completed"] is False


async def test_upstream_rate_limit_keeps_its_status(
    client: AsyncTestClient[Any], fake_upstream: FakeUpstream
) -> None:
    """An upstream 429 reaches the caller as a 429 with the upstream's own error body."""
    response = await client.post(
        CHAT, json=_chat("FAKE_STATUS_429"), headers={"Authorization": f"Bearer {BOB}"}
    )
    assert response.status_code == 429
    assert response.json()["error"]["message"] == "fake upstream failure"
