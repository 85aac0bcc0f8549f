"""Connection-level limits that uvicorn's httptools protocol does not have.

uvicorn gives a keep-alive idle timeout (``timeout_keep_alive``) and a concurrency cap
that still accepts the socket (``limit_concurrency``); its httptools parser has no header
size limit (a 64 MiB header line is buffered and parsed in the event loop, stalling every
other request for seconds) and no timer before the first request or while headers or a
body trickle in (idle and slowloris connections stay open until the file descriptors
run out). ``guarded_protocol`` subclasses its protocol to add, per connection:

- header bytes: more than ``max_header_bytes`` before the end of the headers -> 431;
- request line: a target longer than ``max_request_line_bytes`` -> 414;
- header timeout: headers not complete ``header_timeout_s`` after the connection opened
  (or the next request began) -> 408 and closed (idle and slowloris connections);
- body timeout: a body not complete ``body_timeout_s`` after its headers -> 408 / closed;
- connections: past ``max_connections`` open at once, a new one gets 503 and is closed
  at once instead of holding a descriptor.

Refusals are written directly (the app never sees the request): OpenAI's error JSON,
``connection: close``, an ``x-request-id`` and one log line naming the client address.
"""

from __future__ import annotations

import asyncio
import json
import resource
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import structlog
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from gateway.errors import openai_error

if TYPE_CHECKING:
    from gateway.settings import Settings

log = structlog.get_logger("gateway.server")

_HEADERS_END = b"\r\n\r\n"
_RESERVED_FDS = 256  # descriptors kept for Elasticsearch, OPA, the upstream, audit files
_REASONS = {
    408: "Request Timeout",
    414: "URI Too Long",
    431: "Request Header Fields Too Large",
    503: "Service Unavailable",
}


@dataclass(frozen=True)
class ServerLimits:
    max_header_bytes: int
    max_request_line_bytes: int
    header_timeout_s: float
    body_timeout_s: float
    max_connections: int

    @classmethod
    def from_settings(cls, settings: Settings) -> ServerLimits:
        return cls(
            max_header_bytes=settings.max_header_bytes,
            max_request_line_bytes=settings.max_request_line_bytes,
            header_timeout_s=settings.header_timeout_s,
            body_timeout_s=settings.body_timeout_s,
            max_connections=settings.max_connections or default_max_connections(),
        )


def default_max_connections() -> int:
    """What the open-file limit leaves after the gateway's own descriptors (64..10,000)."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 10_000
    return max(64, min(10_000, soft - _RESERVED_FDS))


class _Rejected(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def guarded_protocol(limits: ServerLimits) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol with ``limits`` (pass the class as ``http=``)."""
    return type("GuardedProtocol", (GuardedHttpToolsProtocol,), {"limits": limits})


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    limits: ClassVar[ServerLimits]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_bytes = 0  # as parsed (name + value + separators)
        self._received = 0  # as read, before the parser buffers them
        self._tail = b""
        self._awaiting_headers = True
        self._rejection: _Rejected | None = None
        self._deadline: asyncio.TimerHandle | None = None

    # -- connection -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            self._refuse(_Rejected(503, "The gateway has too many open connections."))
            return
        self._arm(self.limits.header_timeout_s, "header")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._awaiting_headers and not self._within_header_budget(data):
            self._refuse(_Rejected(431, "The request headers are too large."))
            return
        super().data_received(data)

    def send_400_response(self, msg: str) -> None:
        # uvicorn answers every parser error with a 400; a limit we raised says more.
        if self._rejection is not None:
            self._refuse(self._rejection)
            return
        super().send_400_response(msg)

    # -- parser callbacks -----------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._awaiting_headers = True
        if self._deadline is None:  # the first request keeps the connection's deadline
            self._arm(self.limits.header_timeout_s, "header")

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > self.limits.max_request_line_bytes:
            self._rejection = _Rejected(414, "The request target is too long.")
            raise self._rejection

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_bytes += len(name) + len(value) + 4
        if self._header_bytes > self.limits.max_header_bytes:
            self._rejection = _Rejected(431, "The request headers are too large.")
            raise self._rejection
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._awaiting_headers = False
        self._header_bytes = self._received = 0
        self._tail = b""
        self._arm(self.limits.body_timeout_s, "body")
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    # -- helpers --------------------------------------------------------------------

    def _within_header_budget(self, data: bytes) -> bool:
        """Count header bytes before the parser buffers them; a read that goes past the
        budget is fine only if the headers end within it (the rest is body)."""
        budget = self.limits.max_header_bytes - self._received
        if len(data) <= budget:
            self._received += len(data)
            self._tail = data[-3:]
            return True
        return _HEADERS_END in self._tail + data[: max(budget, 0) + 4]

    def _arm(self, seconds: float, phase: str) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expired, phase)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self, phase: str) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        answering = cycle is not None and cycle.response_started
        if answering and (phase == "body" or not cycle.response_complete):
            # The app has answered this request (or is answering): no 408, only closing.
            log.warning("connection_timeout", phase=phase, client_address=self._client_host())
            self.transport.close()
            return
        message = f"The request {'body' if phase == 'body' else 'headers'} took too long."
        self._refuse(_Rejected(408, message))

    def _client_host(self) -> str | None:
        return self.client[0] if self.client else None

    def _refuse(self, rejected: _Rejected) -> None:
        self._disarm()
        request_id = f"req_{uuid.uuid4().hex}"
        log.warning(
            "connection_refused",
            status=rejected.status,
            reason=rejected.message,
            client_address=self._client_host(),
            request_id=request_id,
        )
        if self.transport.is_closing():
            return
        body = json.dumps(
            openai_error(
                rejected.message,
                "invalid_request_error" if rejected.status < 500 else "service_unavailable",
                code="request_too_large" if rejected.status in (414, 431) else None,
            )
        ).encode()
        head = (
            f"HTTP/1.1 {rejected.status} {_REASONS[rejected.status]}\r\n"
            "content-type: application/json\r\n"
            f"content-length: {len(body)}\r\n"
            f"x-request-id: {request_id}\r\n"
            "connection: close\r\n\r\n"
        ).encode()
        self.transport.write(head + body)
        self.transport.close()
