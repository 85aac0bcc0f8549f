"""Token counting: any caller text is counted, never an error; tables are OpenAI's, offline."""

from __future__ import annotations

import asyncio
import gzip
import pickle
import socket
import threading
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway import tokens
from gateway.tokens import ENCODINGS, PIECE_CHARS, TokenTableError, count_tokens, encoding

# Counts taken from bpe-openai 0.1.4 (the encoder the gateway used before tiktoken) for
# the same strings: switching encoders must not change a single count.
CORPUS = [
    "",
    "Hello, world!",
    "hi <|endoftext|> there",
    "Ann Example, ann@example.com, +1 212 555 0101.",
    "  leading and trailing spaces   \n\n\tTabs\r\nCRLF",
    "Ünïcödé façade naïve \u2013 \u201cquotes\u201d \u2026 日本語のテキスト"
    " 中文 한국어 العربية עברית",
    "Emoji 👩\u200d💻🚀🎉 and flags 🇫🇷🇯🇵",
    "Numbers 1234567890 3.14159 -42 1e10 0xDEADBEEF",
    "def f(x):\n    return x ** 2  # comment\n",
    "I'm sure they'll've DONE it; SHE'S HERE. Don't",
    "<|endofprompt|><|fim_prefix|>x<|fim_suffix|>",
    "IBAN GB82 WEST 1234 5698 7654 32, card 4111-1111-1111-1111",
    "a" * 1000,
    " ".join(["word"] * 500),
]
KNOWN_COUNTS = {
    "o200k_base": [0, 4, 9, 17, 11, 25, 20, 23, 14, 12, 19, 30, 125, 500],
    "cl100k_base": [0, 4, 8, 17, 11, 41, 27, 23, 14, 15, 21, 30, 125, 500],
}


@pytest.mark.parametrize("name", sorted(KNOWN_COUNTS))
def test_counts_match_the_previous_encoder(name: str) -> None:
    """Every string of the corpus has the token count bpe-openai gave it."""
    codec = encoding(name)
    assert [len(codec.encode_ordinary(text)) for text in CORPUS] == KNOWN_COUNTS[name]


def test_known_tokens_of_a_special_string() -> None:
    """``<|endoftext|>`` in text is split into ordinary tokens, never the special one."""
    assert encoding().encode_ordinary("hi <|endoftext|> there") == [
        3686, 464, 91, 419, 1440, 919, 91, 29, 1354,
    ]  # fmt: skip


def test_special_token_strings_count_as_text() -> None:
    """``<|endoftext|>`` in a message is ordinary text (tiktoken's ``encode`` would raise)."""
    assert count_tokens("hi <|endoftext|> there") == 9


def test_a_million_characters_are_counted() -> None:
    """A text of more than 1M characters is counted in pieces, within a token per piece
    of the exact count."""
    line = "Ann Example, ann@example.com, +1 212 555 0101. "
    text = line * 25_000  # 1.15 M characters

    def exact(copies: int) -> int:
        return len(encoding().encode_ordinary(line * copies))

    # The count grows by the same number of tokens per copy of the line.
    expected = exact(1_000) + (exact(2_000) - exact(1_000)) * 24
    assert abs(count_tokens(text) - expected) <= len(text) // PIECE_CHARS + 1


def test_a_million_spaces_are_counted() -> None:
    """A run of a million spaces (beyond the split pattern's backtracking budget in one
    call) is counted, not a ValueError."""
    assert 0 < count_tokens(" " * 1_000_000) < 20_000


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=300))
def test_short_texts_are_counted_exactly(text: str) -> None:
    """Below one piece the count is the encoder's own (special strings as text)."""
    assert count_tokens(text) == len(encoding().encode(text, disallowed_special=()))


@pytest.mark.parametrize("name", sorted(ENCODINGS))
def test_specs_are_openais(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Split pattern, special tokens and table hash equal tiktoken's own definitions."""
    from tiktoken_ext import openai_public  # type: ignore[import-untyped]  # no py.typed

    hashes: list[str] = []

    def no_download(url: str, expected_hash: str) -> dict[bytes, int]:
        hashes.append(expected_hash)
        return {}

    monkeypatch.setattr(openai_public, "load_tiktoken_bpe", no_download)
    theirs: dict[str, Any] = getattr(openai_public, name)()
    ours = ENCODINGS[name]
    assert (ours.pat_str, ours.special_tokens, ours.sha256) == (
        theirs["pat_str"],
        theirs["special_tokens"],
        hashes[0],
    )


@pytest.mark.parametrize("name", sorted(ENCODINGS))
def test_loading_opens_no_socket(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Building an encoding from the bundled table never touches the network."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a socket was opened while loading token tables")

    monkeypatch.setattr(socket.socket, "__init__", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    built = tokens.build(name)
    assert built.name == name
    assert built.n_vocab == max(ENCODINGS[name].special_tokens.values()) + 1


def test_a_tampered_table_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """One changed rank in the table: the hash check refuses it, nothing is built."""
    genuine = tokens.read_table(ENCODINGS["o200k_base"])
    tampered = genuine.replace(b" 1000\n", b" 1001\n", 1)
    assert tampered != genuine
    monkeypatch.setattr(tokens, "read_table", lambda spec: tampered)
    with pytest.raises(TokenTableError, match="sha256"):
        tokens.build("o200k_base")


def test_a_missing_or_corrupt_table_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A missing file or bytes that are not gzip are a TokenTableError, not a crash."""
    missing = tokens.EncodingSpec("absent.tiktoken.gz", "0" * 64, "", {})
    with pytest.raises(TokenTableError, match="missing or unreadable"):
        tokens.read_table(missing)
    monkeypatch.setattr(gzip, "decompress", lambda data: (_ for _ in ()).throw(EOFError()))
    with pytest.raises(TokenTableError):
        tokens.read_table(ENCODINGS["o200k_base"])


def test_an_unknown_encoding_is_refused() -> None:
    """Only bundled encodings can be loaded (tiktoken's registry would download)."""
    with pytest.raises(TokenTableError, match="no bundled"):
        encoding("p50k_base")


def test_decoding_round_trips() -> None:
    """The embeddings endpoint's cl100k_base decodes what it encodes, special strings too."""
    codec = encoding("cl100k_base")
    for text in CORPUS:
        assert codec.decode(codec.encode_ordinary(text)) == text


def test_the_python_copy_of_the_ranks_is_released() -> None:
    """The encoding keeps no Python copy of its 200k ranks (~31 MB); pickling fails loudly."""
    codec = encoding()
    assert not hasattr(codec, "_mergeable_ranks")
    with pytest.raises(AttributeError):
        pickle.dumps(codec)


def test_load_off_loop_builds_in_a_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """An encoding not loaded yet is built outside the event loop's thread, once."""
    loop_thread = threading.current_thread()
    threads: list[threading.Thread] = []
    real = tokens.build

    def recording(name: str) -> Any:
        threads.append(threading.current_thread())
        return real(name)

    monkeypatch.setattr(tokens, "build", recording)
    monkeypatch.setattr(tokens, "_built", {})
    asyncio.run(tokens.load_off_loop("cl100k_base"))
    asyncio.run(tokens.load_off_loop("cl100k_base"))
    assert len(threads) == 1
    assert threads[0] is not loop_thread
    assert "cl100k_base" in tokens._built
