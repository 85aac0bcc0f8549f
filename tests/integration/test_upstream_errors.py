"""Upstream errors reach the caller as the upstream sent them (real stack, fake upstream)."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from gateway.app import create_app
from gateway.settings import Settings

from ..conftest import BOB
from .conftest import FakeUpstream, audit_records_soon

pytestmark = pytest.mark.integration

CHAT = "/v1/chat/completions"
AUTH = {"Authorization": f"Bearer {BOB}"}
RATE_LIMIT_HEADERS = (
    "retry-after",
    "x-ratelimit-limit-requests",
    "x-ratelimit-remaining-requests",
    "x-ratelimit-reset-requests",
    "x-ratelimit-limit-tokens",
    "x-ratelimit-remaining-tokens",
    "x-ratelimit-reset-tokens",
)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[AsyncTestClient[Any]]:
    async with AsyncTestClient(app=create_app(settings)) as test_client:
        yield test_client


def _chat(content: str, **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}], **extra}


def _direct(fake_upstream: FakeUpstream, content: str) -> httpx.Response:
    """What the upstream answers to this request when asked without the gateway."""
    return httpx.post(f"{fake_upstream.url}/v1/chat/completions", json=_chat(content))


@pytest.mark.parametrize("stream", [False, True])
async def test_context_length_exceeded_stays_that(
    client: AsyncTestClient[Any], fake_upstream: FakeUpstream, stream: bool
) -> None:
    """A 400 context_length_exceeded reaches the caller with the upstream's status, type,
    param, code and message."""
    switch = "FAKE_ERROR_400_context_length_exceeded"
    response = await client.post(CHAT, json=_chat(switch, stream=stream), headers=AUTH)
    assert response.status_code == 400
    assert response.json() == _direct(fake_upstream, switch).json()
    assert response.json()["error"]["code"] == "context_length_exceeded"
    assert response.json()["error"]["param"] == "messages"
    assert response.headers["x-gateway-audit-id"]


@pytest.mark.parametrize("stream", [False, True])
async def test_rate_limit_keeps_code_and_headers(
    client: AsyncTestClient[Any], settings: Settings, fake_upstream: FakeUpstream, stream: bool
) -> None:
    """A 429 keeps rate_limit_exceeded, retry-after and every x-ratelimit-* header; the
    outcome record names the upstream's code."""
    switch = "FAKE_ERROR_429_rate_limit_exceeded"
    response = await client.post(CHAT, json=_chat(switch, stream=stream), headers=AUTH)
    direct = _direct(fake_upstream, switch)
    assert response.status_code == 429
    assert response.json() == direct.json()
    assert response.json()["error"]["code"] == "rate_limit_exceeded"
    for header in RATE_LIMIT_HEADERS:
        assert response.headers[header] == direct.headers[header], header
    (outcome,) = await audit_records_soon(settings, "outcome", at_least=1)
    assert (outcome["status"], outcome["error"]) == (429, "rate_limit_exceeded")


async def test_server_errors_keep_their_status(
    client: AsyncTestClient[Any], fake_upstream: FakeUpstream
) -> None:
    """An upstream 503 with OpenAI's error body is a 503 with that body, so SDKs retry."""
    switch = "FAKE_ERROR_503_overloaded"
    response = await client.post(CHAT, json=_chat(switch), headers=AUTH)
    assert response.status_code == 503
    assert response.json() == _direct(fake_upstream, switch).json()


async def test_the_openai_sdk_sees_the_upstreams_error(
    client: AsyncTestClient[Any], fake_upstream: FakeUpstream
) -> None:
    """The error body parses as the SDK's own error with the upstream's code."""
    import openai

    response = await client.post(
        CHAT, json=_chat("FAKE_ERROR_400_context_length_exceeded"), headers=AUTH
    )
    error = openai.BadRequestError(
        "x",
        response=httpx.Response(400, request=httpx.Request("POST", "http://x")),
        body=response.json()["error"],
    )
    assert error.code == "context_length_exceeded"
    assert error.param == "messages"


@pytest.mark.parametrize("stream", [False, True])
async def test_a_dropped_connection_is_a_502_with_a_code(
    client: AsyncTestClient[Any], settings: Settings, fake_upstream: FakeUpstream, stream: bool
) -> None:
    """An upstream that drops the connection mid-answer: 502 upstream_disconnected (or, once
    a stream has begun, a final error event with that code), recorded in the outcome."""
    response = await client.post(
        CHAT, json=_chat("FAKE_DROP_CONNECTION", stream=stream), headers=AUTH
    )
    if stream:
        assert response.status_code == 200
        last = response.text.strip().splitlines()[-1]
        assert '"code": "upstream_disconnected"' in last
    else:
        assert response.status_code == 502
        error = response.json()["error"]
        assert (error["type"], error["code"]) == ("upstream_error", "upstream_disconnected")
    (outcome,) = await audit_records_soon(settings, "outcome", at_least=1)
    assert outcome["error"] == "upstream_disconnected"
