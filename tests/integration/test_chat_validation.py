"""Chat bodies OpenAI would refuse are refused first; long prompts search fine (real stack)."""

import json
import random
from typing import Any

import pytest

from gateway.settings import Settings

from ..conftest import ALICE, BOB
from .conftest import FakeUpstream, audit_records

pytestmark = pytest.mark.integration

CHAT = "/v1/chat/completions"


def _chat(*messages: Any) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": list(messages)}


BAD_BODIES: list[tuple[bytes, str | None]] = [
    (
        json.dumps(_chat({"role": "user", "content": {"text": "hi"}})).encode(),
        "messages[0].content",
    ),
    (json.dumps(_chat({"role": "user", "content": 42})).encode(), "messages[0].content"),
    (json.dumps(_chat({"role": {"name": "user"}, "content": "hi"})).encode(), "messages[0].role"),
    (
        json.dumps(_chat({"role": "user", "content": [{"type": "text", "text": None}]})).encode(),
        "messages[0].content[0].text",
    ),
    (
        b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "x": '
        + b"[" * 1000
        + b"]" * 1000
        + b"}",
        None,
    ),
    (
        b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], '
        b'"temperature": -Infinity}',
        None,
    ),
    (
        json.dumps(_chat({"role": "user", "content": "a" * 1_000_001})).encode(),
        "messages[0].content",
    ),
]


@pytest.mark.parametrize(("raw", "param"), BAD_BODIES)
async def test_ill_typed_bodies_are_400_before_anything_happens(
    demo_client: Any, settings: Settings, fake_upstream: FakeUpstream, raw: bytes, param: str | None
) -> None:
    """Content as an object or number, a role object, a null text part, 1,000-deep nesting,
    -Infinity and a >1M-character message: a 400 naming the param, in OpenAI's shape; no
    audit record of an allowed request, nothing upstream."""
    response = await demo_client.post(
        CHAT,
        content=raw,
        headers={"Authorization": f"Bearer {BOB}", "Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert fake_upstream.requests() == []
    assert not [r for r in audit_records(settings) if r.get("allowed")]


async def test_a_50k_character_prompt_retrieves_instead_of_failing(
    demo_client: Any, settings: Settings, fake_upstream: FakeUpstream
) -> None:
    """A 50,000-character prompt of distinct words (and CJK) with retrieval on: a 200 with
    context from the question at its end, never an Elasticsearch clause-limit error."""
    rng = random.Random(7)
    words = [
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9)))
        for _ in range(7500)
    ]
    pasted = (" ".join(words) + " " + "漢字仮名交じり文" * 1000)[:49_900]
    prompt = pasted + " How many vacation days do we get?"
    assert len(prompt) >= 49_900
    response = await demo_client.post(
        CHAT,
        json=_chat({"role": "user", "content": prompt}),
        headers={"Authorization": f"Bearer {ALICE}"},
    )
    assert response.status_code == 200, response.text
    (request,) = audit_records(settings)
    assert request["retrieval"]["enabled"] is True
    assert request["chunks"], "the question at the end should still find the handbook"
