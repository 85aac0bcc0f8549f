"""The official openai SDK, pointed at the running gateway, as a user would use it."""

import json
import time
from pathlib import Path

import jwt
import openai
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from ..conftest import ALICE, BOB
from ..integration.conftest import FakeUpstream
from .conftest import RunningGateway, start_gateway, stop_gateway

pytestmark = pytest.mark.e2e


@pytest.fixture
def upstream(stack_env: dict[str, str]) -> FakeUpstream:
    fake = FakeUpstream(stack_env["STACK_FAKE_UPSTREAM_URL"])
    fake.clear()
    return fake


def test_sync_client_gets_an_answer(gateway: RunningGateway, upstream: FakeUpstream) -> None:
    """OpenAI(base_url=gateway) works unchanged; the upstream sees the gateway's key only."""
    client = openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key=BOB)
    completion = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "How many vacation days?"}]
    )
    answer = completion.choices[0].message.content
    assert answer.startswith("Fake answer. You asked: How many vacation days?")
    (received,) = upstream.requests()
    context = received["body"]["messages"][0]
    assert context["role"] == "system"
    assert 'doc_id="acme-vacation-policy"' in context["content"]
    assert "28 days of paid vacation" in context["content"]
    assert received["headers"]["authorization"] == "Bearer sk-fake-upstream-key"
    assert BOB not in json.dumps(received)


def test_streaming_with_usage(gateway: RunningGateway, upstream: FakeUpstream) -> None:
    """Streaming works through the SDK, including the final usage chunk."""
    client = openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key=ALICE)
    stream = client.chat.completions.create(
        model="gpt-4o",
        stream=True,
        stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "stream it"}],
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Fake answer. You asked: stream it"
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens > 0


async def test_async_client(gateway: RunningGateway, upstream: FakeUpstream) -> None:
    """AsyncOpenAI works unchanged."""
    async with openai.AsyncOpenAI(base_url=f"{gateway.base_url}/v1", api_key=ALICE) as client:
        completion = await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "async hello"}]
        )
    assert completion.choices[0].message.content.endswith("async hello")


def test_sdk_maps_gateway_errors(gateway: RunningGateway, upstream: FakeUpstream) -> None:
    """Gateway refusals surface as the SDK's typed errors with the policy's reason."""
    bad_key = openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key="sk-nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad_key.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}]
        )
    bob = openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key=BOB, max_retries=0)
    with pytest.raises(openai.PermissionDeniedError, match="may not use model"):
        bob.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    assert upstream.requests() == []


def test_logs_hold_no_caller_secrets(gateway: RunningGateway, upstream: FakeUpstream) -> None:
    """After real traffic, the gateway's log and audit files contain no caller key."""
    client = openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key=BOB, max_retries=0)
    client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
    )
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(
            base_url=f"{gateway.base_url}/v1", api_key="sk-planted-secret-123", max_retries=0
        ).chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    written = gateway.log() + "".join(p.read_text() for p in gateway.audit_dir.iterdir())
    assert '"path": "/v1/chat/completions"' in written  # the log is really there
    for secret in (BOB, "sk-planted-secret-123", "sk-fake-upstream-key"):
        assert secret not in written


def test_tool_calls_and_response_format_pass_through(
    gateway: RunningGateway, upstream: FakeUpstream
) -> None:
    """tools, tool_choice, response_format and seed reach the upstream untouched; tool-call
    deltas stream back as the upstream sent them."""
    client = openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key=BOB)
    tools = [
        {
            "type": "function",
            "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}},
        }
    ]
    response_format = {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": {"type": "object", "properties": {}}},
    }
    completion = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "price of the team plan"}],
        tools=tools,
        tool_choice="auto",
        response_format=response_format,
        seed=42,
    )
    call = completion.choices[0].message.tool_calls[0]
    assert call.function.name == "lookup"
    assert json.loads(call.function.arguments)["query"] == "lookup"
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "price"}],
        tools=tools,
        stream=True,
    )
    arguments = "".join(
        c.choices[0].delta.tool_calls[0].function.arguments or ""
        for c in stream
        if c.choices and c.choices[0].delta.tool_calls
    )
    assert json.loads(arguments)["query"] == "lookup"
    first = upstream.requests()[0]["body"]
    assert first["tools"] == tools
    assert first["tool_choice"] == "auto"
    assert first["response_format"] == response_format
    assert first["seed"] == 42


def test_jwt_bearer_with_the_sdk(
    stack_env: dict[str, str], demo_index: str, tmp_path: Path, upstream: FakeUpstream
) -> None:
    """A JWT from the configured issuer works as the SDK's api_key; a forged one is a 401."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [{**jwk, "kid": "e2e", "alg": "RS256"}]}))
    gateway = start_gateway(
        stack_env,
        tmp_path,
        GATEWAY_JWT_JWKS_FILE=str(jwks),
        GATEWAY_JWT_ISSUER="https://idp.acme.example",
        GATEWAY_JWT_AUDIENCE="gateway",
    )
    try:
        claims = {
            "sub": "dana",
            "groups": ["sales"],
            "tenant": "acme",
            "clearance": "internal",
            "iss": "https://idp.acme.example",
            "aud": "gateway",
            "exp": int(time.time()) + 300,
        }
        token = jwt.encode(claims, private, algorithm="RS256", headers={"kid": "e2e"})
        client = openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key=token, max_retries=0)
        completion = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "price discount seat"}]
        )
        assert completion.choices[0].message.content.startswith("Fake answer")
        (received,) = upstream.requests()
        assert 'doc_id="acme-pricing-2026"' in received["body"]["messages"][0]["content"]
        assert token not in json.dumps(received)
        forged = jwt.encode(
            {**claims, "groups": ["security"]},
            rsa.generate_private_key(public_exponent=65537, key_size=2048),
            algorithm="RS256",
            headers={"kid": "e2e"},
        )
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(
                base_url=f"{gateway.base_url}/v1", api_key=forged, max_retries=0
            ).models.list()
        assert token not in gateway.log()
    finally:
        stop_gateway(gateway)
