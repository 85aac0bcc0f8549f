"""The text of uploads that are not UTF-8: PDFs, other encodings, binary files' runs."""

from __future__ import annotations

import gzip
import random
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.finetune.file_text import (
    MIN_RUN,
    _runs,
    is_pdf,
    media_type,
    other_encoding_text,
    pdf_text,
    readable_runs,
)

from ...fixtures.ingest.support import make_pdf

PASSAGE = (
    "Contain first: revoke exposed credentials, isolate affected hosts, and snapshot "
    "volumes for forensics before rebuilding them."
)


def image_like(payload: bytes = b"", seed: int = 7) -> bytes:
    """A PNG signature, compressed noise and ``payload`` (as in an uncompressed text chunk)."""
    noise = random.Random(seed).randbytes(20_000)
    return b"\x89PNG\r\n\x1a\n" + zlib.compress(noise) + payload + zlib.compress(noise[::-1])


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "cp1252"])
def test_text_in_another_encoding_is_decoded(encoding: str) -> None:
    """UTF-16 and UTF-32 with or without a byte-order mark, and a legacy code page
    (a curly apostrophe makes Windows-1252 text invalid UTF-8), read as the text."""
    text = (PASSAGE + " The team\u2019s rota is attached.\n") * 20
    decoded = other_encoding_text(text.encode(encoding))
    assert decoded is not None
    assert PASSAGE in decoded


@pytest.mark.parametrize("seed", range(3))
def test_binary_data_is_not_read_as_text(seed: int) -> None:
    """Compressed or random bytes are no text encoding's text."""
    assert other_encoding_text(image_like(seed=seed)) is None
    assert other_encoding_text(random.Random(seed).randbytes(50_000)) is None


def test_readable_runs_with_their_lines() -> None:
    """Runs of readable ASCII or UTF-8 text are found with the line they start on;
    shorter runs than ``MIN_RUN`` are left out."""
    content = b"\x00\x01" + b"x" * (MIN_RUN - 1) + b"\xff\n\n\x02" + PASSAGE.encode() + b"\x00"
    content += b"\xfe" + " caf\u00e9 cr\u00e8me br\u00fbl\u00e9e au menu\x01".encode()
    assert readable_runs(content) == [(3, PASSAGE), (3, " café crème brûlée au menu")]


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_runs_inside_binary_data(encoding: str) -> None:
    """Text stored as UTF-16 inside a binary file (as Windows resources keep it) is found."""
    runs = readable_runs(image_like(b"\x00\x00" + PASSAGE.encode(encoding) + b"\x00\x00"))
    assert [text for _, text in runs] == [PASSAGE]


def test_random_bytes_hold_few_runs() -> None:
    """Noise rarely holds a run as long as ``MIN_RUN`` (one or two per MB), and each
    is short: an image adds next to nothing to the match."""
    runs = readable_runs(random.Random(1).randbytes(4_000_000))
    assert len(runs) <= 12
    assert max(len(text) for _, text in runs) < 2 * MIN_RUN


def test_pdf_text_layer(tmp_path: Path) -> None:
    """A PDF's text layer is read as ingest reads it; a damaged PDF gives None."""
    pdf = make_pdf(tmp_path / "a.pdf", [PASSAGE, "Second page."]).read_bytes()
    assert is_pdf(pdf)
    layer = pdf_text(pdf)
    assert layer is not None
    assert " ".join(PASSAGE.split()) in " ".join(layer.split())
    assert pdf_text(b"%PDF-1.7\n\x00\x01 not a pdf") is None
    assert not is_pdf(PASSAGE.encode())


@given(st.lists(st.booleans(), max_size=120), st.integers(1, 20))
def test_runs_are_the_maximal_runs_long_enough(values: list[bool], minimum: int) -> None:
    """The windowed search finds what a walk over the values finds."""
    expected, start = [], None
    for index, value in enumerate([*values, False]):
        if value and start is None:
            start = index
        elif not value and start is not None:
            if index - start >= minimum:
                expected.append((start, index))
            start = None
    assert _runs(np.array(values, dtype=bool), minimum) == expected


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"\xff\xd8\xff\xe0", "image/jpeg"),
        (b"GIF89a", "image/gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"%PDF-1.7", "application/pdf"),
        (b"PK\x03\x04", "application/zip"),
        (gzip.compress(b"x")[:4], "application/gzip"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", None),
        (b"\x00\x01\x02\x03", None),
    ],
)
def test_media_type_from_the_first_bytes(head: bytes, kind: str | None) -> None:
    """Images, PDFs and archives are told by their magic numbers; others are unknown."""
    assert media_type(head + bytes(64)) == kind
