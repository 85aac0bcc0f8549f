"""Anything else under /v1/ on the real stack: OpenAI's 404, audited, never forwarded."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from gateway.app import create_app
from gateway.audit.records import undeclared
from gateway.settings import Settings

from ..conftest import BOB
from .conftest import FakeUpstream, audit_records

pytestmark = pytest.mark.integration

AUTH = {"Authorization": f"Bearer {BOB}"}
UNSERVED = [
    ("POST", "/v1/completions"),
    ("POST", "/v1/moderations"),
    ("POST", "/v1/audio/transcriptions"),
    ("POST", "/v1/images/generations"),
    ("GET", "/v1/realtime"),
    ("POST", "/v1/batches"),
    ("GET", "/v1/batches/batch_1"),
    ("DELETE", "/v1/vector_stores/vs_1"),
    ("PUT", "/v1/files/file_1/anything"),
    ("GET", "/v1/fine_tuning/jobs/ftjob_1/checkpoints"),
]


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[AsyncTestClient[Any]]:
    async with AsyncTestClient(app=create_app(settings)) as test_client:
        yield test_client


@pytest.mark.parametrize(("method", "path"), UNSERVED)
async def test_unserved_endpoint_is_refused_and_audited(
    client: AsyncTestClient[Any],
    fake_upstream: FakeUpstream,
    settings: Settings,
    method: str,
    path: str,
) -> None:
    """A 404 unsupported_endpoint naming what is served, with x-request-id and one
    request record; the upstream sees nothing."""
    response = await client.request(
        method, path, headers=AUTH, json={"model": "gpt-4o-mini", "prompt": "hi"}
    )
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "unsupported_endpoint"
    assert error["type"] == "not_found_error"
    assert f"{method} {path}" in error["message"]
    for served in ("POST /v1/chat/completions", "POST /v1/embeddings", "GET /v1/models"):
        assert served in error["message"]
    assert response.headers["x-request-id"].startswith("req_")
    assert fake_upstream.requests() == []
    (record,) = [
        r for r in audit_records(settings) if r["request_id"] == response.headers["x-request-id"]
    ]
    assert record["endpoint"] == f"{method} {path}"
    assert record["subject"] == "bob"
    assert record["allowed"] is False
    assert record["status"] == 404
    assert record["refused"] == "unsupported_endpoint"
    assert undeclared(record) == set()
    assert response.headers["x-gateway-audit-id"] == record["audit_id"]


async def test_without_credentials_same_404_no_record(
    client: AsyncTestClient[Any], settings: Settings
) -> None:
    """An anonymous caller gets the same answer; nothing is recorded for it."""
    response = await client.post("/v1/completions", json={"prompt": "x"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unsupported_endpoint"
    assert response.headers["x-request-id"]
    assert audit_records(settings) == []


async def test_wrong_key_is_a_401(client: AsyncTestClient[Any]) -> None:
    """A wrong credential is refused as on every /v1 endpoint."""
    response = await client.post(
        "/v1/completions", json={}, headers={"Authorization": "Bearer sk-wrong"}
    )
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/v1/chat/completions", 405),
        ("DELETE", "/v1/models", 405),
        ("GET", "/v1/embeddings", 405),
        ("GET", "/nowhere", 404),
        ("GET", "/v2/chat/completions", 404),
    ],
)
async def test_router_errors_elsewhere_unchanged(
    client: AsyncTestClient[Any], method: str, path: str, status: int
) -> None:
    """Served paths with a wrong method keep the 405; paths outside /v1/ the plain 404."""
    response = await client.request(method, path, headers=AUTH)
    assert response.status_code == status
    assert "unsupported_endpoint" not in response.text


async def test_served_endpoints_still_served(client: AsyncTestClient[Any]) -> None:
    """The catch-all does not shadow real routes (path parameters included)."""
    assert (await client.get("/v1/models", headers=AUTH)).status_code == 200
    assert (await client.get("/v1/models/gpt-4o-mini", headers=AUTH)).status_code == 200
    files = await client.get("/v1/files/file-nope", headers=AUTH)
    assert files.json()["error"]["code"] != "unsupported_endpoint"
