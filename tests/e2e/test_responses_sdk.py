"""The Responses API through the running gateway: the openai SDK (sync, async, streams)
and the OpenAI Agents SDK, as a user would point them at it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import openai
import pytest

from ..conftest import ALICE, BOB
from ..integration.conftest import FakeUpstream
from .conftest import RunningGateway, start_gateway, stop_gateway

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def running(
    stack_env: dict[str, str], demo_index: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    """One gateway process for the module (starting one is the slow part)."""
    gateway = start_gateway(stack_env, tmp_path_factory.mktemp("responses-e2e"))
    yield gateway
    stop_gateway(gateway)


@pytest.fixture
def upstream(stack_env: dict[str, str]) -> FakeUpstream:
    fake = FakeUpstream(stack_env["STACK_FAKE_UPSTREAM_URL"])
    fake.clear()
    return fake


@pytest.fixture
def clients(running: RunningGateway) -> Iterator[Callable[..., openai.OpenAI]]:
    """Sync SDK clients for a key (alice's by default), all closed after the test, so no
    connection is left for the garbage collector to report in a later test."""
    opened: list[openai.OpenAI] = []

    def make(key: str = ALICE) -> openai.OpenAI:
        opened.append(openai.OpenAI(base_url=f"{running.base_url}/v1", api_key=key, max_retries=0))
        return opened[-1]

    yield make
    for sdk_client in opened:
        sdk_client.close()


def responses_posts(upstream: FakeUpstream) -> list[dict[str, Any]]:
    return [
        r for r in upstream.requests() if r["method"] == "POST" and r["path"] == "/v1/responses"
    ]


def test_sync_create_retrieve_delete_and_others_get_404(
    running: RunningGateway, upstream: FakeUpstream, clients: Callable[..., openai.OpenAI]
) -> None:
    """responses.create answers with scoped context in instructions; the caller can
    retrieve, list input items of and delete it; another caller gets NotFoundError."""
    alice = clients()
    response = alice.responses.create(model="gpt-4o-mini", input="How many vacation days?")
    assert response.output_text.startswith("Fake answer. You asked: How many vacation days?")
    (received,) = responses_posts(upstream)
    assert 'doc_id="acme-vacation-policy"' in received["body"]["instructions"]
    assert received["headers"]["authorization"] == "Bearer sk-fake-upstream-key"
    assert ALICE not in json.dumps(received)

    assert alice.responses.retrieve(response.id).id == response.id
    items = alice.responses.input_items.list(response.id)
    assert [item.type for item in items.data] == ["message"]
    bob = clients(BOB)
    with pytest.raises(openai.NotFoundError):
        bob.responses.retrieve(response.id)
    with pytest.raises(openai.NotFoundError):
        bob.responses.delete(response.id)
    with pytest.raises(openai.NotFoundError):
        bob.responses.create(model="gpt-4o-mini", input="more", previous_response_id=response.id)
    follow = alice.responses.create(
        model="gpt-4o-mini", input="and sick days?", previous_response_id=response.id
    )
    assert follow.previous_response_id == response.id
    alice.responses.delete(response.id)
    with pytest.raises(openai.NotFoundError):
        alice.responses.retrieve(response.id)


def test_sdk_maps_policy_refusals(
    running: RunningGateway, upstream: FakeUpstream, clients: Callable[..., openai.OpenAI]
) -> None:
    """A model policy refuses, background and hosted tools are typed SDK errors."""
    bob = clients(BOB)
    with pytest.raises(openai.PermissionDeniedError, match="may not use model"):
        bob.responses.create(model="gpt-4o", input="hi")
    alice = clients()
    with pytest.raises(openai.PermissionDeniedError, match="background"):
        alice.responses.create(model="gpt-4o-mini", input="hi", background=True)
    with pytest.raises(openai.PermissionDeniedError, match="web_search"):
        alice.responses.create(model="gpt-4o-mini", input="hi", tools=[{"type": "web_search"}])
    assert responses_posts(upstream) == []


async def test_async_client(running: RunningGateway, upstream: FakeUpstream) -> None:
    """AsyncOpenAI's responses.create works unchanged, with items and content parts."""
    async with openai.AsyncOpenAI(base_url=f"{running.base_url}/v1", api_key=ALICE) as alice:
        response = await alice.responses.create(
            model="gpt-4o-mini",
            instructions="Be brief.",
            input=[
                {"role": "user", "content": [{"type": "input_text", "text": "async hello"}]},
            ],
        )
    assert response.output_text.endswith("async hello")
    (received,) = responses_posts(upstream)
    assert received["body"]["instructions"].endswith("Be brief.")


def test_create_with_stream_true(
    running: RunningGateway, upstream: FakeUpstream, clients: Callable[..., openai.OpenAI]
) -> None:
    """stream=True yields OpenAI's typed events ending in response.completed."""
    stream = clients().responses.create(model="gpt-4o-mini", input="stream it", stream=True)
    events = list(stream)
    assert events[0].type == "response.created"
    assert events[-1].type == "response.completed"
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == "Fake answer. You asked: stream it"
    assert events[-1].response.output_text == text


def test_responses_stream_helper(
    running: RunningGateway, upstream: FakeUpstream, clients: Callable[..., openai.OpenAI]
) -> None:
    """client.responses.stream() accumulates the deltas into the final response."""
    with clients().responses.stream(model="gpt-4o-mini", input="helper stream") as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == final.output_text == "Fake answer. You asked: helper stream"


async def test_agents_sdk_runs_a_tool_loop_through_the_gateway(
    running: RunningGateway, upstream: FakeUpstream
) -> None:
    """An Agents SDK agent (OpenAIResponsesModel on the gateway, tracing off) calls its
    function tool and finishes; every model call went through the gateway."""
    from agents import Agent, OpenAIResponsesModel, Runner, function_tool, set_tracing_disabled

    set_tracing_disabled(True)
    calls: list[str] = []

    @function_tool
    def lookup(query: str, people: list[str]) -> str:
        """Look something up."""
        calls.append(query)
        return "28 days of paid vacation"

    gateway_client = openai.AsyncOpenAI(base_url=f"{running.base_url}/v1", api_key=ALICE)
    agent = Agent(
        name="helper",
        instructions="Answer from the handbook.",
        model=OpenAIResponsesModel(model="gpt-4o-mini", openai_client=gateway_client),
        tools=[lookup],
    )
    result = await Runner.run(agent, "How many vacation days?")
    await gateway_client.close()
    assert calls == ["lookup"]
    assert str(result.final_output).startswith("Fake answer. You asked: How many vacation days?")
    first, second = responses_posts(upstream)
    assert first["body"]["tools"][0]["name"] == "lookup"
    kinds = [item.get("type") for item in second["body"]["input"]]
    assert kinds[-2:] == ["function_call", "function_call_output"]
    assert "28 days of paid vacation" in json.dumps(second["body"]["input"])


async def test_agents_sdk_default_client_streamed(
    running: RunningGateway, upstream: FakeUpstream
) -> None:
    """set_default_openai_client points every agent at the gateway; a streamed run works."""
    from agents import (
        Agent,
        Runner,
        set_default_openai_api,
        set_default_openai_client,
        set_tracing_disabled,
    )

    set_tracing_disabled(True)
    gateway_client = openai.AsyncOpenAI(base_url=f"{running.base_url}/v1", api_key=ALICE)
    set_default_openai_client(gateway_client, use_for_tracing=False)
    set_default_openai_api("responses")
    agent = Agent(name="plain", instructions="Be brief.", model="gpt-4o-mini")
    result = Runner.run_streamed(agent, "streamed agent")
    kinds = [event.type async for event in result.stream_events()]
    await gateway_client.close()
    assert "raw_response_event" in kinds
    assert result.final_output == "Fake answer. You asked: streamed agent"
    assert len(responses_posts(upstream)) == 1
