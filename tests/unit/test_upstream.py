import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from gateway.errors import DependencyUnavailable, UpstreamError
from gateway.upstream import UpstreamClient, translate_transport_error

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@asynccontextmanager
async def upstream(handler: Handler, **options: Any) -> AsyncIterator[UpstreamClient]:
    """A local HTTP server answering POST /v1/chat/completions, and a client pointed at it."""
    app = web.Application()
    app.router.add_post("/v1/chat/completions", handler)
    async with TestServer(app, host="127.0.0.1") as server:
        base_url = str(server.make_url("/v1"))
        async with UpstreamClient(
            base_url,
            "sk-upstream",
            timeout_s=options.get("timeout_s", 5),
            connect_timeout_s=1,
        ) as client:
            yield client


async def test_gateway_key_replaces_caller_credentials() -> None:
    """The upstream sees the gateway's own key on the configured base path, body intact."""
    seen: list[tuple[str, str, bytes]] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append((request.path, request.headers["authorization"], await request.read()))
        return web.json_response({"ok": True})

    async with upstream(handler) as client:
        response = await client.post_json("chat/completions", b'{"model":"m"}')
    assert response.status_code == 200
    assert json.loads(response.body) == {"ok": True}
    assert response.headers["content-type"].startswith("application/json")
    assert seen == [("/v1/chat/completions", "Bearer sk-upstream", b'{"model":"m"}')]


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
@pytest.mark.parametrize("stream", [False, True])
async def test_upstream_http_errors_are_mapped(
    status: int, expected_status: int, code: str, stream: bool
) -> None:
    """A body that is not OpenAI's error: client errors keep their status, auth and
    server errors become 502, always with a code."""

    async def handler(request: web.Request) -> web.Response:
        return web.Response(text="<html>bad gateway</html>", status=status)

    async with upstream(handler) as client:
        call = client.stream_json if stream else client.post_json
        with pytest.raises(UpstreamError) as info:
            await call("chat/completions", b"{}")
    assert info.value.status_code == expected_status
    assert info.value.code == code


async def test_connect_error_is_dependency_unavailable() -> None:
    """An unreachable upstream (after the one retry) is a 503 naming the upstream."""
    async with UpstreamClient(
        "http://127.0.0.1:1/v1", "sk-upstream", timeout_s=5, connect_timeout_s=1
    ) as client:
        with pytest.raises(DependencyUnavailable, match="upstream"):
            await client.post_json("chat/completions", b"{}")


