"""Answer restoration does the same as before, in one pass over its input."""

import asyncio
import itertools
import json
from collections.abc import AsyncIterator

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.answer_restore import SseRestorer
from gateway.redaction.placeholders import Placeholders

TYPES = st.sampled_from(["PERSON", "EMAIL_ADDRESS", "US_SSN", "LOCATION"])


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(st.tuples(TYPES, st.text(min_size=1, max_size=8)), max_size=12),
    filler=st.lists(st.text(alphabet='<>_AZ19 x"\\', max_size=6), max_size=12),
    picks=st.lists(st.integers(min_value=0, max_value=40), max_size=12),
)
def test_restricted_view_holds_exactly_the_tokens_in_the_sent_body(
    values: list[tuple[str, str]], filler: list[str], picks: list[int]
) -> None:
    """A token is restorable iff it occurs in the sent text (the old substring rule)."""
    placeholders = Placeholders(b"k")
    tokens = [placeholders.replace(entity, value) for entity, value in values]
    chosen = [tokens[p % len(tokens)] for p in picks] if tokens else []
    sent = json.dumps({"content": "".join(f + t for f, t in zip(filler, chosen, strict=False))})
    view = placeholders.restricted_to(sent)
    for token in tokens:
        expected = placeholders.restore(token) if token in sent else token
        assert view.restore(token) == expected


async def _collect(restorer: SseRestorer, chunks: list[bytes]) -> bytes:
    async def source() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    return b"".join([piece async for piece in restorer.process(source())])


def _events(n: int, token: str) -> bytes:
    return (
        b"".join(
            b"data: "
            + json.dumps(
                {"choices": [{"index": 0, "delta": {"content": f"{token} {i} "}}]}
            ).encode()
            + b"\n\n"
            for i in range(n)
        )
        + b"data: [DONE]\n\n"
    )


@settings(max_examples=100, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=30))
def test_sse_output_does_not_depend_on_how_the_stream_is_chunked(cuts: list[int]) -> None:
    """The same stream split anywhere restores to the same bytes as in one piece."""
    placeholders = Placeholders(b"k")
    token = placeholders.replace("PERSON", "Ann Example")
    stream = _events(20, token)
    points = sorted({c % len(stream) for c in cuts} | {0, len(stream)})
    chunks = [stream[a:b] for a, b in itertools.pairwise(points)]
    whole = asyncio.run(_collect(SseRestorer(placeholders), [stream]))
    split = asyncio.run(_collect(SseRestorer(placeholders), chunks))
    assert split == whole
    assert b"Ann Example" in whole
    assert token.encode() not in whole


def test_sse_restores_a_token_split_across_events_as_valid_json() -> None:
    """A placeholder cut between two deltas is restored, and a value with quotes,
    backslashes or newlines leaves every event valid JSON."""
    placeholders = Placeholders(b"k")
    value = 'Ann "Q" O\\Neil\nJr'
    token = placeholders.replace("PERSON", value)
    half = len(token) // 2
    deltas = [f"Hello {token[:half]}", f"{token[half:]}, bye"]
    stream = b"".join(
        b"data: "
        + json.dumps({"choices": [{"index": 0, "delta": {"content": d}}]}).encode()
        + b"\n\n"
        for d in deltas
    )
    out = asyncio.run(_collect(SseRestorer(placeholders), [stream + b"data: [DONE]\n\n"]))
    events = [line[6:] for line in out.split(b"\n") if line.startswith(b"data: {")]
    text = "".join(json.loads(e)["choices"][0]["delta"].get("content", "") for e in events)
    assert text == f"Hello {value}, bye"
    assert out.endswith(b"data: [DONE]\n\n")
