"""The parts of an upload that are matched on their own, fingerprinted: each example and
overlapping segments of the file's text read in order (numpy; see ``gateway.finetune.scan``).
"""

from __future__ import annotations

import itertools

import numpy as np
from numpy.typing import NDArray

from gateway.finetune.examples import Example
from gateway.finetune.matcher import Unit
from gateway.fingerprint import (
    CHAR_K,
    CHAR_WINDOW,
    argmin_runs,
    char_hashes,
    fingerprint_pairs,
    grouped_unique,
    ranges,
    sorted_distinct,
)
from gateway.fingerprint import letters as letter_stream

SEGMENT = 1500
"""Characters (letters and digits) per segment; segments overlap by half."""
SHORT_TEXT = 64
"""Letters and digits of a text short enough to be a piece of a cut-up passage (a few
words): such texts are read a second time, on their own (``segment_passes``)."""


def units_of(examples: list[Example]) -> list[Unit]:
    """Each example and each segment of the file, fingerprinted."""
    units, letters_of = example_units(examples)
    return [*units, *segment_units(examples, letters_of)]


def example_units(examples: list[Example]) -> tuple[list[Unit], dict[str, str]]:
    """Each example, fingerprinted; and each text's letters (for ``segment_units``).

    Every distinct text is fingerprinted once (system prompts and stock questions repeat
    on every line), all of them in one vectorised pass (``fingerprint_pairs``); each
    example's fingerprints are then its texts' pairs, re-owned by the example and made
    distinct per example in one more pass (no per-text arrays in between).
    """
    distinct = list(dict.fromkeys(text for example in examples for text in example.texts))
    owner, values, streams = fingerprint_pairs(distinct)
    where = {text: index for index, text in enumerate(distinct)}
    order = np.argsort(owner, kind="stable")
    values = values[order]
    bounds = np.searchsorted(owner[order], np.arange(len(distinct) + 1))
    member_of: list[int] = []
    member_text: list[int] = []
    for index, example in enumerate(examples):
        texts = dict.fromkeys(where[text] for text in example.texts)
        member_of.extend([index] * len(texts))
        member_text.extend(texts)
    text = np.array(member_text, dtype=np.int64)
    sizes = bounds[text + 1] - bounds[text]
    picked = np.repeat(bounds[text], sizes) + ranges(sizes)
    example_of = np.repeat(np.array(member_of, dtype=np.int64), sizes)
    prints = grouped_unique(example_of, values[picked], len(examples), ordered=True)
    units = [Unit((example.line,), found) for example, found in zip(examples, prints, strict=True)]
    return units, dict(zip(distinct, streams, strict=True))


_DIGITS = b"0123456789"


def first_occurrences(examples: list[Example]) -> list[list[str]]:
    """Per example, its texts less the repeats of a text met earlier in the file.

    A repeat is a text equal to an earlier one once digits are dropped: a system prompt
    or stock question again, or the same template with another number ("Word 17 of
    the memo is"), which would otherwise stand between the pieces of a passage given
    one word per example. Only later occurrences go: leaving out every text that repeats
    would let a file written twice (as upsampling does) hide each piece of a cut-up
    passage from the segments, since every piece then repeats.

    The template is the text's UTF-8 less its digit bytes (ASCII digits never occur
    inside a multi-byte character, so two templates are equal exactly when the texts
    less their digits are): ``bytes.translate`` is ~6x faster than ``str.translate``.
    """
    seen: set[bytes] = set()
    firsts: list[list[str]] = []
    for example in examples:
        texts: list[str] = []
        for text in example.texts:
            template = text.encode("utf-8", "surrogatepass").translate(None, _DIGITS)
            if template not in seen:
                seen.add(template)
                texts.append(text)
        firsts.append(texts)
    return firsts


def segment_units(examples: list[Example], letters_of: dict[str, str] | None = None) -> list[Unit]:
    """Overlapping segments of the file's letters and digits, read in order.

    A text met before (system prompts, stock questions) is left out where it comes again
    (``first_occurrences``), so that the pieces of a passage cut into many examples join
    up; each example is still matched with them on its own. One pass of character
    shingles over the whole stream; a segment's fingerprints are the minima of the
    windows starting inside it, each attributed to the line where its own shingle starts.
    """
    return [
        unit
        for stream in segment_passes(examples, letters_of)
        for unit in segments_of(segment_arrays(*stream))
    ]


