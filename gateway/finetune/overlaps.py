"""The corpus match's arithmetic in numpy: which held fingerprints each part shares with
each chunk, counted and scored in a few vectorised passes.

Kept apart from ``gateway.finetune.matcher`` (Elasticsearch I/O) so that numpy loads
only when an upload is scanned, not when the gateway starts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from gateway.finetune.matcher import MIN_SHARED, Chunk, Overlap, Unit
from gateway.fingerprint import ranges, sorted_distinct


def wanted_prints(units: Sequence[Unit]) -> NDArray[np.int64]:
    """Every part's fingerprints, sorted and distinct: what the search looks for."""
    return sorted_distinct(np.concatenate([u.prints for u in units] or [np.empty(0, np.int64)]))


def batches(wanted: NDArray[np.int64], size: int) -> list[list[int]]:
    """``wanted`` in search batches of ``size`` terms."""
    return [wanted[start : start + size].tolist() for start in range(0, len(wanted), size)]


def chunk_prints(
    stored: Sequence[int], wanted: NDArray[np.int64]
) -> tuple[NDArray[np.int64], int, int]:
    """A found chunk's stored fingerprints: those looked for, and how many of each
    signal it holds (word k-grams, character shingles)."""
    fps = np.asarray(stored, dtype=np.int64)
    chars = int(np.count_nonzero(fps & 1))
    return members(fps, wanted), len(fps) - chars, chars


def overlaps_of(
    units: Sequence[Unit], held: Sequence[NDArray[np.int64]], chunks: Sequence[Chunk]
) -> list[Overlap]:
    """``all_overlaps`` with chunk ``n`` holding ``held[n]``."""
    return all_overlaps(units, Holders.of(held), chunks)


_MAX_BUCKET_BITS = 22
"""At most 4M buckets (32 MB) in the lookup table of a large corpus."""
_SPARE_BUCKET_BITS = 3
"""Eight buckets per held fingerprint: most of an upload's fingerprints (about half are
held by no chunk) land in an empty bucket and are done after one read, and a held one
is mostly the first of its bucket (a third faster than one bucket per fingerprint)."""


@dataclass(frozen=True, slots=True)
class Holders:
    """Which chunks hold each fingerprint looked for, as sorted arrays."""

    prints: NDArray[np.int64]
    """The distinct fingerprints some chunk holds, sorted."""
    offsets: NDArray[np.int64]
    """``chunks[offsets[i]:offsets[i + 1]]`` hold ``prints[i]``."""
    chunks: NDArray[np.int64]
    """Chunk numbers (their order of discovery), per fingerprint in that order."""
    shift: int = 63
    buckets: NDArray[np.int64] = field(default_factory=lambda: np.zeros(3, np.int64))
    """``prints[buckets[b]:buckets[b + 1]]`` are those whose top bits are ``b`` (less
    the offset that makes negative values count from 0): a lookup reads a bucket of
    at most a few values (mostly none) instead of a binary search of the whole table."""

    @classmethod
    def of(cls, held: Sequence[NDArray[np.int64]]) -> Holders:
        """From each chunk's fingerprints, chunk ``n`` being ``held[n]``."""
        values = np.concatenate([*held, np.empty(0, np.int64)])
        owner = np.repeat(np.arange(len(held), dtype=np.int64), [len(h) for h in held])
        order = np.argsort(values, kind="stable")  # stable: chunks in discovery order
        values, owner = values[order], owner[order]
        fresh = np.ones(len(values), dtype=bool)
        fresh[1:] = values[1:] != values[:-1]
        offsets = np.r_[np.flatnonzero(fresh), len(values)].astype(np.int64)
        prints = values[offsets[:-1]]
        bits = min(_MAX_BUCKET_BITS, len(prints).bit_length() + _SPARE_BUCKET_BITS)
        shift = 64 - bits
        keys = (prints >> shift) + (1 << (bits - 1))
        buckets = np.searchsorted(keys, np.arange((1 << bits) + 1)).astype(np.int64)
        return cls(prints, offsets, owner, shift, buckets)

    def locate(self, values: NDArray[np.int64]) -> NDArray[np.int64]:
        """For each of ``values``, its index in ``prints``, or -1 when no chunk holds it
        (what a ``searchsorted`` and a comparison tell, in a few gathers instead)."""
        where = np.full(len(values), -1, dtype=np.int64)
        half = (len(self.buckets) - 1) // 2
        bucket = (values >> self.shift) + half
        low, high = self.buckets[bucket], self.buckets[bucket + 1]
        candidates = np.flatnonzero(high > low)
        step = 0
        while len(candidates):
            at = low[candidates] + step
            hit = self.prints[at] == values[candidates]
            where[candidates[hit]] = at[hit]
            candidates = candidates[~hit & (at + 1 < high[candidates])]
            step += 1
        return where


