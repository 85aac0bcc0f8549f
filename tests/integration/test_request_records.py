"""Every authenticated request leaves exactly one request record, on the real stack.

Denied, refused, 4xx, 5xx, OPA down, bad per-request options: each gets a record with
what is known, and the response names it in ``x-gateway-audit-id``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from structlog.testing import capture_logs

from gateway.app import create_app
from gateway.settings import Settings

from ..conftest import ALICE, BOB, CAROL
from .conftest import closed_port_url

pytestmark = pytest.mark.integration

CHAT = "/v1/chat/completions"
REQUEST_KINDS = {"request", "admin_access", "finetune"}


def _records(settings: Settings) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for path in sorted(Path(settings.audit_dir).glob("audit-*.jsonl"))
        for line in path.read_text().splitlines()
    ]


def _request_records(settings: Settings, request_id: str) -> list[dict[str, Any]]:
    return [
        r
        for r in _records(settings)
        if r["kind"] in REQUEST_KINDS and r.get("request_id") == request_id
    ]


def _one_record(settings: Settings, response: Any) -> dict[str, Any]:
    """The single request record of ``response``, checked against its headers."""
    found = _request_records(settings, response.headers["x-request-id"])
    assert len(found) == 1, found
    assert response.headers["x-gateway-audit-id"] == found[0]["audit_id"]
    return found[0]


def _chat(model: str = "gpt-4o-mini", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "hello"}], **extra}


def _auth(key: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **headers}


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[AsyncTestClient[Any]]:
    async with AsyncTestClient(app=create_app(settings)) as test_client:
        yield test_client


async def test_opa_down_refusals_are_each_recorded(settings_for: Any) -> None:
    """With OPA unreachable every chat refusal (503) still leaves one record naming why."""
    settings = settings_for(opa_url=closed_port_url(), opa_timeout_s=0.5)
    async with AsyncTestClient(app=create_app(settings)) as client:
        responses = [await client.post(CHAT, json=_chat(), headers=_auth(BOB)) for _ in range(5)]
    for response in responses:
        assert response.status_code == 503, response.text
        record = _one_record(settings, response)
        assert record["allowed"] is False
        assert record["refused"] == "dependency_unavailable"
        assert record["subject"] == "bob"
        # Refused at admission (the caller's limits come from OPA) before the body is
        # read, so the record holds what was known then: no model.
        assert "model" not in record
        assert "policy_revision" in record


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (_chat(metadata={"gateway_corpora": 7}), {}),
        (_chat(metadata={"gateway_retrieval": "maybe"}), {}),
        (_chat(), {"x-gateway-retrieval": "sideways"}),
        (_chat(metadata={"gateway_corpora": [1, 2]}), {}),
        ({"model": "gpt-4o-mini"}, {}),
    ],
)
async def test_bad_options_are_recorded(
    client: AsyncTestClient[Any], settings: Settings, body: Any, headers: dict[str, str]
) -> None:
    """A 400 for a bad body or gateway option still leaves one record with its code."""
    response = await client.post(CHAT, json=body, headers=_auth(BOB, **headers))
    assert response.status_code == 400, response.text
    record = _one_record(settings, response)
    assert record["allowed"] is False
    assert record["status"] == 400
    assert record["subject"] == "bob"


@pytest.mark.parametrize(
    ("model", "headers"),
    [
        ("gpt-4o", {"user-agent": "Bearer abcdefghijklmnop"}),
        ("eyJa.eyJb.c", {}),
        ("gpt-4o", {"x-request-id": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib2IifQ.c2ln"}),
    ],
)
async def test_credential_shaped_caller_text_is_scrubbed_not_a_500(
    client: AsyncTestClient[Any], settings: Settings, model: str, headers: dict[str, str]
) -> None:
    """Bearer/JWT-shaped User-Agent, model or request id: the denial is recorded, scrubbed."""
    response = await client.post(CHAT, json=_chat(model), headers=_auth(BOB, **headers))
    assert response.status_code in {403, 404}, response.text
    record = _one_record(settings, response)
    assert record["allowed"] is False
    raw = json.dumps(_records(settings))
    assert "abcdefghijklmnop" not in raw
    assert "eyJb" not in raw
    assert "eyJzdWIiOiJib2IifQ" not in raw


async def test_denials_carry_the_audit_id_and_policy_revision(
    client: AsyncTestClient[Any], settings: Settings
) -> None:
    """A policy denial names its record in x-gateway-audit-id; the record has the revision."""
    response = await client.post(CHAT, json=_chat("gpt-4o"), headers=_auth(BOB))
    assert response.status_code == 403
    record = _one_record(settings, response)
    assert record["policy_revision"]


async def test_allowed_without_chunks_has_a_policy_revision(
    client: AsyncTestClient[Any], settings: Settings
) -> None:
    """Retrieval off (no chunk injected): the record still names the policy revision."""
    response = await client.post(
        CHAT, json=_chat(), headers=_auth(BOB, **{"x-gateway-retrieval": "off"})
    )
    assert response.status_code == 200, response.text
    record = _one_record(settings, response)
    assert record["allowed"] is True
    assert record["policy_revision"]


async def test_request_id_is_ours_and_the_callers_is_kept_apart(
    client: AsyncTestClient[Any], settings: Settings
) -> None:
    """Two subjects sending one x-request-id get distinct request ids; theirs is kept aside."""
    shared = {"x-request-id": "same-id-1"}
    first = await client.post(CHAT, json=_chat("gpt-4o"), headers=_auth(BOB, **shared))
    second = await client.post(CHAT, json=_chat("gpt-4o"), headers=_auth(ALICE, **shared))
    ids = {first.headers["x-request-id"], second.headers["x-request-id"]}
    assert len(ids) == 2
    assert "same-id-1" not in ids
    for response in (first, second):
        assert _one_record(settings, response)["client_request_id"] == "same-id-1"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/v1/nowhere", 404), ("GET", CHAT, 405), ("DELETE", "/v1/models", 405)],
)
async def test_router_errors_have_a_request_id_and_a_log_line(
    client: AsyncTestClient[Any], method: str, path: str, status: int
) -> None:
    """Unknown routes and methods answer with x-request-id and leave a log line."""
    with capture_logs() as logs:
        response = await client.request(method, path, headers=_auth(BOB))
    assert response.status_code == status
    request_id = response.headers["x-request-id"]
    assert request_id.startswith("req_")
    lines = [e for e in logs if e["event"] == "request" and e.get("status") == status]
    assert lines
    assert lines[0]["path"] == path


async def test_failed_authentication_is_counted_and_logged(
    client: AsyncTestClient[Any], settings: Settings
) -> None:
    """A bad key: 401, counted in the metrics, logged with the client address, no record."""
    with capture_logs() as logs:
        response = await client.post(CHAT, json=_chat(), headers=_auth("sk-wrong"))
    assert response.status_code == 401
    assert "x-gateway-audit-id" not in response.headers
    failures = [e for e in logs if e["event"] == "authentication_failed"]
    assert failures
    assert "client_address" in failures[0]
    assert "sk-wrong" not in repr(logs)
    metrics = (await client.get("/metrics")).text
    assert 'gateway_auth_failures_total{reason="invalid_api_key"} 1.0' in metrics
    assert _request_records(settings, response.headers["x-request-id"]) == []


@pytest.mark.parametrize(
    ("method", "path", "key", "status"),
    [
        ("GET", "/v1/models", BOB, 200),
        ("GET", "/v1/models/gpt-4o", BOB, 404),
        ("GET", "/v1/files", BOB, 200),
        ("GET", "/v1/files/file-missing", BOB, 404),
        ("GET", "/v1/fine_tuning/jobs", BOB, 200),
        ("GET", "/admin/audit/records", BOB, 403),
        ("GET", "/admin/audit/verify", CAROL, 200),
    ],
)
async def test_every_endpoint_leaves_one_record(
    client: AsyncTestClient[Any], settings: Settings, method: str, path: str, key: str, status: int
) -> None:
    """Models, files, fine-tuning and admin calls each leave exactly one request record."""
    response = await client.request(method, path, headers=_auth(key))
    assert response.status_code == status, response.text
    record = _one_record(settings, response)
    if record["kind"] == "request":  # the fine-tune service's records say what it decided
        assert record["allowed"] is (status < 400)
    assert record["subject"] in {"bob", "carol"}
