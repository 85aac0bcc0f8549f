"""Content fingerprints of a normalised text, shared by ingest and the upload scan.

Normalisation first, so that disguises do not change a fingerprint: the TR39 skeleton
(``disarm.skeleton_key``: NFKC, invisible and zero-width characters and soft hyphens
removed, confusable letters such as Cyrillic a (U+0430) or fullwidth r (U+FF52) folded to their
prototype, case folded, whitespace collapsed; a vertical bar between words stays a
separator, not the letter l it resembles), combining diacritical marks removed
(an accented or struck-through letter reads as the plain letter), then hyphens inside
or across a line break between two words are dropped (``re-stricted`` and
``re- stricted`` read as
``restricted``).

Two signals are taken from the normalised text, and both are stored in one multi-valued
``long`` field; the lowest bit tells them apart (0: words, 1: characters):

- **word k-grams**: each run of ``WORD_K`` consecutive words (``[^\\W_]+``) hashed by
  tabulation; edit-tolerant (a replaced word only breaks the k-grams around it).
- **character shingles**: the text with everything but letters and digits removed,
  each run of ``CHAR_K`` characters hashed; spacing, punctuation and words joined without
  spaces no longer matter.

Each signal is winnowed (the smallest hash of every window of ``WORD_WINDOW`` resp.
``CHAR_WINDOW`` consecutive hashes is kept): any shared passage of ``K + WINDOW - 1``
words (characters) shares at least one fingerprint. Hashing and winnowing run in numpy.
Changing anything here changes every stored fingerprint: ``SCHEME`` is part of each
document's version (the next ingest rewrites the chunks) and of each chunk
(``fingerprint_scheme``), and the scan refuses to compare across schemes.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence

import numpy as np
from disarm import skeleton_key
from numpy.typing import NDArray

# Re-exported: the scheme's parameters live in a module without numpy.
from gateway.fingerprint_scheme import CHAR_K as CHAR_K
from gateway.fingerprint_scheme import CHAR_WINDOW as CHAR_WINDOW
from gateway.fingerprint_scheme import SCHEME as SCHEME
from gateway.fingerprint_scheme import WORD_K as WORD_K
from gateway.fingerprint_scheme import WORD_WINDOW as WORD_WINDOW

# Kept for callers of the first scheme's names.
K = WORD_K
WINDOW = WORD_WINDOW

_WORD = re.compile(r"[^\W_]+")
# For ASCII text ``_WORD``'s words are the runs of ASCII letters and digits: every other
# ASCII character becomes a space and ``str.split`` cuts there, about twice as fast.
_ASCII_SPACES = bytes(c if chr(c).isalnum() else 0x20 for c in range(128)) + bytes(range(128, 256))
"""The same as a byte table: ``bytes.translate`` of the encoded form is ~3x faster than
``str.translate`` with a mapping."""
# Control characters go first: the skeleton would read DEL and backspace as deletions.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_BARS = re.compile("[|\u2223\u2502\u23d0\uff5c]")
_ASCII_CONTROL = bytes([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
"""``_CONTROL``'s ASCII members (of ``_BARS``: ``|`` alone), for a faster path for ASCII
text: deleted by ``bytes.translate`` instead of a regex pass, with the same result."""
_ASCII_LOWER = bytes(range(256)).lower()
_LONE_BAR = re.compile(r"(?<![^\W_])\u00a6(?![^\W_])")
"""A vertical bar not touching a letter or digit: a table's cell border or a separator.
TR39 folds ``|`` to the letter ``l``, which would make it a word between every cell, so
bars are set aside as ``¦`` (which it keeps) and read after it, invisible characters
gone: alone, a space; touching a letter or digit (``he||o``), the ``l`` it imitates."""
_NOT_WORD = re.compile(r"[\W_]+")
_MARKS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
# The skeleton has already folded hyphen look-alikes to ``-``; the pattern starts with
# the literal so that the engine only stops at hyphens.
_HYPHEN = re.compile(r"-(?<=[^\W_]-)-* ?(?=[^\W_])")
_ASCII_HYPHEN = re.compile(rb"-(?<=[a-z0-9]-)-*[ \t\n\r]*(?=[a-z0-9])")
"""``_HYPHEN`` on folded ASCII text before the skeleton collapsed its whitespace (the
only whitespace left by then: a run of it becomes the one space ``_HYPHEN`` allows)."""
_MAX_K = 8
_MAX_WORDS = 500_000
_CHAR_MIN = 8
"""Texts of fewer letters and digits than this get no character fingerprint."""

_U64 = np.uint64
_PRIME = _U64(0x100000001B3)
_MIX1 = _U64(0xBF58476D1CE4E5B9)
_MIX2 = _U64(0x94D049BB133111EB)
_LOW_BIT = np.int64(1)
_WORD_MASK = np.int64(~1)


class _WordTable(dict[str, int]):
    """word -> its row in ``_rows``: the word's signed 64-bit value at each k-gram
    position (BLAKE2b, so stable across processes). Stops growing at ``_MAX_WORDS``
    words; later new words are hashed again on each use (into a scratch row)."""

    def __init__(self) -> None:
        super().__init__()
        self._rows = np.zeros((1024, _MAX_K), dtype=np.int64)
        self._scratch: list[tuple[int, ...]] = []

    def __missing__(self, word: str) -> int:
        raw = hashlib.blake2b(word.encode("utf-8", "surrogatepass"), digest_size=8 * _MAX_K)
        row = np.frombuffer(raw.digest(), dtype="<i8")
        if len(self) >= _MAX_WORDS:
            return -1 - self._remember(row)
        if len(self) == len(self._rows):
            self._rows = np.concatenate([self._rows, np.zeros_like(self._rows)])
        index = len(self)
        self._rows[index] = row
        self[word] = index
        return index

    def _remember(self, row: NDArray[np.int64]) -> int:
        self._scratch.append(tuple(row.tolist()))
        return len(self._scratch) - 1

    def rows(self, words: list[str], width: int = _MAX_K) -> NDArray[np.int64]:
        """The value rows of ``words``, in order (their first ``width`` positions)."""
        self._scratch = []
        ids = np.fromiter(map(self.__getitem__, words), dtype=np.int64, count=len(words))
        table: NDArray[np.int64] = self._rows[:, :width].take(np.maximum(ids, 0), axis=0)
        if self._scratch:
            spilled = ids < 0
            scratch = np.array(self._scratch, dtype=np.int64)[:, :width]
            table[spilled] = scratch[-1 - ids[spilled]]
        return table


_WORDS = _WordTable()


def canonical(text: str) -> str:
    """The normalised form both signals are taken from (see the module docstring)."""
    form = skeleton_key(_without_controls(text).casefold())
    if "\u00a6" in form:
        form = _LONE_BAR.sub(" ", form).replace("\u00a6", "l")
    if not form.isascii():
        form = without_marks(form)
    return _HYPHEN.sub("", form)


def _without_controls(text: str) -> str:
    """``text`` without control characters, its vertical bars set aside as ``¦``."""
    if not text.isascii():
        return _BARS.sub("\u00a6", _CONTROL.sub("", text))
    kept = text.encode("ascii").translate(None, _ASCII_CONTROL).decode("ascii")
    return kept.replace("|", "\u00a6") if "|" in kept else kept


def without_marks(form: str) -> str:
    """``form`` without combining diacritical marks: ``séverity`` reads ``severity``.

    Only the generic combining blocks go (accents, overlays, underlines), not the vowel
    signs of scripts such as Devanagari; NFC afterwards recomposes what NFD split and
    no mark was taken from (Hangul syllables, for one).
    """
    return unicodedata.normalize("NFC", _MARKS.sub("", unicodedata.normalize("NFD", form)))


def normalize(text: str) -> list[str]:
    """The words of ``text``'s normalised form: ``words_of(canonical(text))``, for ASCII
    text (most of it) in three byte passes (``_ascii_words``)."""
    if text.isascii() and "|" not in text:
        return _ascii_words(text)
    return words_of(canonical(text))


def _ascii_words(text: str) -> list[str]:
    """``normalize`` of ASCII text without a vertical bar, without the skeleton.

    On such text, controls gone and case folded, the skeleton only collapses
    whitespace and reads a double quote as two single ones and a backtick as one (no
    other ASCII character is confusable with another: checked on every string of up to
    three of them): none of it changes a word, and a whitespace run read as one space
    is what ``_ASCII_HYPHEN`` allows after a hyphen. A property test holds this equal
    to the general path; about three times faster (no skeleton, no collapsed copy).
    """
    folded = text.encode("ascii").translate(_ASCII_LOWER, _ASCII_CONTROL)
    if b"-" in folded:
        folded = _ASCII_HYPHEN.sub(b"", folded)
    return folded.translate(_ASCII_SPACES).decode("ascii").split()


def words_of(form: str) -> list[str]:
    """The words (``[^\\W_]+``) of a normalised form, in order."""
    if form.isascii():
        return form.encode("ascii").translate(_ASCII_SPACES).decode("ascii").split()
    return _WORD.findall(form)


def letters(text: str) -> str:
    """``text``'s normalised form with everything but letters and digits removed."""
    return _NOT_WORD.sub("", canonical(text))


