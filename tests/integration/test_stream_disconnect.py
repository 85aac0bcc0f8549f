"""A client that disconnects mid-stream cancels the upstream call and is recorded as cut,
also when the relay is ahead of it (real stack; the app driven at the ASGI level)."""

import asyncio
import json
from typing import Any

import pytest

from gateway.app import create_app
from gateway.settings import Settings

from ..conftest import BOB
from .conftest import FakeUpstream, audit_records_soon

pytestmark = pytest.mark.integration


async def _slow_client_that_leaves(settings: Settings, content: str) -> list[bytes]:
    """One streamed chat over ASGI, as uvicorn serves it to a client that reads slowly and
    then disconnects: the first body write blocks (the client's socket is full) while the
    upstream finishes; the client leaves; later writes return at once (uvicorn drops
    them); ``receive`` then says ``http.disconnect``."""
    body = json.dumps(
        {"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": content}]}
    ).encode()
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/chat/completions",
        "raw_path": b"/v1/chat/completions",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"authorization", f"Bearer {BOB}".encode()),
            (b"content-type", b"application/json"),
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
            return  # uvicorn: writes to a disconnected client are dropped, not raised
        if message["type"] == "http.response.body" and message.get("body"):
            delivered.append(message["body"])
            await asyncio.sleep(1.0)  # blocked on a full socket; the upstream finishes
            gone.set()  # ... and the client goes away

    app = create_app(settings)
    async with app.lifespan():  # the services, opened on this test's own loop
        await asyncio.wait_for(app(scope, receive, send), timeout=30)  # type: ignore[arg-type]
    return delivered


async def test_a_client_leaving_while_the_relay_is_ahead_is_recorded_as_cut(
    settings: Settings, fake_upstream: FakeUpstream
) -> None:
    """The upstream's whole answer is already buffered when the client leaves: the relay
    stops there (it does not read the rest) and records stream_completed: false."""
    delivered = await _slow_client_that_leaves(settings, "FAKE_LONG_STREAM_40")
    assert len(delivered) == 1
    (outcome,) = await audit_records_soon(settings, "outcome", at_least=1)
    assert outcome["stream_completed"] is False


async def test_a_client_leaving_mid_stream_cancels_the_upstream(
    settings: Settings, fake_upstream: FakeUpstream
) -> None:
    """With a long answer still being produced, the upstream's stream is cancelled (the
    fake upstream records it did not reach its end)."""
    await _slow_client_that_leaves(settings, "FAKE_LONG_STREAM_200000")
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
