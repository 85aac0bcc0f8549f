import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.ingest.chunking import Chunker

CHUNKER = Chunker(chunk_tokens=32, overlap=8)

# Text that stresses offsets: multi-byte characters, emoji split across tokens, CJK,
# combining marks, newlines and long runs of spaces.
texts = st.lists(
    st.one_of(
        st.sampled_from(["a", "é", "😀", "中", "e\u0301", " ", "\n", "    ", " word", ".", "\t"]),
        st.characters(blacklist_categories=["Cs"]),
    ),
    min_size=1,
    max_size=300,
).map("".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts)
def test_chunks_map_back_to_the_text_and_respect_the_limit(text: str) -> None:
    """For any text: offsets slice out each chunk, chunks cover it all, within the limit."""
    chunks = CHUNKER.chunk(text)
    assert chunks, "non-empty text gives at least one chunk"
    assert chunks[0].start == 0
    assert chunks[-1].end == len(text)
    for number, chunk in enumerate(chunks):
        assert chunk.index == number
        assert text[chunk.start : chunk.end] == chunk.text
        assert 0 < chunk.token_count <= CHUNKER.chunk_tokens
        assert chunk.token_count == CHUNKER.count(chunk.text)
    for previous, current in itertools.pairwise(chunks):
        assert previous.start < current.start
        assert current.start <= previous.end, "no gap between consecutive chunks"


def test_long_text_is_split_with_the_requested_overlap() -> None:
    """Consecutive full chunks share about ``overlap`` tokens of text."""
    chunker = Chunker(chunk_tokens=50, overlap=10)
    text = " ".join(f"word{n}" for n in range(400))
    chunks = chunker.chunk(text)
    assert len(chunks) > 5
    assert all(chunk.token_count <= 50 for chunk in chunks)
    assert all(chunk.token_count >= 45 for chunk in chunks[:-1])
    for previous, current in itertools.pairwise(chunks):
        shared = text[current.start : previous.end]
        assert 8 <= chunker.count(shared) <= 12


def test_zero_overlap_chunks_tile_the_text() -> None:
    """With no overlap, chunks follow each other exactly."""
    chunker = Chunker(chunk_tokens=20, overlap=0)
    text = "The quick brown fox jumps over the lazy dog. " * 30
    chunks = chunker.chunk(text)
    assert "".join(chunk.text for chunk in chunks) == text
    assert all(b.start == a.end for a, b in itertools.pairwise(chunks))


def test_short_text_is_one_chunk_with_its_hash() -> None:
    """A text under the limit is one chunk whose sha256 is that of its UTF-8 bytes."""
    [chunk] = Chunker().chunk("Hello, world.")
    assert (chunk.start, chunk.end, chunk.token_count) == (0, 13, 4)
    assert chunk.sha256 == "f8c3bf62a9aa3e6fc1619c250e48abe7519373d3edf41be62eb5dc45199af2ef"


def test_texts_beyond_the_tokenizer_input_limit_are_chunked() -> None:
    """Documents over a million characters still chunk completely."""
    text = "lorem ipsum dolor sit amet " * 45_000  # 1.2M characters
    chunks = Chunker(chunk_tokens=2000, overlap=0).chunk(text)
    assert chunks[-1].end == len(text)
    assert sum(len(chunk.text) for chunk in chunks) == len(text)


def test_empty_text_has_no_chunks() -> None:
    """Nothing to chunk gives no chunks."""
    assert Chunker().chunk("") == []


@pytest.mark.parametrize(("size", "overlap"), [(8, 0), (100, 100), (100, -1)])
def test_invalid_sizes_are_refused(size: int, overlap: int) -> None:
    """Chunk size below 16 tokens, or overlap outside [0, size), is a ValueError."""
    with pytest.raises(ValueError, match=r"chunk size|overlap"):
        Chunker(chunk_tokens=size, overlap=overlap)
