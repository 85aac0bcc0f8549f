"""Long texts are cut into bounded segments whose spans map back to the original text."""

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.analysis.segments import OVERLAP, merge, split
from gateway.pii.analyzer import PiiSpan

MAX = 4 * OVERLAP


def _covered(texts: list[str], max_chars: int) -> None:
    segments = split(texts, max_chars)
    for index, text in enumerate(texts):
        mine = [s for s in segments if s.index == index]
        assert all(len(s.text) <= max_chars for s in mine)
        assert all(text[s.offset : s.offset + len(s.text)] == s.text for s in mine)
        # Every character is in some segment, and the segments go forward.
        reach = 0
        for segment in mine:
            assert segment.offset <= reach
            reach = max(reach, segment.offset + len(segment.text))
        assert reach == len(text)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.text(alphabet=st.sampled_from("ab \n,@."), max_size=5000), min_size=0, max_size=4)
)
def test_segments_are_bounded_and_cover_every_text(texts: list[str]) -> None:
    """For any texts, segments are at most the limit and together cover each text."""
    _covered(texts, MAX)


def test_cuts_fall_after_a_newline_when_there_is_one() -> None:
    """A line-structured text is cut at line ends, not inside a line."""
    text = "".join(f"Line {n}: Ann Example, ann{n}@example.com\n" for n in range(200))
    segments = split([text], MAX)
    assert len(segments) > 1
    assert all(s.text.endswith("\n") for s in segments)
    assert "".join(s.text for s in segments) == text


def test_a_text_without_spaces_is_cut_with_overlap() -> None:
    """One long token is cut hard, the next segment repeating the last OVERLAP chars, so
    an address across the cut is whole in one segment."""
    text = ",".join(f"person{n}@example.com" for n in range(200))
    segments = split([text], MAX)
    for address in re.finditer(r"[a-z0-9]+@example\.com", text):
        assert any(
            s.offset <= address.start() and address.end() <= s.offset + len(s.text)
            for s in segments
        )


def test_spans_map_back_and_overlaps_count_once() -> None:
    """Segment spans shift by the segment's offset; a span seen by two overlapping
    segments appears once, with its higher score."""
    text = "x" * 3000
    segments = split([text, "", "short"], MAX)
    found: list[list[PiiSpan]] = []
    for segment in segments:
        spans = []
        # Report absolute position 1000..1010 from every segment that contains it.
        if segment.index == 0 and segment.offset <= 1000 <= segment.offset + len(segment.text) - 10:
            spans.append(
                PiiSpan(
                    type="T",
                    start=1000 - segment.offset,
                    end=1010 - segment.offset,
                    score=0.5 + segment.offset / 10_000,
                )
            )
        found.append(spans)
    merged = merge(segments, found, 3)
    assert len(merged) == 3
    assert [(s["start"], s["end"]) for s in merged[0]] == [(1000, 1010)]
    assert merged[1] == []
    assert merged[2] == []


def test_empty_texts_have_no_segments() -> None:
    """Nothing to analyse in an empty text."""
    assert split(["", ""], MAX) == []
