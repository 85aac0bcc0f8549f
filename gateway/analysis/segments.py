"""Cut long texts into bounded segments for analysis, and put their spans back together.

Every batch a worker gets is bounded in characters, so a long message or a large upload
occupies a worker for a bounded time and chat work can be scheduled between its pieces.
Cuts fall after a newline, else at a space, inside the last quarter of the window; a text
with neither there (one long token, e.g. comma-separated addresses) is cut hard and the
next segment starts ``OVERLAP`` characters earlier, so an entity across the cut is still
seen whole by one segment. Segments stay far below spaCy's 1,000,000-character limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gateway.pii.analyzer import PiiSpan

OVERLAP = 256
MIN_SEGMENT_CHARS = 4 * OVERLAP


@dataclass(frozen=True)
class Segment:
    index: int  # which input text
    offset: int  # where in it the segment starts
    text: str


def split(texts: Sequence[str], max_chars: int) -> list[Segment]:
    """Segments of at most ``max_chars`` covering every non-empty text, in order."""
    if max_chars < MIN_SEGMENT_CHARS:
        raise ValueError(f"max_chars must be at least {MIN_SEGMENT_CHARS}")
    segments: list[Segment] = []
    for index, text in enumerate(texts):
        start = 0
        while start < len(text):
            end, overlap = _cut(text, start, max_chars)
            segments.append(Segment(index, start, text[start:end]))
            start = end - overlap if end < len(text) else end
    return segments


def _cut(text: str, start: int, max_chars: int) -> tuple[int, int]:
    limit = start + max_chars
    if limit >= len(text):
        return len(text), 0
    floor = start + max_chars * 3 // 4
    newline = text.rfind("\n", floor, limit)
    if newline >= 0:
        return newline + 1, 0
    space = max(text.rfind(" ", floor, limit), text.rfind("\t", floor, limit))
    if space >= 0:
        return space + 1, 0
    return limit, OVERLAP


def merge(
    segments: Sequence[Segment], found: Sequence[Sequence[PiiSpan]], count: int
) -> list[list[PiiSpan]]:
    """Per input text, its segments' spans in text offsets (duplicates from overlaps once)."""
    best: list[dict[tuple[str, int, int], PiiSpan]] = [{} for _ in range(count)]
    for segment, spans in zip(segments, found, strict=True):
        for span in spans:
            start, end = span["start"] + segment.offset, span["end"] + segment.offset
            key = (span["type"], start, end)
            seen = best[segment.index].get(key)
            if seen is None or seen["score"] < span["score"]:
                best[segment.index][key] = PiiSpan(
                    type=span["type"], start=start, end=end, score=span["score"]
                )
    return [
        sorted(spans.values(), key=lambda s: (s["start"], s["end"], s["type"])) for spans in best
    ]