@dataclass(frozen=True, slots=True)
class ChunkTable:
    """What scoring needs of each chunk, as arrays: built once per corpus copy (a scan
    matches each piece and segment job against the same one)."""

    chunks: list[Chunk]
    words: NDArray[np.int64]
    chars: NDArray[np.int64]
    doc_ids: list[str]
    doc: NDArray[np.int64]
    """Each chunk's document's rank among the document ids (sorted)."""
    corpora: list[str]
    classes: list[str]

    @classmethod
    def of(cls, chunks: Sequence[Chunk]) -> ChunkTable:
        found = list(chunks)
        doc_ids = [str(c.governance.get("doc_id")) for c in found]
        doc_rank = {doc_id: n for n, doc_id in enumerate(sorted(set(doc_ids)))}
        return cls(
            found,
            np.array([c.words for c in found], dtype=np.int64),
            np.array([c.chars for c in found], dtype=np.int64),
            doc_ids,
            np.array([doc_rank[d] for d in doc_ids], dtype=np.int64),
            [str(c.governance.get("corpus")) for c in found],
            [str(c.governance.get("classification")) for c in found],
        )


def all_overlaps(
    units: Sequence[Unit], holders: Holders, chunks: Sequence[Chunk] | ChunkTable
) -> list[Overlap]:
    """Every unit's overlaps (CPU-bound for large uploads: runs in a worker thread).

    All units at once: their fingerprints are looked up in the sorted table of held ones
    with one binary search, expanded to (unit, chunk) pairs, counted with one sort and
    scored in numpy; per (unit, document) the best chunk wins: the higher score, then
    more fingerprints shared, then the chunk met first in the unit's sorted
    fingerprints. Only the winners become Python objects.
    """
    if not units or not len(holders.prints):
        return []
    table = chunks if isinstance(chunks, ChunkTable) else ChunkTable.of(chunks)
    found_chunks = table.chunks
    offsets, holder = holders.offsets, holders.chunks
    fan_of = np.diff(offsets)
    sizes = np.fromiter((len(u.prints) for u in units), np.int64, len(units))
    prints = np.concatenate([u.prints for u in units])
    unit_of = np.repeat(np.arange(len(units), dtype=np.int64), sizes)
    where = holders.locate(prints)
    rows = np.flatnonzero(where >= 0)
    fan = fan_of[where[rows]]
    row = np.repeat(rows, fan)
    pair = np.repeat(offsets[where[rows]], fan) + ranges(fan)
    # One key per (unit, chunk) pair: a single integer sort groups them.
    key = unit_of[row] * len(found_chunks) + holder[pair]
    order = np.argsort(key, kind="stable")
    key, row, pair = key[order], row[order], pair[order]
    if not len(key):
        return []
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    shared = np.diff(np.r_[starts, len(key)])
    kept = np.flatnonzero(shared >= MIN_SHARED)
    if not len(kept):
        return []
    chars = np.add.reduceat(prints[row] & 1, starts)[kept]
    first = np.minimum.reduceat(pair, starts)[kept]
    group_start, group_end = starts[kept], np.r_[starts, len(key)][kept + 1]
    shared = shared[kept]
    unit, chunk = key[group_start] // len(found_chunks), key[group_start] % len(found_chunks)
    unit_chars = np.bincount(unit_of, weights=prints & 1, minlength=len(units)).astype(np.int64)
    chunk_chars, chunk_words = table.chars, table.words
    score = np.maximum(
        (shared - chars)
        / np.maximum(1, np.minimum(sizes[unit] - unit_chars[unit], chunk_words[chunk])),
        chars / np.maximum(1, np.minimum(unit_chars[unit], chunk_chars[chunk])),
    )
    rounded = rounded4(np.minimum(score, 1.0))
    doc = table.doc[chunk]
    # Per (unit, document): best first, then keep the first of each pair; output by unit,
    # then document id.
    best = np.lexsort((first, -shared, -rounded, doc, unit))
    lead = np.r_[True, (unit[best][1:] != unit[best][:-1]) | (doc[best][1:] != doc[best][:-1])]
    winners = best[lead]
    lines = _winner_lines(units, unit[winners], row, group_start[winners], group_end[winners])
    chosen = chunk[winners].tolist()
    doc_ids, corpora, classes = table.doc_ids, table.corpora, table.classes
    return list(
        map(
            Overlap,
            lines,
            [doc_ids[c] for c in chosen],
            [corpora[c] for c in chosen],
            [classes[c] for c in chosen],
            [found_chunks[c].chunk_id for c in chosen],
            rounded[winners].tolist(),
            shared[winners].tolist(),
            chars[winners].tolist(),
        )
    )


