"""POST /v1/embeddings on the real stack: authorized by OPA, input redacted, audited with
hashes, forwarded through the upstream client (what the fake upstream got is checked)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from gateway.app import create_app
from gateway.audit.records import undeclared
from gateway.settings import Settings
from gateway.tokens import encoding

from ..conftest import ALICE, BOB
from .conftest import FakeUpstream, audit_records, audit_records_soon

pytestmark = pytest.mark.integration

EMBEDDINGS = "/v1/embeddings"
MODEL = "text-embedding-3-small"
EMAIL = "lewis.abbott@teleworm.us"
PII_TEXT = f"Contract renewal, contact {EMAIL} before Friday."


def _auth(key: str = BOB) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[AsyncTestClient[Any]]:
    async with AsyncTestClient(app=create_app(settings)) as test_client:
        yield test_client


async def test_input_list_is_redacted_and_hashed(
    client: AsyncTestClient[Any], fake_upstream: FakeUpstream, settings: Settings
) -> None:
    """The e-mail never reaches the upstream nor the record; the record holds each input's
    SHA-256 and the redaction counts; the caller gets OpenAI's list of embeddings."""
    inputs = [PII_TEXT, "The quarterly plan is approved."]
    response = await client.post(
        EMBEDDINGS, json={"model": MODEL, "input": inputs}, headers=_auth()
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert [d["index"] for d in answer["data"]] == [0, 1]
    assert answer["object"] == "list"
    (received,) = fake_upstream.requests()
    assert received["path"] == "/v1/embeddings"
    assert EMAIL not in received["raw_body"]
    assert received["body"]["input"][1] == inputs[1]
    assert received["headers"]["authorization"] != _auth()["Authorization"]
    (record,) = audit_records(settings)
    assert record["endpoint"] == "embeddings"
    assert record["model"] == MODEL
    assert record["allowed"] is True
    assert record["input_sha256"] == [hashlib.sha256(t.encode()).hexdigest() for t in inputs]
    assert (
        record["upstream_body_sha256"] == hashlib.sha256(received["raw_body"].encode()).hexdigest()
    )
    assert {r["site"] for r in record["message_redactions"]} == {"input[0]"}
    assert EMAIL not in json.dumps(record)
    assert response.headers["x-gateway-audit-id"] == record["audit_id"]
    (outcome,) = await audit_records_soon(settings, "outcome", 1)
    assert outcome["request_audit_id"] == record["audit_id"]
    assert outcome["usage"]["total_tokens"] > 0
    assert undeclared(record) == set()
    assert undeclared(outcome) == set()


async def test_single_string_stays_a_string(
    client: AsyncTestClient[Any], fake_upstream: FakeUpstream
) -> None:
    """A string input is forwarded as a string (redacted), base64 format passed on."""
    response = await client.post(
        EMBEDDINGS,
        json={"model": MODEL, "input": PII_TEXT, "encoding_format": "base64", "dimensions": 4},
        headers=_auth(),
    )
    assert response.status_code == 200, response.text
    (received,) = fake_upstream.requests()
    sent = received["body"]
    assert isinstance(sent["input"], str)
    assert EMAIL not in sent["input"]
    assert sent["encoding_format"] == "base64"
    assert sent["dimensions"] == 4
    assert isinstance(response.json()["data"][0]["embedding"], str)


async def test_token_arrays_are_decoded_analysed_and_sent_as_text(
    client: AsyncTestClient[Any], fake_upstream: FakeUpstream, settings: Settings
) -> None:
    """Token-id inputs (LangChain's default) are decoded with cl100k_base: the upstream
    receives the redacted text, never the tokens of the e-mail."""
    tokens = encoding("cl100k_base").encode(PII_TEXT)
    response = await client.post(
        EMBEDDINGS, json={"model": MODEL, "input": [tokens, tokens[:3]]}, headers=_auth()
    )
    assert response.status_code == 200, response.text
    (received,) = fake_upstream.requests()
    sent = received["body"]["input"]
    assert all(isinstance(item, str) for item in sent)
    assert EMAIL not in received["raw_body"]
    assert sent[1] == "Contract renewal,"
    (record,) = audit_records(settings)
    assert record["input_sha256"][0] == hashlib.sha256(PII_TEXT.encode()).hexdigest()


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": MODEL}, "input"),
        ({"model": MODEL, "input": ""}, "input"),
        ({"model": MODEL, "input": []}, "input"),
        ({"model": MODEL, "input": ["ok", 3]}, "input[1]"),
        ({"model": MODEL, "input": [[1, 2], [10**9]]}, "input[1]"),
        ({"model": MODEL, "input": {"text": "x"}}, "input"),
        ({"model": MODEL, "input": "x", "encoding_format": "int8"}, "encoding_format"),
        ({"model": MODEL, "input": "x", "dimensions": 0}, "dimensions"),
        ({"input": "x"}, "model"),
    ],
)
async def test_bad_input_is_a_400_and_never_forwarded(
    client: AsyncTestClient[Any],
    fake_upstream: FakeUpstream,
    settings: Settings,
    body: dict[str, Any],
    param: str,
) -> None:
    """Input OpenAI would refuse is a 400 naming the param; recorded, not forwarded."""
    response = await client.post(EMBEDDINGS, json=body, headers=_auth())
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == param
    assert error["type"] == "invalid_request_error"
    assert fake_upstream.requests() == []
    (record,) = audit_records(settings)
    assert record["allowed"] is False
    assert record["status"] == 400
    assert response.headers["x-gateway-audit-id"] == record["audit_id"]


async def test_model_authorization_as_chat(
    client: AsyncTestClient[Any], fake_upstream: FakeUpstream, settings: Settings
) -> None:
    """OPA decides: an unknown model is a 404 model_not_found, a model outside the
    caller's groups a 403; both audited with the reasons, neither forwarded."""
    unknown = await client.post(
        EMBEDDINGS, json={"model": "nope-embed", "input": "x"}, headers=_auth()
    )
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "model_not_found"
    forbidden = await client.post(
        EMBEDDINGS, json={"model": "gpt-4o", "input": "x"}, headers=_auth(BOB)
    )
    assert forbidden.status_code == 403
    allowed = await client.post(
        EMBEDDINGS, json={"model": "gpt-4o", "input": "x"}, headers=_auth(ALICE)
    )
    assert allowed.status_code == 200
    assert len(fake_upstream.requests()) == 1
    denied = [r for r in audit_records(settings) if r["allowed"] is False]
    assert [r["endpoint"] for r in denied] == ["embeddings", "embeddings"]
    assert denied[1]["denial_reasons"] == ['subject "bob" may not use model "gpt-4o"']


async def test_unauthenticated_is_a_401(
    client: AsyncTestClient[Any], fake_upstream: FakeUpstream
) -> None:
    """No key, no embeddings."""
    response = await client.post(EMBEDDINGS, json={"model": MODEL, "input": "x"})
    assert response.status_code == 401
    assert fake_upstream.requests() == []
