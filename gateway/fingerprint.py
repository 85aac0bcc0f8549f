"""Content fingerprints: winnowed word k-gram hashes, shared by ingest and the upload scan.

Text is normalised first (lowercase, punctuation dropped, whitespace collapsed: the
normalised form is the sequence of ``[^\\W_]+`` words), so case, spacing and punctuation
edits do not change a fingerprint. Each run of ``K`` consecutive words is hashed to a
signed 64-bit integer (Elasticsearch ``long``); winnowing keeps the smallest hash of every
window of ``WINDOW`` consecutive k-gram hashes. Any passage of ``K + WINDOW - 1`` words
shared by two texts therefore shares at least one fingerprint, while a text keeps only
about ``2 / (WINDOW + 1)`` of its k-gram hashes.

``K`` and ``WINDOW`` were chosen with ``tests/bench/bench_finetune.py --sweep`` (1000
examples each, policy rule score >= 0.2 and >= 2 shared): K=3, WINDOW=3 refused 99.9% of
verbatim passages, 98.1% of lightly edited ones (~20% of words replaced or swapped,
sentences shuffled) and 0.3% of unrelated text; K=4 caught only 92-93% of the edited
passages and K=5 about 80%. MinHash was not used: it estimates Jaccard similarity, while
a training example is a small part of a chunk (containment), and the terms query needs
exact per-fingerprint lookups anyway. Changing K or WINDOW changes every stored
fingerprint: the scheme name is part of each document's version, so the next ingest
rewrites the chunks.
"""

from __future__ import annotations

import functools
import hashlib
import operator
import re
from collections.abc import Iterator

K = 3
WINDOW = 3
SCHEME = f"winnow-k{K}-w{WINDOW}-v1"
"""Names the scheme; stored fingerprints are comparable only within one scheme."""

_WORD = re.compile(r"[^\W_]+")
_MAX_K = 8


class _PositionTable(dict[str, int]):
    """word -> its signed 64-bit value at one k-gram position, derived with BLAKE2b.

    A missing word fills every position's table at once; the tables stop growing at
    ``_MAX_WORDS`` words (later words are hashed on each use).
    """

    def __init__(self, position: int) -> None:
        super().__init__()
        self.position = position

    def __missing__(self, word: str) -> int:
        digest = hashlib.blake2b(word.encode(), digest_size=8 * _MAX_K).digest()
        values = [
            int.from_bytes(digest[8 * j : 8 * j + 8], "little", signed=True) for j in range(_MAX_K)
        ]
        if len(self) < _MAX_WORDS:
            for table, value in zip(_TABLES, values, strict=True):
                table[word] = value
        return values[self.position]


_MAX_WORDS = 500_000
_TABLES = [_PositionTable(j) for j in range(_MAX_K)]


def normalize(text: str) -> list[str]:
    """The words of ``text``, lowercased, without punctuation or whitespace."""
    return _WORD.findall(text.lower())


def kgram_hashes(words: list[str], k: int = K) -> list[int]:
    """One signed 64-bit hash per run of ``k`` consecutive words (one for shorter texts).

    A k-gram's hash XORs a position-specific value of each of its words (tabulation
    hashing), so the loops run in C (map/xor), which keeps the scan fast in pure Python.
    """
    if not words:
        return []
    if len(words) < k:
        return [functools.reduce(operator.xor, map(_value, range(len(words)), words), k)]
    combined: Iterator[int] = map(_TABLES[0].__getitem__, words)
    for j in range(1, k):
        combined = map(operator.xor, combined, map(_TABLES[j].__getitem__, words[j:]))
    return list(combined)


def _value(position: int, word: str) -> int:
    return _TABLES[position][word]


def winnow(hashes: list[int], window: int = WINDOW) -> set[int]:
    """The minimum of every ``window`` consecutive hashes (all of them for short input)."""
    if len(hashes) <= window:
        return set(hashes)
    return set(map(min, *(hashes[j:] for j in range(window))))


def fingerprint_set(text: str, k: int = K, window: int = WINDOW) -> set[int]:
    """The distinct signed 64-bit fingerprints of ``text`` (empty for no words)."""
    return winnow(kgram_hashes(normalize(text), k), window)


def fingerprints(text: str, k: int = K, window: int = WINDOW) -> list[int]:
    """Sorted, distinct signed 64-bit fingerprints of ``text``: what a chunk stores."""
    return sorted(fingerprint_set(text, k, window))
