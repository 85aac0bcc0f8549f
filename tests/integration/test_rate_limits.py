"""Per-caller limits from policy data, through the real OPA: 429s in OpenAI's shape."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from litestar.testing import AsyncTestClient

from gateway.app import create_app
from gateway.identity import hash_key, new_key

pytestmark = pytest.mark.integration

CHAT = "/v1/chat/completions"


@pytest.fixture
def limited_caller(stack_env: dict[str, str], tmp_path: Path) -> Iterator[tuple[str, Path, Any]]:
    """A fresh subject with its own key; ``set_limits`` writes its entry into OPA's data."""
    subject = f"limits-test-{uuid.uuid4().hex[:8]}"
    key = new_key()
    keys_file = tmp_path / "keys.yaml"
    entry = {"id": subject, "sha256": hash_key(key), "subject": subject, "groups": ["sales"]}
    keys_file.write_text(yaml.safe_dump({"keys": [entry]}))
    url = f"{stack_env['GATEWAY_OPA_URL']}/v1/data/gateway/config/limits/subjects/{subject}"

    def set_limits(limits: dict[str, int]) -> None:
        httpx.put(url, json=limits, timeout=5).raise_for_status()

    yield key, keys_file, set_limits
    httpx.delete(url, timeout=5)


def _body(content: str = "hello") -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}]}


def _audit(settings: Any) -> dict[str, dict[str, Any]]:
    records = [
        json.loads(line)
        for path in sorted(Path(settings.audit_dir).glob("audit-*.jsonl"))
        for line in path.read_text().splitlines()
    ]
    return {r["audit_id"]: r for r in records}


async def test_requests_per_minute_from_policy_data(
    settings_for: Any, limited_caller: tuple[str, Path, Any]
) -> None:
    """Past the subject's requests_per_minute: 429, type requests, retry-after, recorded."""
    key, keys_file, set_limits = limited_caller
    set_limits({"requests_per_minute": 2})
    settings = settings_for(api_keys_file=keys_file)
    headers = {"Authorization": f"Bearer {key}", "x-gateway-retrieval": "off"}
    async with AsyncTestClient(app=create_app(settings)) as client:
        answers = [await client.post(CHAT, json=_body(), headers=headers) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429], answers[-1].text
    refused = answers[-1]
    error = refused.json()["error"]
    assert error["type"] == "requests"
    assert error["code"] == "rate_limit_exceeded"
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["x-ratelimit-limit-requests"] == "2"
    record = _audit(settings)[refused.headers["x-gateway-audit-id"]]
    assert record["allowed"] is False
    assert record["refused"] == "rate_limit_exceeded"


async def test_tokens_per_minute_from_policy_data(
    settings_for: Any, limited_caller: tuple[str, Path, Any]
) -> None:
    """A prompt larger than what is left of tokens_per_minute: 429, type tokens."""
    key, keys_file, set_limits = limited_caller
    set_limits({"tokens_per_minute": 200})
    settings = settings_for(api_keys_file=keys_file)
    headers = {"Authorization": f"Bearer {key}", "x-gateway-retrieval": "off"}
    async with AsyncTestClient(app=create_app(settings)) as client:
        small = await client.post(CHAT, json=_body("hi"), headers=headers)
        large = await client.post(CHAT, json=_body("word " * 400), headers=headers)
    assert small.status_code == 200, small.text
    assert large.status_code == 429
    assert large.json()["error"]["type"] == "tokens"
    assert "x-ratelimit-remaining-tokens" in large.headers


async def test_default_limits_do_not_refuse_ordinary_use(
    settings_for: Any, limited_caller: tuple[str, Path, Any]
) -> None:
    """With only the shipped defaults, a handful of requests pass."""
    key, keys_file, _ = limited_caller
    settings = settings_for(api_keys_file=keys_file)
    headers = {"Authorization": f"Bearer {key}", "x-gateway-retrieval": "off"}
    async with AsyncTestClient(app=create_app(settings)) as client:
        answers = [await client.post(CHAT, json=_body(), headers=headers) for _ in range(5)]
    assert {a.status_code for a in answers} == {200}
