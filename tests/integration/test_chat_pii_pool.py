"""Chat over the real stack while a PII worker hangs or text is too large to analyse:
refused with 503/413 and audited, never a 500 and never unredacted. (Workers killed under
concurrent load and process lifetimes: tests/e2e/test_pii_pool.py, on a real server.)"""

import asyncio
import json
import os
import signal
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from gateway.app import create_app
from gateway.settings import Settings

from ..conftest import BOB
from .conftest import FakeUpstream, audit_records

pytestmark = pytest.mark.integration

CHAT = "/v1/chat/completions"
AUTH = {"Authorization": f"Bearer {BOB}", "x-gateway-retrieval": "off"}


def _ask(content: str | list[dict[str, Any]]) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}]}


async def _ready_pids(client: AsyncTestClient[Any], old: set[int] | None = None) -> set[int]:
    """Worker pids once /readyz reports the pool ready (with pids other than ``old``)."""
    for _ in range(1500):
        check = (await client.get("/readyz")).json()["checks"]["pii_analysis"]
        pids = {w["pid"] for w in check["workers"] if w["state"] == "ready"}
        if check["ok"] and pids and not pids & (old or set()):
            return pids
        await asyncio.sleep(0.2)
    raise AssertionError("PII workers never became ready")


@pytest.fixture
def settings(settings_for: Any) -> Settings:
    settings: Settings = settings_for(pii_workers=1, pii_batch_timeout_s=3)
    return settings


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[AsyncTestClient[Any]]:
    async with AsyncTestClient(app=create_app(settings), timeout=120) as test_client:
        yield test_client


async def test_a_hung_worker_fails_its_request_closed_and_is_replaced(
    client: AsyncTestClient[Any], settings: Settings, fake_upstream: FakeUpstream
) -> None:
    """The worker stops answering: the request it holds is refused with 503, audited as
    refused, nothing reaches the upstream; /readyz names the pool until a new worker is
    ready, then chat works again."""
    (pid,) = await _ready_pids(client)
    os.kill(pid, signal.SIGSTOP)
    refused = await client.post(
        CHAT, json=_ask("Call Ann Example on +1 415 555 0100"), headers=AUTH
    )
    assert refused.status_code == 503, refused.text
    error = refused.json()["error"]
    assert error["code"] == "dependency_unavailable"
    assert error["type"] == "service_unavailable"
    assert "415 555" not in refused.text
    assert fake_upstream.requests() == []
    ((record),) = audit_records(settings)
    assert record["allowed"] is False
    assert record["refused"] == "dependency_unavailable"
    assert record["status"] == 503
    readyz = await client.get("/readyz")
    if readyz.status_code == 503:  # the replacement is still loading its model
        assert readyz.json()["failing"] == ["pii_analysis"]
    await _ready_pids(client, {pid})
    answered = await client.post(
        CHAT, json=_ask("Call Ann Example on +1 415 555 0100"), headers=AUTH
    )
    assert answered.status_code == 200, answered.text
    (sent,) = fake_upstream.requests()
    assert "415 555 0100" not in json.dumps(sent["body"])


@pytest.mark.parametrize(
    ("content", "code", "setting"),
    [
        ("x" * 1001, "message_too_long", "GATEWAY_MESSAGE_PII_MAX_MESSAGE_CHARS"),
        (
            [{"type": "text", "text": "y" * 900} for _ in range(3)],
            "messages_too_long",
            "GATEWAY_MESSAGE_PII_MAX_REQUEST_CHARS",
        ),
    ],
)
async def test_text_over_the_analysis_limits_is_refused_with_413(
    settings_for: Any,
    fake_upstream: FakeUpstream,
    content: Any,
    code: str,
    setting: str,
) -> None:
    """Too much text to analyse: 413 in OpenAI's shape naming the limit's setting,
    audited as refused, nothing upstream."""
    settings = settings_for(message_pii_max_message_chars=1000, message_pii_max_request_chars=2000)
    async with AsyncTestClient(app=create_app(settings), timeout=120) as client:
        response = await client.post(CHAT, json=_ask(content), headers=AUTH)
    assert response.status_code == 413, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["code"] == code
    assert error["param"] == "messages"
    assert setting in error["message"]
    assert fake_upstream.requests() == []
    (record,) = audit_records(settings)
    assert record["refused"] == code
    assert record["status"] == 413