_NEAR_HALF = 1e-6
"""How close to a half ``value * 1e4`` may be before ``rounded4`` asks Python: far more
than the product's rounding error (under 1e-12 for values up to 1)."""


def rounded4(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """``round(value, 4)`` of each of ``values`` (in [0, 1]), in numpy.

    Python's ``round`` rounds the exact value to the nearest integer count of 1e-4 and
    returns the double nearest that count's quotient; ``rint(value * 1e4) / 1e4`` gives
    the same count and quotient except where the product lies within its rounding error
    of a half: those few are given to ``round`` itself. (A Python loop over every
    candidate pair cost ~0.1 CPU-s per 5 MB upload.)
    """
    scaled = values * 1e4
    result: NDArray[np.float64] = np.rint(scaled) / 1e4
    near = np.flatnonzero(np.abs(scaled - np.floor(scaled) - 0.5) < _NEAR_HALF)
    for index in near.tolist():
        result[index] = round(float(values[index]), 4)
    return result


def _winner_lines(
    units: Sequence[Unit],
    unit: NDArray[np.int64],
    row: NDArray[np.int64],
    begin: NDArray[np.int64],
    end: NDArray[np.int64],
) -> list[tuple[int, ...]]:
    """The lines each winning pair names: an example's own line; for a segment, the
    distinct lines of the shared fingerprints (``row[begin:end]``), all in one sort."""
    lines = [units[u].lines for u in unit.tolist()]
    spanning = np.flatnonzero([units[u].owners is not None for u in unit.tolist()])
    if not len(spanning):
        return lines
    owner_line = np.concatenate(
        [u.owners if u.owners is not None else np.full(len(u.prints), -1) for u in units]
    )
    sizes = end[spanning] - begin[spanning]
    found = owner_line[row[np.repeat(begin[spanning], sizes) + ranges(sizes)]]
    # One key per (winner, line): sorted and distinct, then cut per winner.
    width = int(found.max()) + 1
    key = sorted_distinct(
        np.repeat(np.arange(len(spanning), dtype=np.int64), sizes) * width + found
    )
    bounds = np.searchsorted(key // width, np.arange(len(spanning) + 1)).tolist()
    flat = (key % width).tolist()
    for n, index in enumerate(spanning.tolist()):
        lines[index] = tuple(flat[bounds[n] : bounds[n + 1]])
    return lines


def members(values: NDArray[np.int64], sorted_set: NDArray[np.int64]) -> NDArray[np.int64]:
    """The elements of ``values`` found in ``sorted_set`` (binary search: no re-sorting of
    the large side, which ``intersect1d`` would do on every call)."""
    if not len(values) or not len(sorted_set):
        return values[:0]
    where = np.minimum(np.searchsorted(sorted_set, values), len(sorted_set) - 1)
    found: NDArray[np.int64] = values[sorted_set[where] == values]
    return found