def word_hashes(words: list[str], k: int = WORD_K) -> NDArray[np.int64]:
    """One hash per run of ``k`` consecutive words (one for shorter texts).

    Tabulation hashing: a k-gram's hash XORs a position-specific value of each word.
    """
    if not words:
        return np.empty(0, dtype=np.int64)
    table = _WORDS.rows(words)
    if len(words) < k:
        combined = np.bitwise_xor.reduce(table[np.arange(len(words)), np.arange(len(words))])
        return np.array([combined ^ k], dtype=np.int64)
    count = len(words) - k + 1
    hashes = table[:count, 0].copy()
    for j in range(1, k):
        hashes ^= table[j : j + count, j]
    return hashes


def char_hashes(stream: str, k: int = CHAR_K) -> NDArray[np.int64]:
    """One mixed polynomial hash per run of ``k`` characters (none below ``_CHAR_MIN``)."""
    if len(stream) < _CHAR_MIN:
        return np.empty(0, dtype=np.int64)
    codes = np.frombuffer(stream.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    codes = codes.astype(np.uint64)
    k = min(k, len(codes))
    count = len(codes) - k + 1
    if k & (k - 1) == 0:
        # sum(codes[p + j] * PRIME ** (k - 1 - j)), built by doubling the span: the same
        # value as the loop below in log2(k) steps instead of k.
        hashes = codes
        width = 1
        while width < k:
            power = _U64(pow(int(_PRIME), width, 1 << 64))
            hashes = hashes[: len(hashes) - width] * power + hashes[width:]
            width *= 2
        hashes = hashes[:count].copy()
    else:
        hashes = np.zeros(count, dtype=np.uint64)
        for j in range(k):
            hashes *= _PRIME
            hashes += codes[j : j + count]
    hashes ^= hashes >> _U64(30)
    hashes *= _MIX1
    hashes ^= hashes >> _U64(27)
    hashes *= _MIX2
    hashes ^= hashes >> _U64(31)
    return hashes.view(np.int64)


def sorted_distinct(values: NDArray[np.int64]) -> NDArray[np.int64]:
    """``np.unique`` of an integer array by one sort and a mask.

    numpy 2.4's ``np.unique`` goes through a hash table first: on the 1.5M fingerprints
    of a 5 MB upload it took 0.79 CPU-s, against 0.04 for this.
    """
    ordered = np.sort(values)
    if len(ordered) < 2:
        return ordered
    fresh = np.empty(len(ordered), dtype=bool)
    fresh[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=fresh[1:])
    distinct: NDArray[np.int64] = ordered[fresh]
    return distinct


def winnow(hashes: NDArray[np.int64], window: int) -> NDArray[np.int64]:
    """The distinct minima of every ``window`` consecutive hashes (all for short input)."""
    if len(hashes) <= window:
        return sorted_distinct(hashes)
    return sorted_distinct(sliding_min(hashes, window))


def sliding_min(values: NDArray[np.int64], window: int) -> NDArray[np.int64]:
    """The minimum of each run of ``window`` consecutive values (``len(values) >= window``).

    By doubling: minima of 2, 4, 8... values, then two overlapping spans for the rest;
    four passes for a window of 12 instead of eleven.
    """
    count = len(values) - window + 1
    result, width = values, 1
    while width * 2 <= window:
        result = np.minimum(result[:-width], result[width:])
        width *= 2
    if width < window:
        result = np.minimum(result[:count], result[window - width : window - width + count])
    return result[:count].copy() if result is values else result[:count]


def sliding_argmin(
    values: NDArray[np.int64], window: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """``sliding_min`` and where each minimum is (its first place, as an index of
    ``values``), by the same doubling: on a tie the left span, so the first place wins."""
    count = len(values) - window + 1
    result, where, width = values.copy(), np.arange(len(values), dtype=np.int64), 1

    def merge(offset: int, size: int) -> None:
        nonlocal result, where
        left, right = result[:size], result[offset : offset + size]
        later = right < left
        result = np.where(later, right, left)
        where = np.where(later, where[offset : offset + size], where[:size])

    while width * 2 <= window:
        merge(width, len(result) - width)
        width *= 2
    if width < window:
        merge(window - width, count)
    return result[:count], where[:count]


_RUN_BLOCK = 1 << 16
"""Runs whose windows are compared at once in ``argmin_runs`` (a few MB)."""


def argmin_runs(
    values: NDArray[np.int64], window: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The runs of consecutive windows to which ``sliding_argmin`` gives the same place:
    each run's first window and that place (``len(values) >= window``).

    From ``sliding_min`` alone: a place changes where the minimum does, and within a run
    of equal minima only where that value occurs again further on (a repeated shingle,
    rare in text); those runs alone are cut at each repeat. Less than half the cost of
    the places of all windows, which take two ``where`` per doubling step.
    """
    count = len(values) - window + 1
    minima = sliding_min(values, window)
    start = np.flatnonzero(np.r_[True, minima[1:] != minima[:-1]])
    end = np.r_[start[1:], count]
    value = minima[start]
    # The first place of each run's minimum in its first window: the windows' values
    # compared with it, a block of runs at a time (bounded memory).
    place = np.empty(len(start), dtype=np.int64)
    windows = np.lib.stride_tricks.sliding_window_view(values, window)
    for block in range(0, len(start), _RUN_BLOCK):
        first = start[block : block + _RUN_BLOCK]
        same = windows[first] == value[block : block + _RUN_BLOCK, None]
        place[block : block + _RUN_BLOCK] = first + same.argmax(axis=1)
    # A run whose last window starts after that place holds later repeats of its value:
    # window w takes the first repeat at or after w, so a new run starts after each.
    cut = np.flatnonzero(place < end - 1)
    if not len(cut):
        return start, place
    size = end[cut] - 1 + window - start[cut]
    owner = np.repeat(cut, size)
    at = np.repeat(start[cut], size) + ranges(size)
    repeat = values[at] == value[owner]
    owner, at = owner[repeat], at[repeat]
    follows = np.flatnonzero((owner[1:] == owner[:-1]) & (at[:-1] + 1 < end[owner[:-1]]))
    starts = np.r_[start, at[follows] + 1]
    places = np.r_[place, at[follows + 1]]
    order = np.argsort(starts, kind="stable")
    return starts[order], places[order]


def word_prints(words: list[str]) -> NDArray[np.int64]:
    """Winnowed word k-gram fingerprints (lowest bit 0)."""
    return winnow(word_hashes(words), WORD_WINDOW) & _WORD_MASK


def char_prints(stream: str) -> NDArray[np.int64]:
    """Winnowed character-shingle fingerprints (lowest bit 1)."""
    return winnow(char_hashes(stream), CHAR_WINDOW) | _LOW_BIT


def fingerprint_array(text: str) -> NDArray[np.int64]:
    """Both signals' fingerprints of ``text``, sorted and distinct."""
    words = normalize(text)
    return np.union1d(word_prints(words), char_prints("".join(words)))


def fingerprint_set(text: str) -> set[int]:
    """The distinct signed 64-bit fingerprints of ``text`` (empty for no words)."""
    return set(fingerprint_array(text).tolist())


def fingerprints(text: str) -> list[int]:
    """Sorted, distinct signed 64-bit fingerprints of ``text``: what a chunk stores."""
    return [int(v) for v in fingerprint_array(text).tolist()]


def is_char_print(value: int) -> bool:
    """True for a character-shingle fingerprint, False for a word k-gram one."""
    return bool(value & 1)


# --- Many texts at once -------------------------------------------------------------------
# The same fingerprints as ``fingerprint_array``, for a whole upload: one numpy pass over
# the concatenated texts instead of some thirty small array operations per text. A
# k-gram or window is kept only when it lies inside one text, so the result is exactly
# the per-text one (a property test holds the two equal).

_BATCH_CHARS = 1 << 20
"""Characters hashed per pass: bounds the arrays' memory for a large upload."""


def fingerprint_texts(texts: Sequence[str]) -> tuple[list[NDArray[np.int64]], list[str]]:
    """``fingerprint_array`` of each text, and its ``letters`` stream (for segments)."""
    owner, values, streams = fingerprint_pairs(texts)
    return grouped_unique(owner, values, len(texts)), streams


def fingerprint_pairs(
    texts: Sequence[str],
) -> tuple[NDArray[np.int64], NDArray[np.int64], list[str]]:
    """Every text's fingerprints as (text index, fingerprint) pairs, in runs ordered by
    text index, repeats possible (``grouped_unique`` makes them ``fingerprint_array``'s);
    and each text's ``letters`` stream."""
    owners: list[NDArray[np.int64]] = [np.empty(0, np.int64)]
    values: list[NDArray[np.int64]] = [np.empty(0, np.int64)]
    streams: list[str] = []
    start, size = 0, 0
    for end, text in enumerate(texts, start=1):
        size += len(text)
        if size >= _BATCH_CHARS or end == len(texts):
            owner, found, letters_of = _fingerprint_batch(texts[start:end])
            owners.append(owner + start)
            values.append(found)
            streams.extend(letters_of)
            start, size = end, 0
    return np.concatenate(owners), np.concatenate(values), streams


def _fingerprint_batch(
    texts: Sequence[str],
) -> tuple[NDArray[np.int64], NDArray[np.int64], list[str]]:
    word_lists = [normalize(text) for text in texts]
    streams = ["".join(words) for words in word_lists]
    word_owner, word_values = _batch_word_prints(word_lists)
    char_owner, char_values = _batch_char_prints(streams)
    owner = np.concatenate([word_owner, char_owner])
    values = np.concatenate([word_values & _WORD_MASK, char_values | _LOW_BIT])
    return owner, values, streams


def grouped_unique(
    owner: NDArray[np.int64], values: NDArray[np.int64], groups: int, *, ordered: bool = False
) -> list[NDArray[np.int64]]:
    """The sorted distinct ``values`` of each owner ``0..groups-1``.

    The input comes as a few runs already ordered by owner (``ordered``: one run), which
    a stable sort merges in close to linear time; each owner's values are then sorted on
    their own.
    """
    if not ordered:
        order = np.argsort(owner, kind="stable")
        owner, values = owner[order], values[order]
    bounds = np.searchsorted(owner, np.arange(groups + 1)).tolist()
    return [sorted_distinct(values[bounds[i] : bounds[i + 1]]) for i in range(groups)]


def ranges(lengths: NDArray[np.int64]) -> NDArray[np.int64]:
    """0..n-1 for each n in ``lengths``, concatenated."""
    firsts = np.cumsum(lengths) - lengths
    result: NDArray[np.int64] = np.arange(int(lengths.sum()), dtype=np.int64) - np.repeat(
        firsts, lengths
    )
    return result


def _window_minima(
    hashes: NDArray[np.int64],
    starts: NDArray[np.int64],
    count: NDArray[np.int64],
    window: int,
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """``winnow`` per owner over the concatenated hashes: owner ``o``'s valid hashes are
    ``hashes[starts[o]:starts[o] + count[o]]``; owners with at most ``window`` keep all.

    Which windows lie inside one owner is marked at the owners' bounds (a cumulative sum
    of the marks), never per hash: an owner is looked up only for the minima kept.
    """
    few = np.flatnonzero((count > 0) & (count <= window))
    size = count[few]
    owners = [np.repeat(few, size)]
    values = [hashes[np.repeat(starts[few], size) + ranges(size)]]
    full = np.flatnonzero(count > window)
    if len(full):
        span = len(hashes) - window + 1
        # +1 at an owner's first window, -1 after its last: the running sum is 1 inside
        # an owner's windows; a second sum of the +1 alone numbers the owners.
        marks = np.zeros(span + 1, dtype=np.int8)
        marks[starts[full]] = 1
        first = marks[:span].view(bool).copy()
        number = np.cumsum(marks[:span], dtype=np.int64)
        marks[starts[full] + count[full] - window + 1] -= 1
        kept = np.cumsum(marks[:span], dtype=np.int8).view(bool)
        # Neighbouring windows mostly share their minimum: an owner's window is kept when
        # it is the owner's first or its minimum differs from the window before.
        minima = sliding_min(hashes, window)
        first[1:] |= minima[1:] != minima[:-1]
        kept &= first
        owners.append(full[number[kept] - 1])
        values.append(minima[kept])
    return np.concatenate(owners), np.concatenate(values)


def _batch_word_prints(
    word_lists: list[list[str]],
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    lengths = np.fromiter(map(len, word_lists), dtype=np.int64, count=len(word_lists))
    words = [word for words in word_lists for word in words]
    if not words:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    table = _WORDS.rows(words, WORD_K)
    starts = np.cumsum(lengths) - lengths
    k = WORD_K
    # Texts shorter than k words: one hash, the XOR of each word's value at its position.
    short = np.flatnonzero((lengths > 0) & (lengths < k))
    owners, values = [], []
    if len(short):
        size = lengths[short]
        position = ranges(size)
        picked = table[np.repeat(starts[short], size) + position, position]
        firsts = np.cumsum(size) - size
        owners.append(short)
        values.append(np.bitwise_xor.reduceat(picked, firsts) ^ np.int64(k))
    if len(words) >= k:
        span = len(words) - k + 1
        hashes = table[:span, 0].copy()
        for j in range(1, k):
            hashes ^= table[j : j + span, j]
        count = np.maximum(lengths - k + 1, 0)
        found = _window_minima(hashes, starts, count, WORD_WINDOW)
        owners.append(found[0])
        values.append(found[1])
    if not owners:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(owners), np.concatenate(values)


def _batch_char_prints(streams: list[str]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    lengths = np.fromiter(map(len, streams), dtype=np.int64, count=len(streams))
    owners, values = [np.empty(0, np.int64)], [np.empty(0, np.int64)]
    # Streams shorter than one shingle are hashed whole (k = their length), one by one.
    for index in np.flatnonzero((lengths >= _CHAR_MIN) & (lengths < CHAR_K)).tolist():
        owners.append(np.array([index], dtype=np.int64))
        values.append(char_hashes(streams[index]))
    full = lengths >= CHAR_K
    stream = "".join(s if f else "" for s, f in zip(streams, full.tolist(), strict=True))
    if stream:
        kept = np.where(full, lengths, 0)
        hashes = char_hashes(stream, CHAR_K)
        count = np.maximum(kept - CHAR_K + 1, 0)
        found = _window_minima(hashes, np.cumsum(kept) - kept, count, CHAR_WINDOW)
        owners.append(found[0])
        values.append(found[1])
    return np.concatenate(owners), np.concatenate(values)
