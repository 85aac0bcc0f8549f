import json

import httpx
import pytest

from gateway.errors import DependencyUnavailable, UpstreamError
from gateway.upstream import UpstreamClient


def _client(handler) -> UpstreamClient:  # type: ignore[no-untyped-def]
    return UpstreamClient(
        "http://upstream.test/v1",
        "sk-upstream",
        timeout_s=5,
        connect_timeout_s=1,
        transport=httpx.MockTransport(handler),
    )


async def test_gateway_key_replaces_caller_credentials() -> None:
    """The upstream sees the gateway's own key on the configured base path."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ok": True})

    async with _client(handler) as client:
        response = await client.post_json("chat/completions", b"{}")
    assert response.status_code == 200
    assert seen[0].url == "http://upstream.test/v1/chat/completions"
    assert seen[0].headers["authorization"] == "Bearer sk-upstream"


@pytest.mark.parametrize(
    ("status", "expected_status", "code"),
    [
        (400, 400, "upstream_rejected"),
        (429, 429, "upstream_rejected"),
        (401, 502, "upstream_auth"),
        (500, 502, "upstream_error"),
        (503, 502, "upstream_error"),
    ],
)
async def test_upstream_http_errors_are_mapped(
    status: int, expected_status: int, code: str
) -> None:
    """Client errors keep their status; auth and server errors become 502."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"error": {"message": "upstream says no"}})

    async with _client(handler) as client:
        with pytest.raises(UpstreamError) as info:
            await client.post_json("chat/completions", b"{}")
    assert info.value.status_code == expected_status
    assert info.value.code == code


async def test_connect_error_is_dependency_unavailable() -> None:
    """An unreachable upstream is a 503 naming the upstream."""

    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with _client(handler) as client:
        with pytest.raises(DependencyUnavailable, match="upstream"):
            await client.post_json("chat/completions", b"{}")


async def test_stream_passes_bytes_through() -> None:
    """Streamed bytes arrive unchanged and in order."""
    events = [b'data: {"a": 1}\n\n', b"data: [DONE]\n\n"]

    async def body():  # type: ignore[no-untyped-def]
        for event in events:
            yield event

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body(), headers={"content-type": "text/event-stream"})

    async with _client(handler) as client:
        stream = await client.stream_json("chat/completions", json.dumps({}).encode())
        received = b"".join([chunk async for chunk in stream.chunks])
    assert received == b"".join(events)
    assert stream.headers["content-type"] == "text/event-stream"
