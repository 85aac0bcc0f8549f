"""The upload's units: the examples' and the segments' fingerprints equal those of the
straightforward algorithm they replace, for any list of examples."""

import itertools
import random

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.finetune.examples import Example
from gateway.finetune.matcher import Unit
from gateway.finetune.units import (
    SEGMENT,
    SHORT_TEXT,
    SegmentArrays,
    example_units,
    first_occurrences,
    segment_arrays,
    segment_jobs,
    segment_passes,
    segment_units,
    segments_of,
)
from gateway.fingerprint import (
    CHAR_K,
    CHAR_WINDOW,
    char_hashes,
    fingerprint_array,
    letters,
    ranges,
    sliding_argmin,
    sorted_distinct,
)


def _segments_before(examples: list[Example]) -> list[Unit]:
    """``segment_units`` as it was at f15b267 (its letters from each text, as when no
    streams are handed over): every window's minimum and its place by
    ``sliding_argmin``, then runs of windows with the same place; the texts it reads are
    today's (``first_occurrences``; then, when any text is long, the short texts on their own)."""
    firsts = first_occurrences(examples)
    streams = [letters("\n".join(texts)) for texts in firsts]
    shorts = [
        letters("\n".join(text for text in texts if len(letters(text)) <= SHORT_TEXT))
        for texts in firsts
    ]
    line_of = [example.line for example in examples]
    passes = [streams] if shorts == streams else [streams, shorts]
    return [unit for one in passes for unit in _stream_segments_before(one, line_of)]


