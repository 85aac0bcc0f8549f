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


def _settings_without_workers(settings_for: Any, keys_file: Path) -> Any:
    """These tests are about limits: no PII worker needs to load its model."""
    return settings_for(
        api_keys_file=keys_file, message_pii_analysis=False, finetune_pii_scan=False
    )


# One read per authenticated endpoint family; each must count against the caller.
LIMITED_ENDPOINTS = [
    ("GET", "/v1/models"),
    ("GET", "/v1/models/gpt-4o-mini"),
    ("GET", "/v1/files"),
    ("GET", "/v1/files/file-doesnotexist"),
    ("GET", "/v1/fine_tuning/jobs"),
    ("GET", "/admin/audit/records"),
    ("GET", "/admin/audit/verify"),
    ("POST", "/v1/chat/completions"),
]


@pytest.mark.parametrize(("method", "path"), LIMITED_ENDPOINTS)
async def test_every_authenticated_endpoint_is_rate_limited(
    settings_for: Any, limited_caller: tuple[str, Path, Any], method: str, path: str
) -> None:
    """Past requests_per_minute, any authenticated endpoint answers OpenAI's 429 with
    retry-after, and the refusal is in the audit trail."""
    key, keys_file, set_limits = limited_caller
    set_limits({"requests_per_minute": 2})
    settings = _settings_without_workers(settings_for, keys_file)
    headers = {"Authorization": f"Bearer {key}", "x-gateway-retrieval": "off"}
    body = _body() if method == "POST" else None
    async with AsyncTestClient(app=create_app(settings)) as client:
        answers = [await client.request(method, path, json=body, headers=headers) for _ in range(3)]
    assert [a.status_code != 429 for a in answers] == [True, True, False], answers[-1].text
    refused = answers[-1]
    assert refused.json() == {
        "error": {
            "message": refused.json()["error"]["message"],
            "type": "requests",
            "param": None,
            "code": "rate_limit_exceeded",
        }
    }
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["x-ratelimit-limit-requests"] == "2"
    record = _audit(settings)[refused.headers["x-gateway-audit-id"]]
    assert record["kind"] == "request"
    assert record["status"] == 429
    assert record["refused"] == "rate_limit_exceeded"
    assert record["subject"].startswith("limits-test-")


async def test_one_budget_across_endpoints(
    settings_for: Any, limited_caller: tuple[str, Path, Any]
) -> None:
    """The per-minute budget is the caller's, not the endpoint's: models, files and chat
    draw from the same one."""
    key, keys_file, set_limits = limited_caller
    set_limits({"requests_per_minute": 3})
    settings = _settings_without_workers(settings_for, keys_file)
    headers = {"Authorization": f"Bearer {key}", "x-gateway-retrieval": "off"}
    async with AsyncTestClient(app=create_app(settings)) as client:
        statuses = [
            (await client.get("/v1/models", headers=headers)).status_code,
            (await client.get("/v1/files", headers=headers)).status_code,
            (await client.post(CHAT, json=_body(), headers=headers)).status_code,
            (await client.get("/v1/fine_tuning/jobs", headers=headers)).status_code,
        ]
    assert statuses == [200, 200, 200, 429]


async def test_refused_credentials_are_401_before_limits(
    settings_for: Any, limited_caller: tuple[str, Path, Any]
) -> None:
    """Without a valid key, a limited endpoint answers 401 (never 429 or 500), and the
    public endpoints need no key and count against no one."""
    key, keys_file, set_limits = limited_caller
    set_limits({"requests_per_minute": 1})
    settings = _settings_without_workers(settings_for, keys_file)
    async with AsyncTestClient(app=create_app(settings)) as client:
        missing = await client.get("/v1/files")
        wrong = await client.get("/v1/models", headers={"Authorization": "Bearer sk-nope"})
        public = [
            (await client.get(path, headers={"Authorization": f"Bearer {key}"})).status_code
            for path in ("/healthz", "/openapi.json", "/healthz", "/openapi.json")
        ]
        first = await client.get("/v1/models", headers={"Authorization": f"Bearer {key}"})
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "missing_api_key"
    assert wrong.status_code == 401
    assert public == [200, 200, 200, 200]
    assert first.status_code == 200, first.text
