"""How a relayed stream ends: whole events, and a failure in the endpoint's own words."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from openai.types.responses import ResponseErrorEvent, ResponseFailedEvent

from gateway.errors import UpstreamError
from gateway.pipeline.stream_end import ChatStreamEnd, WholeEvents, payloads
from gateway.responses.stream_end import ResponsesStreamEnd

CUT = UpstreamError("The upstream closed the connection.", code="upstream_disconnected")


def sse(payload: dict[str, Any], name: str | None = None) -> bytes:
    head = f"event: {name}\n" if name else ""
    return f"{head}data: {json.dumps(payload)}\n\n".encode()


@given(
    st.lists(st.text(min_size=1, max_size=20), max_size=8),
    st.lists(st.integers(min_value=0, max_value=400), max_size=10),
)
def test_events_pass_whole_however_the_bytes_are_split(texts: list[str], cuts: list[int]) -> None:
    """Whatever the chunking, only whole events come out, and all of them in order."""
    stream = b"".join(sse({"t": text}) for text in texts)
    points = sorted({min(c, len(stream)) for c in cuts})
    chunks = [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)]
    framer = WholeEvents()
    out = []
    for chunk in chunks:
        events = framer.feed(chunk)
        assert events == b"" or events.endswith(b"\n\n")
        out.append(events)
    out.append(framer.rest())
    assert b"".join(out) == stream


def test_a_broken_event_is_held_back_and_dropped() -> None:
    """Half an event never reaches the client; the failure follows on a clean boundary."""
    framer = WholeEvents()
    whole = sse({"choices": []})
    assert framer.feed(whole + b'data: {"choi') == whole
    end = ChatStreamEnd()
    failure = end.failure(CUT)
    ((_, payload),) = list(payloads(failure))
    assert payload["error"]["code"] == "upstream_disconnected"
    assert payload["error"]["type"] == "upstream_error"


def test_chat_notices_the_upstreams_own_error_object() -> None:
    """An error object in the upstream's data stream marks the answer as not completed."""
    end = ChatStreamEnd()
    end.observe(sse({"choices": [{"delta": {"content": '"error"'}}]}))
    assert end.upstream_error is None
    end.observe(sse({"error": {"message": "m", "type": "server_error", "code": "overloaded"}}))
    assert end.upstream_error == "overloaded"


def test_responses_failure_is_an_error_event_then_response_failed() -> None:
    """After the response was created: an ``error`` event with the gateway's code, then
    ``response.failed`` with the response as announced; sequence numbers continue and
    both parse as openai-python's event types."""
    end = ResponsesStreamEnd()
    created = {"id": "resp_1", "object": "response", "status": "in_progress", "output": []}
    end.observe(sse({"type": "response.created", "sequence_number": 0, "response": created}))
    end.observe(sse({"type": "response.output_text.delta", "sequence_number": 5, "delta": "x"}))
    (error_name, error), (failed_name, failed) = payloads(end.failure(CUT))
    assert (error_name, failed_name) == ("error", "response.failed")
    event = ResponseErrorEvent.model_validate(error)
    assert (event.code, event.sequence_number) == ("upstream_disconnected", 6)
    assert failed["sequence_number"] == 7
    assert failed["response"]["id"] == "resp_1"
    assert failed["response"]["status"] == "failed"
    assert failed["response"]["error"]["code"] == "server_error"
    assert ResponseFailedEvent.model_construct(**failed).type == "response.failed"
    assert end.upstream_error is None


def test_responses_failure_before_creation_is_an_error_event_alone() -> None:
    """No response announced yet: only the ``error`` event, numbered 0."""
    ((name, payload),) = payloads(ResponsesStreamEnd().failure(CUT))
    assert name == "error"
    assert payload["sequence_number"] == 0


def test_responses_notices_an_upstream_failure() -> None:
    """The upstream's own ``response.failed`` or ``error`` event is noted with its code."""
    end = ResponsesStreamEnd()
    failed = {"id": "r", "status": "failed", "error": {"code": "server_error", "message": "m"}}
    end.observe(sse({"type": "response.failed", "sequence_number": 3, "response": failed}))
    assert end.upstream_error == "server_error"
    end = ResponsesStreamEnd()
    end.observe(sse({"type": "error", "code": "rate_limit_exceeded", "message": "m"}, "error"))
    assert end.upstream_error == "rate_limit_exceeded"