def _stream_segments_before(streams: list[str], line_of: list[int]) -> list[Unit]:
    starts = np.cumsum([0, *(len(s) for s in streams)])
    hashes = char_hashes("".join(streams), CHAR_K)
    if len(hashes) <= CHAR_WINDOW:
        return []
    count = len(hashes) - CHAR_WINDOW + 1
    minima, chosen = sliding_argmin(hashes, CHAR_WINDOW)
    minima |= np.int64(1)
    run_start = np.flatnonzero(np.r_[True, chosen[1:] != chosen[:-1]])
    run_end = np.r_[run_start[1:], count]
    lines = np.array(line_of, dtype=np.int64)
    run_line = lines[np.searchsorted(starts, chosen[run_start], side="right") - 1]
    run_value = minima[run_start]
    step, span = SEGMENT // 2, SEGMENT - CHAR_K - CHAR_WINDOW + 2
    segments = len(range(0, max(1, count - step), step))
    first = np.maximum(0, (run_start - span) // step + 1)
    last = np.minimum(segments - 1, (run_end - 1) // step)
    fan = np.maximum(last - first + 1, 0)
    run = np.repeat(np.arange(len(run_start)), fan)
    segment = np.repeat(first, fan) + ranges(fan)
    order_of = np.argsort(run_value)
    ordered = run_value[order_of]
    rank = np.empty(len(run_value), dtype=np.int64)
    rank[order_of] = np.cumsum(np.r_[False, ordered[1:] != ordered[:-1]])
    key = segment * (int(rank.max()) + 1) + rank[run]
    order = np.argsort(key, kind="stable")
    key, run, segment = key[order], run[order], segment[order]
    fresh = np.r_[True, key[1:] != key[:-1]]
    run, segment = run[fresh], segment[fresh]
    value = run_value[run]
    owner = run_line[run]
    bounds = np.searchsorted(segment, np.arange(segments + 1)).tolist()
    return [
        Unit(tuple(sorted_distinct(owner[b:e]).tolist()), value[b:e], owner[b:e])
        for b, e in itertools.pairwise(bounds)
    ]


# Low-entropy pieces (repeated shingles, so windows with tied minima), words, stock
# texts shared by many examples, and the odd non-ASCII or invisible character.
_PIECES = st.sampled_from(
    ["ab", "abab", "a", "aaaaaaaaaaaa", "the quick ", "fox", "-\n", "1234", "é", "\u200b", " "]
)
_TEXT = st.lists(_PIECES, max_size=120).map("".join) | st.sampled_from(
    ["You are a helpful assistant.", "Explain this.", "Help"]
)
_EXAMPLES = st.lists(st.lists(_TEXT, min_size=1, max_size=4), max_size=12).map(
    lambda texts: [Example(2 * n + 1, tuple(t)) for n, t in enumerate(texts)]
)


def _same(found: list[Unit], expected: list[Unit]) -> None:
    assert len(found) == len(expected)
    for unit, before in zip(found, expected, strict=True):
        assert unit.lines == before.lines
        assert unit.prints.tolist() == before.prints.tolist()
        assert unit.owners is not None
        assert before.owners is not None
        assert unit.owners.tolist() == before.owners.tolist()


@settings(max_examples=300, deadline=None)
@given(_EXAMPLES)
def test_segments_equal_the_previous_algorithm(examples: list[Example]) -> None:
    """The same segments, values and owning lines as before, with and without the
    examples' letter streams handed over."""
    _, letters_of = example_units(examples)
    expected = _segments_before(examples)
    _same(segment_units(examples, letters_of), expected)
    _same(segment_units(examples), expected)


@settings(max_examples=20, deadline=None)
@given(st.lists(st.lists(_PIECES, min_size=200, max_size=400).map("".join), max_size=12))
def test_long_files_have_many_segments_equal_to_before(texts: list[str]) -> None:
    """Texts long enough for several overlapping segments."""
    examples = [Example(n + 1, (text,)) for n, text in enumerate(texts)]
    _same(segment_units(examples), _segments_before(examples))


@settings(max_examples=200, deadline=None)
@given(_EXAMPLES)
def test_example_units_are_the_union_of_their_texts_fingerprints(
    examples: list[Example],
) -> None:
    """Each example's fingerprints are those of its texts, each fingerprinted alone."""
    units, letters_of = example_units(examples)
    for example, unit in zip(examples, units, strict=True):
        alone = [fingerprint_array(text) for text in example.texts]
        expected = sorted_distinct(np.concatenate([*alone, np.empty(0, np.int64)]))
        assert unit.lines == (example.line,)
        assert unit.prints.tolist() == expected.tolist()
        assert all(letters_of[text] == letters(text) for text in example.texts)


def _first_occurrences_before(examples: list[Example]) -> list[list[str]]:
    """``first_occurrences`` as it was at 783240d: templates by ``str.translate``."""
    seen: set[str] = set()
    firsts: list[list[str]] = []
    for example in examples:
        texts = []
        for text in example.texts:
            template = text.translate(str.maketrans("", "", "0123456789"))
            if template not in seen:
                seen.add(template)
                texts.append(text)
        firsts.append(texts)
    return firsts


_ANY_TEXT = st.text(st.characters(codec=None), max_size=12) | st.sampled_from(
    ["Word 17 of the memo", "Word 4 of the memo", "\ud800x1", "\ud800x2", "é9", "é", "٣"]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(_ANY_TEXT, min_size=1, max_size=4), max_size=12))
def test_first_occurrences_equal_the_str_translate_templates(texts: list[list[str]]) -> None:
    """Templates compared as UTF-8 less digit bytes drop exactly the texts that the
    text-level templates drop (any characters, lone surrogates and non-ASCII digits
    included)."""
    examples = [Example(n + 1, tuple(t)) for n, t in enumerate(texts)]
    assert first_occurrences(examples) == _first_occurrences_before(examples)


# Random letters (distinct shingles: each window's own minimum) and low-entropy pieces.
_LONG_TEXT = st.text("abcdefghij", min_size=500, max_size=3000) | st.lists(
    _PIECES, max_size=300
).map("".join)


@settings(max_examples=100, deadline=None)
@given(st.lists(_LONG_TEXT, max_size=8), st.integers(1, 2000))
def test_segment_jobs_give_the_whole_stream_s_segments(texts: list[str], size: int) -> None:
    """Cut into jobs of any size, a stream's segments (values, owning lines, lines
    named) are those of the whole stream."""
    examples = [Example(2 * n + 1, (text,)) for n, text in enumerate(texts)]
    for stream in segment_passes(examples):
        jobs = segment_jobs(stream, size)
        arrays: list[SegmentArrays | None] = [segment_arrays(*job) for job in jobs]
        _same([u for one in arrays for u in segments_of(one)], segments_of(segment_arrays(*stream)))
        assert len(jobs) == 1 or all(len(job[0]) < len(stream[0]) for job in jobs)


def test_a_long_stream_ends_in_quarter_jobs() -> None:
    """The last two jobs' worth of a stream of many jobs is cut into quarter jobs (both
    processes then end within a quarter job of each other), with the same segments."""
    rng = random.Random(7)
    text = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(40_000))
    stream = segment_passes([Example(1, (text,))])[0]
    jobs = segment_jobs(stream, 8 * 750)  # eight segments a job
    # 53 segments: five jobs of eight, then from segment 40 (past 53 - 16) jobs of two.
    assert [job[3] for job in jobs] == [8] * 5 + [2] * 6 + [None]
    arrays = [segment_arrays(*job) for job in jobs]
    _same([u for one in arrays for u in segments_of(one)], segments_of(segment_arrays(*stream)))
