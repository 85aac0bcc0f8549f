"""Token-aware chunking with overlap; every chunk maps back to exact character offsets.

Windows are counted in o200k_base tokens (``gateway.tokens``: tiktoken over the table
shipped in the package, so this works offline). A window's character span is widened
to whole characters when a token boundary falls inside a multi-byte character, and each
chunk's own text is re-counted so that ``token_count <= chunk_tokens`` holds for the
text actually stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway import tokens
from gateway.hashing import sha256_hex

DEFAULT_ENCODING = "o200k_base"
# Encoded in slices: tiktoken's split pattern gives up on very long runs of whitespace
# (a ValueError at ~1M spaces), and slices keep pathological runs cheap.
_SLICE_CHARS = 50_000
_CONTINUATION_BYTES = bytes(range(0x80, 0xC0))


@dataclass(frozen=True, slots=True)
class TextChunk:
    """``text == document_text[start:end]``."""

    index: int
    start: int
    end: int
    token_count: int
    text: str

    @property
    def sha256(self) -> str:
        return sha256_hex(self.text)


class Chunker:
    """Splits text into windows of at most ``chunk_tokens`` tokens, ``overlap`` shared."""

    def __init__(
        self, chunk_tokens: int = 400, overlap: int = 50, encoding: str = DEFAULT_ENCODING
    ) -> None:
        if chunk_tokens < 16:
            raise ValueError("chunk size must be at least 16 tokens")
        if not 0 <= overlap < chunk_tokens:
            raise ValueError("overlap must be at least 0 and smaller than the chunk size")
        self.chunk_tokens = chunk_tokens
        self.overlap = overlap
        self.encoding_name = encoding
        self._encoding = _load_encoding(encoding)

    @property
    def signature(self) -> str:
        """Changes whenever the same text would be chunked differently."""
        return f"{self.encoding_name}/{self.chunk_tokens}/{self.overlap}"

    def count(self, text: str) -> int:
        return len(self._encode(text))

    def chunk(self, text: str) -> list[TextChunk]:
        tokens = self._encode(text)
        if not tokens:
            return []
        starts, ends = self._char_bounds(tokens)
        chunks: list[TextChunk] = []
        first = 0
        while True:
            last = min(first + self.chunk_tokens, len(tokens))  # exclusive
            while True:
                start, end = starts[first], ends[last - 1]
                count = self.count(text[start:end])
                if count <= self.chunk_tokens or last - first == 1:
                    break
                last -= 1  # re-encoding the slice took more tokens: shrink the window
            chunks.append(TextChunk(len(chunks), start, end, count, text[start:end]))
            if last >= len(tokens):
                return chunks
            first = max(last - self.overlap, first + 1)

    def _encode(self, text: str) -> list[int]:
        tokens: list[int] = []
        position = 0
        while position < len(text):
            stop = _slice_end(text, position)
            tokens.extend(self._encoding.encode_ordinary(text[position:stop]))
            position = stop
        return tokens

    def _char_bounds(self, tokens: list[int]) -> tuple[list[int], list[int]]:
        """Per token: the character offset where it starts (rounded down) and ends (up)."""
        starts: list[int] = []
        ends: list[int] = []
        chars = 0  # characters whose first byte lies in earlier tokens
        for piece in self._encoding.decode_tokens_bytes(tokens):
            inside_char = bool(piece) and 0x80 <= piece[0] < 0xC0
            starts.append(chars - 1 if inside_char else chars)
            chars += len(piece.translate(None, _CONTINUATION_BYTES))
            ends.append(chars)
        return starts, ends


def _load_encoding(name: str) -> Any:
    return tokens.encoding(name)


def _slice_end(text: str, position: int) -> int:
    """End of the next slice to encode: at a line break or space when there is one."""
    stop = position + _SLICE_CHARS
    if stop >= len(text):
        return len(text)
    for separator in ("\n", " "):
        cut = text.rfind(separator, position + _SLICE_CHARS // 2, stop)
        if cut != -1:
            return cut + 1
    return stop
