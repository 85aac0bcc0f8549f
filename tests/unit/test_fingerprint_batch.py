"""Fingerprints of many texts at once equal the per-text ones, for every input."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway import fingerprint
from gateway.fingerprint import char_hashes, fingerprint_array, fingerprint_texts, letters

# Short words over a small alphabet, so that texts around the k-gram, window and
# minimum-length edges (and shared k-grams across texts) come up often.
_WORDS = st.lists(st.sampled_from(["ab", "c", "déf", "x1", "ÿz", "--", " ", "\u200b", "Q"]))
_TEXTS = st.lists(_WORDS.map("".join) | st.text(max_size=80), max_size=12)


@settings(max_examples=300, deadline=None)
@given(_TEXTS)
def test_batched_fingerprints_equal_per_text_fingerprints(texts: list[str]) -> None:
    """Each text's fingerprints and letter stream are those it has on its own."""
    prints, streams = fingerprint_texts(texts)
    assert len(prints) == len(texts)
    for text, found, stream in zip(texts, prints, streams, strict=True):
        assert np.array_equal(found, fingerprint_array(text))
        assert stream == letters(text)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=300), min_size=1, max_size=20))
def test_batches_split_for_memory_give_the_same_result(texts: list[str]) -> None:
    """A tiny pass size (many passes) changes nothing."""
    whole, _ = fingerprint_texts(texts)
    saved = fingerprint._BATCH_CHARS
    fingerprint._BATCH_CHARS = 50
    try:
        split, _ = fingerprint_texts(texts)
    finally:
        fingerprint._BATCH_CHARS = saved
    assert all(np.array_equal(a, b) for a, b in zip(whole, split, strict=True))


def _loop_hashes(stream: str, k: int) -> np.ndarray:
    """The shingle hash the way it is defined: one multiply-add per character."""
    codes = np.frombuffer(stream.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    codes = codes.astype(np.uint64)
    k = min(k, len(codes))
    count = len(codes) - k + 1
    hashes = np.zeros(count, dtype=np.uint64)
    for j in range(k):
        hashes *= fingerprint._PRIME
        hashes += codes[j : j + count]
    hashes ^= hashes >> np.uint64(30)
    hashes *= fingerprint._MIX1
    hashes ^= hashes >> np.uint64(27)
    hashes *= fingerprint._MIX2
    hashes ^= hashes >> np.uint64(31)
    return hashes.view(np.int64)


@given(st.text(min_size=8, max_size=100), st.sampled_from([4, 8, 12, 16, 32]))
def test_doubled_shingle_hash_equals_the_definition(stream: str, k: int) -> None:
    """The log2(k)-step hash equals the per-character multiply-add, for any text."""
    assert np.array_equal(char_hashes(stream, k), _loop_hashes(stream, k))
