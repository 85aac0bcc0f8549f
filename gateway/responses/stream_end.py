"""How a Responses API stream ends when the gateway cannot complete it.

OpenAI's Responses stream has its own terminal events (openai-python's
``ResponseErrorEvent`` and ``ResponseFailedEvent``), not chat's error object. A stream
the upstream breaks off ends with:

- ``event: error``: ``{"type": "error", "code", "message", "param", "sequence_number"}``,
  the gateway's code (``upstream_disconnected``, ``upstream_timeout``...); then, once
  the response was created,
- ``event: response.failed``: the response as last announced, ``status: "failed"`` and
  ``error: {"code": "server_error", "message"}``, so a client tracking the response's
  lifecycle (the SDK's ``responses.stream``, the Agents SDK) sees it end as failed.

Sequence numbers continue from the last event relayed. A stream the upstream itself
ends with ``error`` or ``response.failed`` is noted (``upstream_error``) for the outcome
record.
"""

from __future__ import annotations

import json
import re
from typing import Any

from gateway.errors import GatewayError
from gateway.pipeline.stream_end import payloads

# Events worth decoding: the lifecycle ones (a cheap test before any JSON is parsed).
_LIFECYCLE = re.compile(
    rb'"type"\s*:\s*"(?:response\.(?:created|queued|in_progress|failed)|error)"'
)
_SNAPSHOTS = frozenset({"response.created", "response.queued", "response.in_progress"})


class ResponsesStreamEnd:
    def __init__(self) -> None:
        self.upstream_error: str | None = None
        self._response: dict[str, Any] | None = None
        self._last = b""

    def observe(self, events: bytes) -> None:
        self._last = events
        if _LIFECYCLE.search(events) is None:
            return
        for _, payload in payloads(events):
            if not isinstance(payload, dict):
                continue
            kind = payload.get("type")
            response = payload.get("response")
            if kind in _SNAPSHOTS and isinstance(response, dict):
                self._response = response
            elif kind == "response.failed":
                error = response.get("error") if isinstance(response, dict) else None
                code = error.get("code") if isinstance(error, dict) else None
                self.upstream_error = str(code or "response_failed")
            elif kind == "error":
                self.upstream_error = str(payload.get("code") or "upstream_error")

    def failure(self, exc: GatewayError) -> bytes:
        sequence = self._next_sequence()
        error = {
            "type": "error",
            "code": exc.code,
            "message": exc.message,
            "param": exc.param,
            "sequence_number": sequence,
        }
        out = _event(error)
        if self._response is not None:
            failed = {
                **self._response,
                "status": "failed",
                "error": {"code": "server_error", "message": exc.message},
            }
            out += _event(
                {"type": "response.failed", "sequence_number": sequence + 1, "response": failed}
            )
        return out

    def _next_sequence(self) -> int:
        last = -1
        for _, payload in payloads(self._last):
            if isinstance(payload, dict) and isinstance(payload.get("sequence_number"), int):
                last = payload["sequence_number"]
        return last + 1


def _event(payload: dict[str, Any]) -> bytes:
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return f"event: {payload['type']}\ndata: {data}\n\n".encode()
