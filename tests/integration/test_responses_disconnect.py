"""A client that leaves a streamed Responses answer cancels the upstream call and is
recorded as cut (real stack; the app driven at the ASGI level, as uvicorn serves it)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from gateway.app import create_app
from gateway.settings import Settings

from ..conftest import BOB
from .conftest import FakeUpstream, audit_records_soon

pytestmark = pytest.mark.integration


async def _client_that_leaves(settings: Settings, text: str) -> list[bytes]:
    """One streamed response to a client that reads one write, blocks, then leaves."""
    body = json.dumps({"model": "gpt-4o-mini", "stream": True, "input": text}).encode()
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/responses",
        "raw_path": b"/v1/responses",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"authorization", f"Bearer {BOB}".encode()),
            (b"content-type", b"application/json"),
            (b"x-gateway-retrieval", b"off"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8080),
        "state": {},
    }
    gone = asyncio.Event()
    delivered: list[bytes] = []
    body_sent = False

    async def receive() -> dict[str, Any]:
        nonlocal body_sent
        if not body_sent:
            body_sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if gone.is_set():
            return
        if message["type"] == "http.response.body" and message.get("body"):
            delivered.append(message["body"])
            await asyncio.sleep(1.0)
            gone.set()

    app = create_app(settings)
    async with app.lifespan():
        await asyncio.wait_for(app(scope, receive, send), timeout=30)  # type: ignore[arg-type]
    return delivered


async def test_a_client_leaving_mid_stream_cancels_the_upstream(
    settings: Settings, fake_upstream: FakeUpstream
) -> None:
    """The upstream's stream is cancelled (it never reaches its end), the outcome says
    stream_completed: false, and the response id is the caller's all the same."""
    delivered = await _client_that_leaves(settings, "FAKE_LONG_STREAM_200000")
    assert b"response.created" in delivered[0]
    (outcome,) = await audit_records_soon(settings, "outcome", at_least=1)
    assert outcome["stream_completed"] is False
    for _ in range(100):
        (entry,) = fake_upstream.requests()
        if "stream_finished" in entry and entry["events_sent"] > 0:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)
    (entry,) = fake_upstream.requests()
    assert entry["stream_finished"] is False
    assert entry["events_sent"] < 200_000
