"""Placeholder restoration in Responses API answers, and what the gateway reads from them.

A response object's ``output`` items get their text restored (message text and
refusals, reasoning summaries, function-call arguments JSON-escaped, custom tool input).
``instructions`` and ``input`` echoes are left as they were sent upstream.

Streams are re-framed into server-sent events. A placeholder may arrive split over
several ``*.delta`` events: a delta whose end may be the start of a placeholder is held
back (the event itself, not only its text) and merged with the next delta of the same
part, so no event is invented and sequence numbers stay increasing (with gaps where
events were merged). Any other event first releases what is held. ``*.done`` events,
parts, items and the response objects of ``response.*`` events are restored whole.

Restoration or not, the relay learns the response's id from ``response.created`` (its
owner is recorded before the caller sees the id) and its status and usage from the
final event, for the outcome record.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from gateway.redaction.placeholders import Placeholders
from gateway.redaction.restore_stream import StreamRestorer

_FINAL_EVENTS = ("response.completed", "response.incomplete", "response.failed")
# Fields of *.done events holding the whole text, and whether it is JSON-escaped.
_DONE_FIELDS = {"text": False, "refusal": False, "arguments": True, "input": False}


def restore_output_item(item: dict[str, Any], placeholders: Placeholders) -> None:
    """Restore one output item in place."""
    kind = item.get("type")
    if kind == "function_call" and isinstance(item.get("arguments"), str):
        item["arguments"] = placeholders.restore(item["arguments"], json_escaped=True)
    elif kind == "custom_tool_call" and isinstance(item.get("input"), str):
        item["input"] = placeholders.restore(item["input"])
    for key in ("content", "summary"):
        for part in item.get(key) or []:
            if isinstance(part, dict):
                _restore_part(part, placeholders)


def _restore_part(part: dict[str, Any], placeholders: Placeholders) -> None:
    for key in ("text", "refusal"):
        if isinstance(part.get(key), str):
            part[key] = placeholders.restore(part[key])


def restore_response_object(response: dict[str, Any], placeholders: Placeholders) -> None:
    """Restore a response object's ``output`` in place."""
    for item in response.get("output") or []:
        if isinstance(item, dict):
            restore_output_item(item, placeholders)


def restore_response_body(body: bytes, placeholders: Placeholders) -> bytes:
    try:
        payload = json.loads(body)
    except ValueError:
        return body
    if not isinstance(payload, dict):
        return body
    restore_response_object(payload, placeholders)
    return json.dumps(payload, ensure_ascii=False).encode()


@dataclass
class StreamFacts:
    """What the relay read from the events (for ownership and the outcome record)."""

    response_id: str | None = None
    status: str | None = None
    usage: dict[str, Any] | None = None
    last_sequence: int | None = None


@dataclass
class _Held:
    key: tuple[Any, ...]
    lines: list[bytes]
    at: int
    payload: dict[str, Any]
    restorer: StreamRestorer


@dataclass
class ResponseEventRelay:
    """Re-frames the upstream's SSE bytes into events: learns the response id (calling
    ``on_response_id`` before that event is passed on) and the final status and usage,
    and restores placeholders when ``placeholders`` is given."""

    placeholders: Placeholders | None
    on_response_id: Callable[[str], None]
    id_only: bool = False
    """Without placeholders: once the id is known, pass the rest through unparsed."""
    facts: StreamFacts = field(default_factory=StreamFacts)
    _restorers: dict[tuple[Any, ...], StreamRestorer] = field(default_factory=dict)
    _held: _Held | None = None

    async def process(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        buffer = bytearray()
        async for chunk in chunks:
            if self._passing:
                yield chunk
                continue
            searched = max(0, len(buffer) - 1)
            buffer += chunk
            start = 0
            while (end := buffer.find(b"\n\n", max(start, searched))) >= 0:
                for event in self._event(bytes(buffer[start:end])):
                    yield event
                start = end + 2
            if start:
                del buffer[:start]
            if self._passing and buffer:
                yield bytes(buffer)
                buffer.clear()
        for event in self._release():
            yield event
        if buffer:
            for event in self._event(bytes(buffer)):
                yield event
            for event in self._release():
                yield event

    @property
    def _passing(self) -> bool:
        return self.id_only and self.placeholders is None and self.facts.response_id is not None

    def _event(self, raw: bytes) -> list[bytes]:
        lines = raw.split(b"\n")
        data = [i for i, line in enumerate(lines) if line.startswith(b"data:")]
        payload: Any = None
        if len(data) == 1:
            try:
                payload = json.loads(lines[data[0]][5:])
            except ValueError:
                payload = None
        if not isinstance(payload, dict):
            return [*self._release(), raw + b"\n\n"]
        kind = str(payload.get("type", ""))
        sequence = payload.get("sequence_number")
        if isinstance(sequence, int):
            self.facts.last_sequence = sequence
        self._learn(kind, payload)
        if self.placeholders is None:
            return [raw + b"\n\n"]
        if kind.endswith(".delta") and isinstance(payload.get("delta"), str):
            return self._delta(kind, lines, data[0], payload)
        out = self._release()
        self._restore_whole(kind, payload)
        lines[data[0]] = b"data: " + _dump(payload)
        out.append(b"\n".join(lines) + b"\n\n")
        return out

    def _learn(self, kind: str, payload: dict[str, Any]) -> None:
        response = payload.get("response")
        if not isinstance(response, dict):
            return
        if kind == "response.created" and isinstance(response.get("id"), str):
            self.facts.response_id = response["id"]
            self.on_response_id(response["id"])
        if kind in _FINAL_EVENTS:
            self.facts.status = str(response.get("status") or kind.rsplit(".", 1)[1])
            usage = response.get("usage")
            self.facts.usage = usage if isinstance(usage, dict) else None

    def _delta(
        self, kind: str, lines: list[bytes], at: int, payload: dict[str, Any]
    ) -> list[bytes]:
        assert self.placeholders is not None
        key = (
            kind,
            payload.get("item_id"),
            payload.get("output_index"),
            payload.get("content_index"),
            payload.get("summary_index"),
        )
        out: list[bytes] = []
        if self._held is not None and self._held.key != key:
            out = self._release()
        restorer = self._restorers.get(key)
        if restorer is None:
            restorer = StreamRestorer(self.placeholders, json_escaped="arguments" in kind)
            self._restorers[key] = restorer
        text = restorer.feed(payload["delta"])
        if self._held is None:
            payload["delta"] = text
            self._held = _Held(key, lines, at, payload, restorer)
        else:  # the same part: merged into the held event
            self._held.payload["delta"] += text
        if not restorer.pending:
            out.extend(self._release())
        return out

    def _release(self) -> list[bytes]:
        held, self._held = self._held, None
        if held is None:
            return []
        held.payload["delta"] += held.restorer.flush()
        held.lines[held.at] = b"data: " + _dump(held.payload)
        return [b"\n".join(held.lines) + b"\n\n"]

    def _restore_whole(self, kind: str, payload: dict[str, Any]) -> None:
        assert self.placeholders is not None
        if kind.endswith(".done"):
            for name, escaped in _DONE_FIELDS.items():
                if isinstance(payload.get(name), str):
                    payload[name] = self.placeholders.restore(payload[name], json_escaped=escaped)
        part = payload.get("part")
        if isinstance(part, dict):
            _restore_part(part, self.placeholders)
        item = payload.get("item")
        if isinstance(item, dict):
            restore_output_item(item, self.placeholders)
        response = payload.get("response")
        if isinstance(response, dict):
            restore_response_object(response, self.placeholders)


def _dump(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
