"""Token counting: any caller text is counted, never an error."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.tokens import PIECE_CHARS, count_tokens, encoding


def test_special_token_strings_count_as_text() -> None:
    """``<|endoftext|>`` in a message is ordinary text (tiktoken-style encoders raise)."""
    assert count_tokens("hi <|endoftext|> there") > 3


def test_a_million_characters_are_counted() -> None:
    """Texts beyond bpe-openai's one-call limits (1M characters, 200k tokens) are counted
    in pieces, within a token per piece of the exact count."""
    line = "Ann Example, ann@example.com, +1 212 555 0101. "
    text = line * 25_000  # 1.15 M characters

    def exact(copies: int) -> int:
        return len(encoding().encode(line * copies))

    # The count grows by the same number of tokens per copy of the line.
    expected = exact(1_000) + (exact(2_000) - exact(1_000)) * 24
    assert abs(count_tokens(text) - expected) <= len(text) // PIECE_CHARS + 1


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=300))
def test_short_texts_are_counted_exactly(text: str) -> None:
    """Below one piece the count is the encoder's own (special strings as text)."""
    assert count_tokens(text) == len(encoding().encode(text, disallowed_special=()))
