"""Streams that fail midway end the way OpenAI ends them, read with the openai SDK
(real Elasticsearch and OPA, the recording fake upstream cutting or failing its stream),
and the outcome record says the answer did not complete."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest
from litestar.testing import AsyncTestClient

from gateway.app import create_app
from gateway.settings import Settings

from ..conftest import ALICE
from .conftest import FakeUpstream, audit_records_soon

pytestmark = pytest.mark.integration


@pytest.fixture
async def sdk(settings: Settings) -> AsyncIterator[openai.AsyncOpenAI]:
    """The openai SDK on the app in process (retrieval off: no corpus needed)."""
    async with AsyncTestClient(app=create_app(settings)) as client:
        yield openai.AsyncOpenAI(
            base_url=f"{client.base_url}/v1",
            api_key=ALICE,
            http_client=client,  # type: ignore[arg-type]  # the SDK types its own httpx fork
            max_retries=0,
            default_headers={"x-gateway-retrieval": "off"},
        )


async def outcome(settings: Settings) -> dict[str, Any]:
    (found,) = await audit_records_soon(settings, "outcome", at_least=1)
    return found


async def responses_events(sdk: openai.AsyncOpenAI, text: str) -> list[Any]:
    stream = await sdk.responses.create(model="gpt-4o-mini", input=text, stream=True)
    return [event async for event in stream]


async def test_responses_cut_mid_event_ends_with_error_then_response_failed(
    sdk: openai.AsyncOpenAI, settings: Settings, fake_upstream: FakeUpstream
) -> None:
    """The upstream drops the connection halfway through an event: the SDK reads the
    events before it, then an ``error`` event with the gateway's code and a
    ``response.failed`` for the response it announced, in sequence; the outcome record
    says not completed."""
    events = await responses_events(sdk, "FAKE_CUT_MID_EVENT")
    assert events[0].type == "response.created"
    *before, error, failed = events
    assert all(e.type not in ("error", "response.failed") for e in before)
    assert error.type == "error"
    assert (error.code, error.sequence_number) == (
        "upstream_disconnected",
        before[-1].sequence_number + 1,
    )
    assert failed.type == "response.failed"
    assert failed.response.id == events[0].response.id
    assert failed.response.status == "failed"
    assert failed.response.error is not None
    assert failed.response.error.code == "server_error"
    recorded = await outcome(settings)
    assert (recorded["stream_completed"], recorded["error"]) == (False, "upstream_disconnected")


async def test_responses_stream_helper_reports_the_failure(
    sdk: openai.AsyncOpenAI, fake_upstream: FakeUpstream
) -> None:
    """``responses.stream`` sees the failed response and never a completed one."""
    async with sdk.responses.stream(model="gpt-4o-mini", input="FAKE_CUT_STREAM") as stream:
        kinds = [event.type async for event in stream]
        assert kinds[-2:] == ["error", "response.failed"]
        with pytest.raises(RuntimeError, match=r"response\.completed"):
            await stream.get_final_response()


async def test_responses_upstream_failure_event_is_relayed_and_recorded(
    sdk: openai.AsyncOpenAI, settings: Settings, fake_upstream: FakeUpstream
) -> None:
    """The upstream's own ``response.failed`` reaches the caller as sent; the outcome
    record says not completed, with the upstream's code."""
    events = await responses_events(sdk, "FAKE_STREAM_ERROR")
    assert events[-1].type == "response.failed"
    recorded = await outcome(settings)
    assert (recorded["stream_completed"], recorded["error"]) == (False, "server_error")


@pytest.mark.parametrize(
    ("switch", "code", "status"),
    [
        ("FAKE_CUT_MID_EVENT", "upstream_disconnected", "upstream_disconnected"),
        ("FAKE_DROP_CONNECTION", "upstream_disconnected", "upstream_disconnected"),
        ("FAKE_STREAM_ERROR", "server_error", "server_error"),
    ],
)
async def test_chat_stream_failure_is_an_error_object_the_sdk_raises(
    sdk: openai.AsyncOpenAI,
    settings: Settings,
    fake_upstream: FakeUpstream,
    switch: str,
    code: str,
    status: str,
) -> None:
    """A chat stream cut mid-event (or before its first event), or failed by the
    upstream, ends with OpenAI's error object, which the SDK raises as ``APIError``
    with its code; the outcome record says not completed."""
    stream = await sdk.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": switch}], stream=True
    )
    with pytest.raises(openai.APIError) as raised:
        async for _ in stream:
            pass
    assert raised.value.code == code
    recorded = await outcome(settings)
    assert (recorded["stream_completed"], recorded["error"]) == (False, status)
