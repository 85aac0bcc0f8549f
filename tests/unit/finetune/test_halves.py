"""A large upload parsed and fingerprinted in two halves: the one-process result."""

import json
import threading
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import BadRequest
from gateway.finetune.examples import parse_examples
from gateway.finetune.halves import merged, parse_half, parse_in_halves, segments_in_helper
from gateway.finetune.helper import ScanHelper
from gateway.finetune.units import example_units, segment_units

WORDS = ["alpha", "beta", "gamma", "delta", "Épée", "naïve", "x1", "42", "the", "Vault"]
_text = st.lists(st.sampled_from(WORDS), min_size=0, max_size=40).map(" ".join)
_good = st.builds(
    lambda q, a: json.dumps(
        {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
    ),
    st.sampled_from(["Explain this.", "Help", "What does it do?"]),
    _text,
)
_line = st.one_of(
    _good,
    _good,
    _good,
    st.just(""),
    st.just("not json"),
    st.just('{"messages": []}'),
    st.just('{"a": 1, "a": 2}'),
)


def _whole(content: bytes, chat: bool) -> tuple[object, object, object]:
    """The one-process result: examples, (line, fingerprints) per unit, letters."""
    try:
        examples = parse_examples(content, chat=chat)
    except BadRequest as exc:
        return "refused", exc.message, None
    units, letters_of = example_units(examples)
    return examples, [(u.lines, u.prints.tolist()) for u in units], letters_of


def _halves(content: bytes, cut: int, chat: bool) -> tuple[object, object, object]:
    first = content.count(b"\n", 0, cut) + 1
    try:
        examples, units, letters_of = merged(
            parse_half(memoryview(content)[:cut], 1, chat),
            parse_half(content[cut:], first, chat),
            chat=chat,
        )
    except BadRequest as exc:
        return "refused", exc.message, None
    return examples, [(u.lines, u.prints.tolist()) for u in units], letters_of


@settings(max_examples=80, deadline=None)
@given(st.lists(_line, max_size=30), st.data(), st.booleans(), st.booleans(), st.booleans())
def test_two_halves_give_the_whole_file_s_result(
    lines: list[str], data: st.DataObject, chat: bool, broken: bool, bom: bool
) -> None:
    """Cut after any line (or the file refused: bad lines, not UTF-8), the two halves'
    examples, fingerprints, letters or refusal message are the whole file's, a UTF-8
    byte-order mark at its start or not."""
    content = (b"\xef\xbb\xbf" if bom else b"") + "".join(line + "\n" for line in lines).encode()
    if broken and content:
        at = data.draw(st.integers(0, len(content) - 1))
        content = content[:at] + b"\xff" + content[at + 1 :]
    newlines = [i + 1 for i, byte in enumerate(content) if byte == 0x0A]
    cut = data.draw(st.sampled_from([0, *newlines]))
    assert _halves(content, cut, chat) == _whole(content, chat)


def test_more_than_the_reported_bad_lines_in_both_halves_read_as_one_file() -> None:
    """Bad lines past the reading limit, spread over both halves: the same message."""
    content = b"nope\n" * 1500
    cut = len(content) // 2
    assert _halves(content, cut, True) == _whole(content, True)


async def test_the_helper_s_half_and_segments_equal_the_one_process_result() -> None:
    """Through a real helper process: examples, units and segments as in one process."""
    lines = [
        json.dumps(
            {
                "messages": [
                    {"role": "system", "content": "You are a helpful assistant."},
                    {"role": "user", "content": f"question {n % 7}"},
                    {
                        "role": "assistant",
                        "content": " ".join(WORDS[(n + i) % 10] for i in range(60)),
                    },
                ]
            }
        )
        for n in range(300)
    ]
    content = "".join(line + "\n" for line in lines).encode()
    examples = parse_examples(content)
    units, letters_of = example_units(examples)
    async with ScanHelper(nice=0) as helper:
        got, got_units, got_letters = await parse_in_halves(content, True, helper)
        segments = await segments_in_helper(got, got_letters, helper)
    assert got == examples
    assert got_letters == letters_of
    assert [(u.lines, u.prints.tolist()) for u in got_units] == [
        (u.lines, u.prints.tolist()) for u in units
    ]
    expected = segment_units(examples, letters_of)
    assert len(segments) == len(expected) > 0
    for have, want in zip(segments, expected, strict=True):
        assert have.lines == want.lines
        assert np.array_equal(have.prints, want.prints)
        assert have.owners is not None
        assert want.owners is not None
        assert np.array_equal(have.owners, want.owners)


async def test_a_bad_line_in_the_helper_s_half_refuses_the_file() -> None:
    """The second half's bad line is reported with its line number in the file."""
    good = json.dumps(
        {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    )
    content = (good + "\n") * 14 + "not json\n" + (good + "\n") * 6
    async with ScanHelper(nice=0) as helper:
        with pytest.raises(BadRequest, match="1 bad line\\(s\\): line 15: "):
            await parse_in_halves(content.encode(), True, helper)


async def test_the_merge_and_the_segment_stream_run_off_the_event_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """For a large file they take seconds: on the event loop they would stall chat and
    time out the scan's own policy call (a 50 MB upload ended in "opa unavailable")."""
    from gateway.finetune import halves

    loop_thread = threading.get_ident()
    ran_in: dict[str, int] = {}

    def recorded(name: str, func: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            ran_in[name] = threading.get_ident()
            return func(*args, **kwargs)

        return call

    for name in ("merged", "segment_stream", "segments_of"):
        monkeypatch.setattr(halves, name, recorded(name, getattr(halves, name)))
    good = json.dumps(
        {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a b c"}]}
    )
    content = ((good + "\n") * 50).encode()
    async with ScanHelper(nice=0) as helper:
        examples, _, letters_of = await halves.parse_in_halves(content, True, helper)
        await halves.segments_in_helper(examples, letters_of, helper)
    assert set(ran_in) == {"merged", "segment_stream", "segments_of"}
    assert loop_thread not in ran_in.values()