SegmentStream = tuple[str, NDArray[np.int64], NDArray[np.int64]]
"""Letters and digits the segments are cut from, where each part of them starts, and
the line each part is from."""


def segment_passes(
    examples: list[Example], letters_of: dict[str, str] | None = None
) -> list[SegmentStream]:
    """The streams the segments are cut from, each on its own: the file read in order
    (each example's first occurrences); then, when some text is long, its short texts
    alone (``SHORT_TEXT``), so that pieces of a passage given as texts of their own join
    up even when long texts stand between them. Segments of the second pass hold short
    texts only: a piece-by-piece passage is not diluted by the long texts' letters.
    """
    firsts = first_occurrences(examples)
    lines = np.array([example.line for example in examples], dtype=np.int64)
    letters = [
        [letter_stream(text) if letters_of is None else letters_of[text] for text in texts]
        for texts in firsts
    ]
    streams = ["".join(parts) for parts in letters]
    shorts = ["".join(p for p in parts if len(p) <= SHORT_TEXT) for parts in letters]
    passes = [streams] if shorts == streams else [streams, shorts]
    return [
        ("".join(parts), np.cumsum([0, *(len(part) for part in parts)])[:-1], lines)
        for parts in passes
    ]


SegmentArrays = tuple[
    NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]
]
"""The segments as flat arrays (cheap to send between processes): values and owning
lines of all segments' fingerprints, each segment's bounds in them, each segment's
bounds in the lines it names, and those lines."""


SEGMENT_JOB = 1 << 18
"""About this many letters per ``segment_jobs`` job (~30 ms of work; a quarter of that
at the end of a long stream: ``_job_bounds``): small enough that two processes sharing a
stream's jobs end close together."""
_STEP, _SPAN = SEGMENT // 2, SEGMENT - CHAR_K - CHAR_WINDOW + 2
"""Segment ``s`` holds the windows ``[s * _STEP, s * _STEP + _SPAN)``."""

SegmentJob = tuple[str, NDArray[np.int64], NDArray[np.int64], int | None]
"""A stretch of a stream (``SegmentStream``) and how many segments of it to make
(None: all); the arguments of ``segment_arrays``."""