async def test_a_slow_upstream_times_out_as_504() -> None:
    """No answer within the read timeout: 504 upstream_timeout."""

    async def handler(request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.json_response({})

    async with upstream(handler, timeout_s=0.2) as client:
        with pytest.raises(UpstreamError) as info:
            await client.post_json("chat/completions", b"{}")
    assert (info.value.status_code, info.value.code) == (504, "upstream_timeout")


async def test_stream_passes_bytes_through() -> None:
    """Streamed bytes arrive unchanged and in order."""
    events = [b'data: {"a": 1}\n\n', b"data: [DONE]\n\n"]

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        for event in events:
            await response.write(event)
        await response.write_eof()
        return response

    async with upstream(handler) as client:
        stream = await client.stream_json("chat/completions", json.dumps({}).encode())
        received = b"".join([chunk async for chunk in stream.chunks])
    assert received == b"".join(events)
    assert stream.headers["content-type"] == "text/event-stream"


async def test_a_stream_cut_by_the_upstream_raises_an_upstream_error() -> None:
    """The upstream dropping the connection mid-stream is an UpstreamError, after the
    bytes that did arrive."""

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        await response.write(b'data: {"a": 1}\n\n')
        assert request.transport is not None
        request.transport.close()
        return response

    async with upstream(handler) as client:
        stream = await client.stream_json("chat/completions", b"{}")
        received: list[bytes] = []
        with pytest.raises(UpstreamError):
            await _collect(stream.chunks, received)
    assert b"".join(received) == b'data: {"a": 1}\n\n'


async def _collect(chunks: AsyncIterator[bytes], into: list[bytes]) -> None:
    async for chunk in chunks:
        into.append(chunk)


async def test_a_caller_leaving_mid_stream_closes_the_upstream_connection() -> None:
    """Closing the relay early (client disconnect) ends the upstream's response too."""
    upstream_saw_disconnect = asyncio.Event()

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        try:
            for n in range(200):
                await response.write(f"data: {n}\n\n".encode())
                await asyncio.sleep(0.01)
        except (ConnectionResetError, asyncio.CancelledError):
            upstream_saw_disconnect.set()
            raise
        return response

    async with upstream(handler) as client:
        stream = await client.stream_json("chat/completions", b"{}")
        first = await anext(aiter(stream.chunks))
        await stream.chunks.aclose()  # type: ignore[attr-defined]
        await asyncio.wait_for(upstream_saw_disconnect.wait(), timeout=5)
    assert first.startswith(b"data: 0")


@pytest.mark.parametrize("stream", [False, True])
async def test_redirects_are_refused_not_followed(stream: bool) -> None:
    """A 307 to another place is a 502: the prompt is never re-sent elsewhere."""
    elsewhere: list[bytes] = []

    async def handler(request: web.Request) -> web.Response:
        if request.query.get("moved"):
            elsewhere.append(await request.read())
            return web.json_response({"leaked": True})
        raise web.HTTPTemporaryRedirect(location="/v1/chat/completions?moved=1")

    async with upstream(handler) as client:
        call = client.stream_json if stream else client.post_json
        with pytest.raises(UpstreamError) as info:
            await call("chat/completions", b'{"messages": "secret context"}')
    assert (info.value.status_code, info.value.code) == (502, "upstream_error")
    assert elsewhere == []


async def test_bodies_arrive_uncompressed() -> None:
    """The gateway asks for identity encoding, and decodes a body compressed anyway."""
    asked: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        asked.append(request.headers.get("accept-encoding", ""))
        response = web.Response(body=b'{"usage": {"total_tokens": 3}}')
        response.content_type = "application/json"
        response.enable_compression(force=web.ContentCoding.gzip)
        return response

    async with upstream(handler) as client:
        response = await client.post_json("chat/completions", b"{}")
    assert asked == ["identity"]
    assert json.loads(response.body) == {"usage": {"total_tokens": 3}}


def test_proxy_from_the_environment_is_resolved_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTPS_PROXY applies to the upstream unless NO_PROXY names its host."""
    from gateway.upstream import _environment_proxy

    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("https_proxy", "http://proxy.internal:3128")
    assert _environment_proxy("https://api.example.com/v1/") == "http://proxy.internal:3128"
    assert _environment_proxy("http://api.example.com/v1/") is None
    monkeypatch.setenv("no_proxy", "api.example.com")
    assert _environment_proxy("https://api.example.com/v1/") is None


@pytest.mark.parametrize("status", [400, 404, 413, 429, 500, 503])
@pytest.mark.parametrize("stream", [False, True])
async def test_openai_shaped_errors_are_relayed_as_sent(status: int, stream: bool) -> None:
    """The upstream's own error keeps its status, type, param, code, message and its
    retry-after / x-ratelimit-* headers (never its other headers)."""
    error = {
        "message": "too long",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "context_length_exceeded",
    }
    headers = {"retry-after": "7", "x-ratelimit-remaining-tokens": "0", "x-secret": "s"}

    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"error": error}, status=status, headers=headers)

    async with upstream(handler) as client:
        call = client.stream_json if stream else client.post_json
        with pytest.raises(UpstreamError) as info:
            await call("chat/completions", b"{}")
    assert info.value.status_code == status
    assert info.value.to_openai() == {"error": error}
    assert info.value.headers == {"retry-after": "7", "x-ratelimit-remaining-tokens": "0"}


async def test_a_null_upstream_code_stays_null() -> None:
    """Relaying is faithful both ways: the gateway does not invent a code the upstream
    did not send."""

    async def handler(request: web.Request) -> web.Response:
        body = {"error": {"message": "m", "type": "server_error", "param": None, "code": None}}
        return web.json_response(body, status=500)

    async with upstream(handler) as client:
        with pytest.raises(UpstreamError) as info:
            await client.post_json("chat/completions", b"{}")
    assert info.value.to_openai()["error"]["code"] is None


@pytest.mark.parametrize("stream", [False, True])
async def test_a_dropped_connection_is_a_502_with_a_code(stream: bool) -> None:
    """An upstream that closes the connection without an answer: 502 upstream_disconnected."""

    async def handler(request: web.Request) -> web.Response:
        assert request.transport is not None
        request.transport.close()
        return web.Response()

    async with upstream(handler) as client:
        call = client.stream_json if stream else client.post_json
        with pytest.raises(UpstreamError) as info:
            await call("chat/completions", b"{}")
    assert (info.value.status_code, info.value.code) == (502, "upstream_disconnected")


@pytest.mark.parametrize(
    ("aiohttp_error", "httpx_error"),
    [
        (aiohttp.ServerTimeoutError("slow"), httpx.ReadTimeout("slow")),
        (
            aiohttp.ClientConnectorError(None, OSError(111, "refused")),  # type: ignore[arg-type]
            httpx.ConnectError("refused"),
        ),
        (aiohttp.ServerDisconnectedError(), httpx.RemoteProtocolError("closed")),
        (aiohttp.ClientPayloadError("cut"), httpx.ReadError("cut")),
        (aiohttp.TooManyRedirects(None, ()), httpx.TooManyRedirects("loop")),  # type: ignore[arg-type]
    ],
)
def test_both_libraries_map_to_the_same_gateway_error(
    aiohttp_error: BaseException, httpx_error: BaseException
) -> None:
    """The chat (aiohttp) and files (httpx) paths share one transport-error map."""
    chat, files = translate_transport_error(aiohttp_error), translate_transport_error(httpx_error)
    assert (type(chat), chat.status_code, chat.code) == (type(files), files.status_code, files.code)
    if isinstance(chat, UpstreamError) and chat.code is None:
        assert chat.message.startswith("Upstream transport error: ")


async def test_the_files_client_is_built_on_first_use() -> None:
    """Opening the client builds no httpx client (its CA bundle costs start-up time); the
    first files or jobs call builds it with the gateway's credential, later calls reuse it."""
    seen: list[str] = []

    async def files(request: web.Request) -> web.Response:
        seen.append(request.headers.get("authorization", ""))
        return web.json_response({"data": []})

    app = web.Application()
    app.router.add_get("/v1/files", files)
    async with (
        TestServer(app, host="127.0.0.1") as server,
        UpstreamClient(
            str(server.make_url("/v1")), "sk-upstream", timeout_s=5, connect_timeout_s=1
        ) as client,
    ):
        assert client._client is None
        first = await client.request("GET", "files")
        built = client._client
        await client.request("GET", "files")
        assert built is not None
        assert client._client is built
    assert first.json() == {"data": []}
    assert seen == ["Bearer sk-upstream"] * 2
    assert built.is_closed
