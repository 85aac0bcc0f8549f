"""Token counting with OpenAI's encodings, offline: tiktoken over tables shipped with us.

``tiktoken.get_encoding`` downloads its tables on first use; the gateway never calls it.
OpenAI's own ``.tiktoken`` files ship gzipped in ``gateway/data/`` and are checked
against the sha256 OpenAI publishes before anything is built from them, so a tampered
or truncated table stops the gateway instead of miscounting. The encodings' split
patterns and special tokens are copied from tiktoken 0.14.0's
``tiktoken_ext/openai_public.py`` (MIT), which the tests compare them with.
"""

from __future__ import annotations

import asyncio
import binascii
import gzip
import hashlib
import importlib.resources
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tiktoken

ENCODING = "o200k_base"
_loading = threading.Lock()
_built: dict[str, tiktoken.Encoding] = {}


class TokenTableError(Exception):
    """A bundled token table is missing, unknown or not the one OpenAI published."""


@dataclass(frozen=True)
class EncodingSpec:
    file: str
    """Gzipped ``.tiktoken`` file in ``gateway/data``."""
    sha256: str
    """OpenAI's published hash of the uncompressed file (``openai_public.py``)."""
    pat_str: str
    special_tokens: dict[str, int]


# From tiktoken_ext/openai_public.py (tiktoken 0.14.0): o200k_base().
_O200K_PATTERN = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)
# From tiktoken_ext/openai_public.py (tiktoken 0.14.0): cl100k_base().
_CL100K_PATTERN = r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""  # noqa: E501

ENCODINGS: dict[str, EncodingSpec] = {
    "o200k_base": EncodingSpec(
        file="o200k_base.tiktoken.gz",
        sha256="446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        pat_str=_O200K_PATTERN,
        special_tokens={"<|endoftext|>": 199999, "<|endofprompt|>": 200018},
    ),
    "cl100k_base": EncodingSpec(
        file="cl100k_base.tiktoken.gz",
        sha256="223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        pat_str=_CL100K_PATTERN,
        special_tokens={
            "<|endoftext|>": 100257,
            "<|fim_prefix|>": 100258,
            "<|fim_middle|>": 100259,
            "<|fim_suffix|>": 100260,
            "<|endofprompt|>": 100276,
        },
    ),
}
"""The encodings the gateway uses: o200k_base (counting, chunking), cl100k_base
(token-array input of the embeddings endpoint)."""


def encoding(name: str = ENCODING) -> tiktoken.Encoding:
    """The encoding ``name``, built once per process from the bundled table (~0.6 CPU-s
    for o200k_base). Thread-safe: ``gateway serve`` loads it in a thread at start-up, and
    a caller arriving meanwhile waits for that load."""
    built = _built.get(name)
    if built is None:
        with _loading:
            built = _built.get(name)
            if built is None:
                built = _built[name] = build(name)
    return built


async def load_off_loop(name: str) -> None:
    """Load ``name`` in a thread unless it is loaded: a first use on the event loop
    would stall every other request for a fraction of a second."""
    if name not in _built:
        await asyncio.to_thread(encoding, name)


def mergeable_ranks(data: bytes, expected_sha256: str) -> dict[bytes, int]:
    """A ``.tiktoken`` file's token bytes -> rank, after checking its hash."""
    if hashlib.sha256(data).hexdigest() != expected_sha256:
        raise TokenTableError("token table does not match its published sha256")
    ranks: dict[bytes, int] = {}
    decode = binascii.a2b_base64
    try:
        for line in data.splitlines():
            if line:
                token, _, rank = line.partition(b" ")
                ranks[decode(token)] = int(rank)
    except (binascii.Error, ValueError) as exc:  # only reachable with a hash collision
        raise TokenTableError("token table is malformed") from exc
    return ranks


def read_table(spec: EncodingSpec) -> bytes:
    """The uncompressed ``.tiktoken`` file of ``spec``, read from the package."""
    try:
        packed = (importlib.resources.files("gateway") / "data" / spec.file).read_bytes()
        return gzip.decompress(packed)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise TokenTableError(f"token table {spec.file} is missing or unreadable") from exc


def build(name: str) -> tiktoken.Encoding:
    """A new encoding ``name`` from its bundled, hash-checked table (use ``encoding``)."""
    spec = ENCODINGS.get(name)
    if spec is None:
        raise TokenTableError(f"no bundled token table for {name!r}")
    import tiktoken

    ranks = mergeable_ranks(read_table(spec), spec.sha256)
    built = tiktoken.Encoding(
        name, pat_str=spec.pat_str, mergeable_ranks=ranks, special_tokens=spec.special_tokens
    )
    # tiktoken keeps the 200k-entry dict only to pickle the encoding (its Rust core has
    # its own copy): ~31 MB for o200k_base. Pickling is then an AttributeError.
    del built._mergeable_ranks
    return built


PIECE_CHARS = 100_000
"""Longer texts are counted in pieces: tiktoken's split pattern runs out of its
backtracking budget on a run of a million spaces (ValueError), and pieces keep the cost
of pathological runs bounded."""


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
        total += len(codec.encode_ordinary(text[start:end]))
        start = end
    return total
