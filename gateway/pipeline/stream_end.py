"""How a relayed server-sent-event stream ends: whole events only, and a failure said
the way the endpoint's API says it.

The relay passes the upstream's bytes on at event boundaries (a blank line), so an
upstream that breaks off in the middle of an event leaves no half event for the client
to choke on: that tail is dropped, and the endpoint's own failure event follows on a
clean boundary. Chat completions end with ``data: {"error": {...}}`` (what OpenAI sends
and the openai SDK raises as ``APIError``); the Responses API has its own terminal
events (``gateway.responses.stream_end``).

A ``StreamEnd`` also notices a stream the upstream itself ended with an error, so the
outcome record says the answer did not complete.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Protocol

from gateway.errors import GatewayError

_BOUNDARIES = ((b"\n\n", 2), (b"\r\n\r\n", 4), (b"\r\r", 2))


class StreamEnd(Protocol):
    """Watches the events relayed, and words a failure for the caller."""

    upstream_error: str | None
    """The error code the upstream's own events ended the stream with, if any."""

    def observe(self, events: bytes) -> None:
        """Whole events, as relayed."""

    def failure(self, exc: GatewayError) -> bytes:
        """The event(s) ending a stream the gateway could not complete."""


class WholeEvents:
    """Re-frames bytes into whole events: ``feed`` returns what ends on a boundary and
    keeps the rest for the next chunk."""

    def __init__(self) -> None:
        self._tail = b""

    def feed(self, chunk: bytes) -> bytes:
        data = self._tail + chunk if self._tail else chunk
        cut = _last_boundary(data)
        self._tail = data[cut:]
        return data[:cut]

    def rest(self) -> bytes:
        """What is left once the upstream ended normally (an unterminated last event)."""
        rest, self._tail = self._tail, b""
        return rest


def _last_boundary(data: bytes) -> int:
    ends = [at + size for marker, size in _BOUNDARIES if (at := data.rfind(marker)) >= 0]
    return max(ends, default=0)


def payloads(events: bytes) -> Iterator[tuple[str | None, Any]]:
    """``(event name, decoded data)`` of each event (undecodable data: None)."""
    for block in events.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n\n"):
        name: str | None = None
        data: list[bytes] = []
        for line in block.split(b"\n"):
            if line.startswith(b"event:"):
                name = line[6:].strip().decode("utf-8", "replace")
            elif line.startswith(b"data:"):
                data.append(line[5:].removeprefix(b" "))
        if not data:
            continue
        try:
            yield name, json.loads(b"\n".join(data))
        except ValueError:
            yield name, None


class ChatStreamEnd:
    """Chat completions: OpenAI sends an error object in the data stream."""

    def __init__(self) -> None:
        self.upstream_error: str | None = None

    def observe(self, events: bytes) -> None:
        if b'"error"' not in events:
            return
        for _, payload in payloads(events):
            if isinstance(payload, dict) and payload.get("error"):
                error = payload["error"]
                code = error.get("code") or error.get("type") if isinstance(error, dict) else None
                self.upstream_error = str(code or "upstream_error")

    def failure(self, exc: GatewayError) -> bytes:
        return f"data: {json.dumps(exc.to_openai())}\n\n".encode()
