"""Restore placeholders in the model's answer, for callers the policy lets see originals.

Works on OpenAI chat-completion bodies (content and tool-call arguments) and on their
server-sent-event streams, where a placeholder may be split across events: each choice's
content and each tool call's arguments get their own StreamRestorer.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from gateway.redaction.placeholders import Placeholders
from gateway.redaction.restore_stream import StreamRestorer


def restore_completion(body: bytes, placeholders: Placeholders) -> bytes:
    try:
        payload = json.loads(body)
    except ValueError:
        return body
    for choice in payload.get("choices") or []:
        message = choice.get("message") or {}
        if isinstance(message.get("content"), str):
            message["content"] = placeholders.restore(message["content"])
        for call in message.get("tool_calls") or []:
            function = call.get("function") or {}
            if isinstance(function.get("arguments"), str):
                function["arguments"] = placeholders.restore(
                    function["arguments"], json_escaped=True
                )
    return json.dumps(payload).encode()


class SseRestorer:
    """Re-frames an SSE byte stream into events and restores placeholders in each."""

    def __init__(self, placeholders: Placeholders) -> None:
        self._placeholders = placeholders
        self._content: dict[int, StreamRestorer] = {}
        self._arguments: dict[tuple[int, int], StreamRestorer] = {}

    async def process(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        # Linear in the stream: each byte is searched once and copied once (re-splitting
        # the whole buffer per event would be quadratic in a chunk holding many events).
        buffer = bytearray()
        async for chunk in chunks:
            searched = max(0, len(buffer) - 1)
            buffer += chunk
            start = 0
            while (end := buffer.find(b"\n\n", max(start, searched))) >= 0:
                yield self._event(bytes(buffer[start:end])) + b"\n\n"
                start = end + 2
            if start:
                del buffer[:start]
        if buffer:
            yield self._event(bytes(buffer))

    def _event(self, event: bytes) -> bytes:
        lines = event.split(b"\n")
        out = []
        for line in lines:
            if line.startswith(b"data: ") and line[6:].strip() != b"[DONE]":
                out.append(b"data: " + self._data(line[6:]))
            else:
                out.append(line)
        return b"\n".join(out)

    def _data(self, raw: bytes) -> bytes:
        try:
            payload = json.loads(raw)
        except ValueError:
            return raw
        for choice in payload.get("choices") or []:
            self._choice(choice)
        return json.dumps(payload).encode()

    def _choice(self, choice: dict[str, Any]) -> None:
        index = int(choice.get("index", 0))
        delta = choice.get("delta") or {}
        finished = choice.get("finish_reason") is not None
        restorer = self._content.setdefault(index, StreamRestorer(self._placeholders))
        if isinstance(delta.get("content"), str):
            delta["content"] = restorer.feed(delta["content"])
        if finished:
            tail = restorer.flush()
            if tail:
                delta["content"] = (delta.get("content") or "") + tail
                choice["delta"] = delta
        for call in delta.get("tool_calls") or []:
            function = call.get("function") or {}
            key = (index, int(call.get("index", 0)))
            args = self._arguments.setdefault(
                key, StreamRestorer(self._placeholders, json_escaped=True)
            )
            if isinstance(function.get("arguments"), str):
                function["arguments"] = args.feed(function["arguments"])
        if finished:
            self._flush_tool_calls(index, delta, choice)

    def _flush_tool_calls(self, index: int, delta: dict[str, Any], choice: dict[str, Any]) -> None:
        for (choice_index, call_index), restorer in self._arguments.items():
            if choice_index != index:
                continue
            tail = restorer.flush()
            if tail:
                calls = delta.setdefault("tool_calls", [])
                calls.append({"index": call_index, "function": {"arguments": tail}})
                choice["delta"] = delta
