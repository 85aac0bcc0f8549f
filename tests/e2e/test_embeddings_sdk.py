"""Embeddings and unserved endpoints through the real ``gateway serve`` process, with the
openai SDK and LangChain's ``OpenAIEmbeddings`` used as a user would."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import importlib.resources
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from langchain_openai import OpenAIEmbeddings

from ..conftest import BOB
from ..integration.conftest import FakeUpstream
from .conftest import RunningGateway, start_gateway, stop_gateway

pytestmark = pytest.mark.e2e

MODEL = "text-embedding-3-small"
EMAIL = "lewis.abbott@teleworm.us"
TIKTOKEN_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"


@pytest.fixture(scope="module")
def gateway(
    stack_env: dict[str, str], demo_index: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    running = start_gateway(stack_env, tmp_path_factory.mktemp("embeddings"))
    yield running
    stop_gateway(running)


@pytest.fixture
def upstream(stack_env: dict[str, str]) -> FakeUpstream:
    fake = FakeUpstream(stack_env["STACK_FAKE_UPSTREAM_URL"])
    fake.clear()
    return fake


@pytest.fixture
def offline_tiktoken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """tiktoken (which LangChain uses) downloads cl100k_base on first use; this machine is
    offline, so its cache gets the copy the gateway ships (tiktoken checks its hash)."""
    data = gzip.decompress(
        (importlib.resources.files("gateway") / "data" / "cl100k_base.tiktoken.gz").read_bytes()
    )
    (tmp_path / hashlib.sha1(TIKTOKEN_URL.encode()).hexdigest()).write_bytes(data)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))


def test_sdk_embeddings_are_redacted(gateway: RunningGateway, upstream: FakeUpstream) -> None:
    """client.embeddings.create works unchanged (the SDK asks for base64 and decodes it);
    the upstream never sees the e-mail; the response names its audit record."""
    with openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key=BOB) as client:
        raw = client.embeddings.with_raw_response.create(
            model=MODEL, input=[f"Write to {EMAIL} today.", "Plain text."], dimensions=6
        )
    result = raw.parse()
    assert [len(item.embedding) for item in result.data] == [6, 6]
    assert raw.headers["x-gateway-audit-id"].startswith("aud")
    (received,) = upstream.requests()
    assert EMAIL not in received["raw_body"]
    assert received["body"]["encoding_format"] == "base64"
    assert received["body"]["input"][1] == "Plain text."


def test_async_sdk_single_input(gateway: RunningGateway, upstream: FakeUpstream) -> None:
    """The async client with one string input gets one float vector."""

    async def call() -> list[float]:
        async with openai.AsyncOpenAI(base_url=f"{gateway.base_url}/v1", api_key=BOB) as client:
            result = await client.embeddings.create(
                model=MODEL, input="hello", encoding_format="float"
            )
            return result.data[0].embedding

    assert len(asyncio.run(call())) == 8
    assert upstream.requests()[0]["body"]["input"] == "hello"


@pytest.mark.usefixtures("offline_tiktoken")
def test_langchain_openai_embeddings(gateway: RunningGateway, upstream: FakeUpstream) -> None:
    """LangChain's OpenAIEmbeddings with its defaults (it sends cl100k token ids): the
    gateway decodes, redacts and forwards text; documents and queries both embed."""
    with httpx.Client() as http_client:
        embeddings = OpenAIEmbeddings(  # type: ignore[call-arg]  # pydantic aliases
            model=MODEL,
            base_url=f"{gateway.base_url}/v1",
            api_key=BOB,
            max_retries=0,
            http_client=http_client,
        )
        vectors = embeddings.embed_documents([f"Contact {EMAIL}.", "The plan is approved."])
        query = embeddings.embed_query("What is the plan?")
    assert len(vectors) == 2
    assert len(query) == len(vectors[0])
    sent = upstream.requests()
    assert all(EMAIL not in r["raw_body"] for r in sent)
    inputs = [item for r in sent for item in r["body"]["input"]]
    assert all(isinstance(item, str) for item in inputs)
    assert "The plan is approved." in inputs
    assert "What is the plan?" in inputs


def test_unserved_endpoint_is_a_clear_404(gateway: RunningGateway, upstream: FakeUpstream) -> None:
    """Legacy completions through the SDK: NotFoundError code unsupported_endpoint, a
    request id, nothing forwarded."""
    client = openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key=BOB, max_retries=0)
    with client, pytest.raises(openai.NotFoundError) as caught:
        client.completions.create(model="gpt-4o-mini", prompt="hello")
    assert caught.value.code == "unsupported_endpoint"
    assert "POST /v1/embeddings" in caught.value.message
    assert caught.value.response.headers["x-request-id"].startswith("req_")
    assert caught.value.response.headers["x-gateway-audit-id"]
    with (
        openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key=BOB, max_retries=0) as client,
        pytest.raises(openai.NotFoundError),
    ):
        client.moderations.create(input="hello")
    assert upstream.requests() == []
