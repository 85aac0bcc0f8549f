"""The guarded httptools protocol, driven directly with an in-memory transport."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from uvicorn.config import Config
from uvicorn.server import ServerState

from gateway.server_limits import ServerLimits, default_max_connections, guarded_protocol

LIMITS = ServerLimits(
    max_header_bytes=4096,
    max_request_line_bytes=512,
    header_timeout_s=0.2,
    body_timeout_s=0.2,
    max_connections=2,
)


class Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written = b""
        self.closed = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 5000), "sockname": ("127.0.0.1", 8080)}.get(name, default)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += bytes(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None: ...


async def _app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def _connect(state: ServerState | None = None) -> tuple[Any, Transport]:
    config = Config(app=_app, http=guarded_protocol(LIMITS), lifespan="off", log_config=None)
    config.load()
    protocol = config.http_protocol_class(  # type: ignore[call-arg]
        config=config, server_state=state or ServerState(), app_state={}
    )
    transport = Transport()
    protocol.connection_made(transport)
    return protocol, transport


def _status(transport: Transport) -> int:
    return int(transport.written.split(b" ", 2)[1])


async def test_headers_past_the_limit_are_431_before_parsing_them() -> None:
    """A header block larger than the limit is refused and the connection closed."""
    protocol, transport = _connect()
    protocol.data_received(b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 3000)
    protocol.data_received(b"a" * 3000)
    assert transport.closed
    assert _status(transport) == 431
    assert b"x-request-id: req_" in transport.written


async def test_a_header_block_then_body_in_one_read_is_accepted() -> None:
    """Body bytes read together with small headers do not count against the header limit."""
    protocol, transport = _connect()
    body = b"x" * 10_000
    protocol.data_received(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10000\r\n\r\n" + body)
    await asyncio.sleep(0.05)
    assert _status(transport) == 204


async def test_a_long_request_target_is_414() -> None:
    """A target longer than the limit is refused with 414."""
    protocol, transport = _connect()
    protocol.data_received(b"GET /" + b"a" * 600 + b" HTTP/1.1\r\n\r\n")
    assert _status(transport) == 414
    assert transport.closed


@pytest.mark.parametrize(
    "sent",
    [b"", b"GET / HTTP/1.1\r\nHost: x\r\n", b"POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\n{"],
)
async def test_slow_or_silent_connections_get_408(sent: bytes) -> None:
    """Silent, unfinished-header and unfinished-body connections are 408 and closed."""
    protocol, transport = _connect()
    if sent:
        protocol.data_received(sent)
    await asyncio.sleep(0.35)
    assert transport.closed
    assert _status(transport) == 408


async def test_connections_past_the_limit_are_503_at_once() -> None:
    """The third connection with max_connections=2 is refused on arrival."""
    state = ServerState()
    _connect(state)
    _connect(state)
    _protocol, third = _connect(state)
    assert third.closed
    assert _status(third) == 503


def test_default_max_connections_leaves_room_for_the_gateway() -> None:
    """The default is within 64..10,000."""
    assert 64 <= default_max_connections() <= 10_000
