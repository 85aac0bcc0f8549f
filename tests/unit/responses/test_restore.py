"""Placeholder restoration in Responses API bodies and event streams."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.redaction.placeholders import Placeholders
from gateway.responses.restore import ResponseEventRelay, restore_response_body


def placeholders() -> Placeholders:
    p = Placeholders(b"k")
    p.replace("PERSON", "Alice Smith")
    p.replace("EMAIL_ADDRESS", 'a"b@x.org')
    return p


def test_response_object_output_is_restored() -> None:
    """Message text is restored; function-call arguments JSON-escaped; input left alone."""
    body = {
        "id": "resp_1",
        "instructions": "ctx <PERSON_1>",
        "output": [
            {"type": "message", "content": [{"type": "output_text", "text": "Hi <PERSON_1>"}]},
            {"type": "function_call", "arguments": '{"to": "<EMAIL_ADDRESS_1>"}'},
        ],
    }
    out = json.loads(restore_response_body(json.dumps(body).encode(), placeholders()))
    assert out["output"][0]["content"][0]["text"] == "Hi Alice Smith"
    assert json.loads(out["output"][1]["arguments"]) == {"to": 'a"b@x.org'}
    assert out["instructions"] == "ctx <PERSON_1>"


def sse(event: dict[str, Any]) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


def events_for(text: str, cuts: list[int], kind: str) -> list[dict[str, Any]]:
    pieces, last = [], 0
    for cut in [*sorted({c % (len(text) + 1) for c in cuts}), len(text)]:
        pieces.append(text[last:cut])
        last = cut
    response = {"id": "resp_9", "status": "in_progress", "output": []}
    events: list[dict[str, Any]] = [{"type": "response.created", "response": response}]
    field = "arguments" if "arguments" in kind else "text"
    events += [{"type": f"{kind}.delta", "item_id": "i", "output_index": 0,
                "content_index": 0, "delta": p} for p in pieces]  # fmt: skip
    events.append({"type": f"{kind}.done", "item_id": "i", field: text})
    final = {"id": "resp_9", "status": "completed", "output": [], "usage": {"total_tokens": 3}}
    events.append({"type": "response.completed", "response": final})
    for number, event in enumerate(events):
        event["sequence_number"] = number
    return events


async def relay(raw: bytes, chunk: int, p: Placeholders | None, seen: list[str]) -> bytes:
    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(raw), chunk):
            yield raw[start : start + chunk]

    out = ResponseEventRelay(p, seen.append)
    return b"".join([piece async for piece in out.process(chunks())])


def parse(raw: bytes) -> list[dict[str, Any]]:
    return [
        json.loads(line[5:])
        for block in raw.decode().split("\n\n")
        for line in block.split("\n")
        if line.startswith("data:")
    ]


SEGMENTS = st.sampled_from(["<PERSON_1>", "<EMAIL_ADDRESS_1>", "<PERSON_7>", "<", "x", " ", "_1>"])


@settings(max_examples=150, deadline=None)
@given(
    segments=st.lists(SEGMENTS, max_size=12),
    cuts=st.lists(st.integers(min_value=0, max_value=200), max_size=8),
    chunk=st.integers(min_value=1, max_value=300),
    kind=st.sampled_from(["response.output_text", "response.function_call_arguments"]),
)
def test_split_placeholders_are_restored_and_no_event_is_invented(
    segments: list[str], cuts: list[int], chunk: int, kind: str
) -> None:
    """However deltas and bytes are split, the deltas add up to the restored text, sequence
    numbers keep increasing, no event is added, and done events are restored whole."""
    text = "".join(segments)
    escaped = "arguments" in kind
    p = placeholders()
    events = events_for(text, cuts, kind)
    raw = b"".join(sse(e) for e in events)
    seen: list[str] = []
    out = parse(asyncio.run(relay(raw, chunk, p, seen)))
    expected = p.restore(text, json_escaped=escaped)
    deltas = [e["delta"] for e in out if e["type"].endswith(".delta")]
    assert "".join(deltas) == expected
    numbers = [e["sequence_number"] for e in out]
    assert numbers == sorted(set(numbers))
    assert len(out) <= len(events)
    done = next(e for e in out if e["type"].endswith(".done"))
    assert done["arguments" if escaped else "text"] == expected
    assert seen == ["resp_9"]


def test_without_placeholders_bytes_pass_unchanged_and_facts_are_read() -> None:
    """Restoration off: the stream is relayed byte for byte; id, status and usage read."""
    events = events_for("Hello <PERSON_1>", [3, 9], "response.output_text")
    raw = b"".join(sse(e) for e in events)
    seen: list[str] = []
    relay_ = ResponseEventRelay(None, seen.append)

    async def run() -> bytes:
        async def chunks() -> AsyncIterator[bytes]:
            yield raw

        return b"".join([piece async for piece in relay_.process(chunks())])

    assert asyncio.run(run()) == raw
    assert seen == ["resp_9"]
    assert (relay_.facts.status, relay_.facts.usage) == ("completed", {"total_tokens": 3})


@given(chunk=st.integers(min_value=1, max_value=500))
def test_id_only_relay_passes_every_byte_and_records_the_id(chunk: int) -> None:
    """Learning only the id, the relay still passes the stream byte for byte, however split."""
    raw = b"".join(
        sse(e) for e in events_for("Hi <PERSON_1> there", [2, 5], "response.output_text")
    )
    seen: list[str] = []
    relay_ = ResponseEventRelay(None, seen.append, id_only=True)

    async def run() -> bytes:
        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(raw), chunk):
                yield raw[start : start + chunk]

        return b"".join([piece async for piece in relay_.process(chunks())])

    assert asyncio.run(run()) == raw
    assert seen == ["resp_9"]
