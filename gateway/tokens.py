"""Token counting with OpenAI's o200k_base, offline (bpe-openai bundles its tables)."""

from __future__ import annotations

import functools
import threading
import warnings
from typing import Any

ENCODING = "o200k_base"
_loading = threading.Lock()


def encoding(name: str = ENCODING) -> Any:
    """The bundled encoding, loaded once per process (about 1.6 CPU-s: importing
    bpe-openai reads several tables). Thread-safe: ``gateway serve`` loads it in a
    thread at start-up, and a caller arriving meanwhile waits for that load."""
    with _loading:
        return _load(name)


@functools.cache
def _load(name: str) -> Any:
    with warnings.catch_warnings():
        # bpe-openai 0.1.4 reads its data through the deprecated importlib.resources API.
        warnings.simplefilter("ignore", DeprecationWarning)
        import bpe_openai  # type: ignore[import-untyped]  # no py.typed marker

        return bpe_openai.get_encoding(name)


PIECE_CHARS = 100_000
"""Longer texts are counted in pieces: bpe-openai refuses to encode 1,000,000 characters
or more at once, and more than 200,000 tokens in one call (a 500 on a large message)."""


def count_tokens(text: str) -> int:
    """Tokens of ``text`` as ordinary text (special-token strings such as
    ``<|endoftext|>`` in a caller's message count as text, never raise). Exact up to
    ``PIECE_CHARS``; above, the sum over pieces cut at a space, within a token or two."""
    codec = encoding()
    total, start = 0, 0
    while start < len(text):
        end = min(start + PIECE_CHARS, len(text))
        if end < len(text):
            cut = text.rfind(" ", start + PIECE_CHARS // 2, end)
            end = cut if cut > start else end
        total += len(codec.encode(text[start:end], disallowed_special=()))
        start = end
    return total