def segment_jobs(stream: SegmentStream, size: int | None = None) -> list[SegmentJob]:
    """``stream``'s segments in jobs of about ``size`` (``SEGMENT_JOB``) letters each, whose
    ``segment_arrays``, in order, are the whole stream's.

    A job starting at segment ``a`` reads the stream from ``a * _STEP`` on (every
    window of segment ``a`` and later starts there), and one ending before segment ``b``
    up to the last character of segment ``b - 1``'s last window. A shingle's hash, a
    window's minimum and its first place depend only on the characters they cover, so
    each job finds the whole stream's values and lines.
    """
    text, starts, lines = stream
    count = len(text) - CHAR_K + 1 - CHAR_WINDOW + 1  # windows, when above one window
    segments = len(range(0, max(1, count - _STEP), _STEP))
    per_job = max(1, (size or SEGMENT_JOB) // _STEP)
    if segments <= per_job:
        return [(text, starts, lines, None)]
    jobs: list[SegmentJob] = []
    for first, stop in itertools.pairwise(_job_bounds(segments, per_job)):
        begin = first * _STEP
        end = (
            len(text) if stop == segments else (stop - 1) * _STEP + _SPAN + CHAR_WINDOW + CHAR_K - 2
        )
        # The parts (and their lines) that hold the job's characters; the first may
        # start before the job does.
        low = int(np.searchsorted(starts, begin, side="right")) - 1
        high = int(np.searchsorted(starts, end, side="left"))
        jobs.append(
            (
                text[begin:end],
                np.maximum(starts[low:high] - begin, 0),
                lines[low:high],
                None if stop == segments else stop - first,
            )
        )
    return jobs


TAIL_FROM, TAIL_PARTS, TAIL_SPLIT = 4, 2, 4
"""Work of more than ``TAIL_FROM`` parts (a stream's jobs, a file's pieces) ends in
``TAIL_PARTS`` parts' worth of parts a ``TAIL_SPLIT``-th the size: the process that
finishes last then waits for at most a quarter part of the other's (a whole piece is
~0.1 s on a quiet host; on a busy one, where the ``nice``-d helper is slowed most,
several times that), for a few more round trips."""


def _job_bounds(segments: int, per_job: int) -> list[int]:
    """Where each job's segments start, and ``segments``: ``per_job`` each; as the
    pieces of a file are (``gateway.finetune.pieces.cut_points``), a quarter of that
    in the last two jobs' worth of a stream of more than four."""
    tail = segments - TAIL_PARTS * per_job if segments > TAIL_FROM * per_job else segments
    bounds = [0]
    while bounds[-1] < segments:
        step = per_job if bounds[-1] < tail else max(1, per_job // TAIL_SPLIT)
        bounds.append(min(segments, bounds[-1] + step))
    return bounds


def segment_arrays(
    stream: str, starts: NDArray[np.int64], lines: NDArray[np.int64], limit: int | None = None
) -> SegmentArrays | None:
    """``segment_units``' work on one stream (``segment_passes``); ``lines``: each
    example's line. None when the stream is shorter than one window. ``limit``: only
    the first so many segments (a ``segment_jobs`` job)."""
    hashes = char_hashes(stream, CHAR_K)
    if len(hashes) <= CHAR_WINDOW:
        return None
    # Each window's minimum and where it is (the first place): a fingerprint belongs to
    # the line its shingle starts in, not the line its window starts in, so that a window
    # reaching from a clean line into governed text does not name the clean line.
    count = len(hashes) - CHAR_WINDOW + 1
    # Neighbouring windows mostly share their minimum: work on runs of windows with the
    # same chosen shingle (one value, one line) instead of on every window.
    run_start, chosen = argmin_runs(hashes, CHAR_WINDOW)
    run_end = np.r_[run_start[1:], count]
    run_line = lines[np.searchsorted(starts, chosen, side="right") - 1]
    run_value = hashes[chosen] | np.int64(1)
    step, span = _STEP, _SPAN
    segments = len(range(0, max(1, count - step), step))
    if limit is not None:
        segments = min(segments, limit)
    # Segment s holds the windows [s * step, s * step + span); each run is in a few.
    first = np.maximum(0, (run_start - span) // step + 1)
    last = np.minimum(segments - 1, (run_end - 1) // step)
    fan = np.maximum(last - first + 1, 0)
    run = np.repeat(np.arange(len(run_start)), fan)
    segment = np.repeat(first, fan) + ranges(fan)
    # Per segment, each value once, from its earliest run: one stable sort of a key that
    # orders by segment, then by value (its rank among the runs' values); ``run`` is
    # ascending already, so the sort keeps the earliest run first among equal keys.
    rank = _dense_rank(run_value)
    key = segment * (int(rank.max()) + 1) + rank[run]
    order = np.argsort(key, kind="stable")
    key, run, segment = key[order], run[order], segment[order]
    fresh = np.r_[True, key[1:] != key[:-1]]
    run, segment = run[fresh], segment[fresh]
    value = run_value[run]
    owner = run_line[run]
    bounds = np.searchsorted(segment, np.arange(segments + 1))
    # Each segment's distinct lines, all in one sort of (segment, line) keys.
    width = int(owner.max(initial=0)) + 1
    keys = sorted_distinct(segment * width + owner)
    named = np.searchsorted(keys // width, np.arange(segments + 1))
    return value, owner, bounds, named, keys % width


def segments_of(arrays: SegmentArrays | None) -> list[Unit]:
    """The segments' units, from ``segment_arrays``."""
    if arrays is None:
        return []
    value, owner, bounds, named, line_of = arrays
    starts, names, lines = bounds.tolist(), named.tolist(), line_of.tolist()
    return [
        Unit(tuple(lines[names[n] : names[n + 1]]), value[begin:end], owner[begin:end])
        for n, (begin, end) in enumerate(itertools.pairwise(starts))
    ]


def _dense_rank(values: NDArray[np.int64]) -> NDArray[np.int64]:
    """Each value's rank among the distinct values (equal values, equal ranks)."""
    order = np.argsort(values)
    ordered = values[order]
    rank = np.empty(len(values), dtype=np.int64)
    rank[order] = np.cumsum(np.r_[False, ordered[1:] != ordered[:-1]])
    return rank
