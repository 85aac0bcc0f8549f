"""The text of an upload that is not UTF-8: a PDF's text layer, text in another
encoding, or the readable runs inside a binary file.

A file the scan cannot read is not a file without text: restricted text saved as UTF-16
or Windows-1252, in a PDF, or embedded uncompressed in an image or an archive would
otherwise pass as "binary" for the purposes whose policy allows binary files. What stays
unreadable is compressed or encrypted content (a DOCX, a gzip, a password-protected PDF):
whether such files may pass at all is the policy's ``binary_purposes`` decision.

The heavy readers (pypdf, charset-normalizer) are imported on first use.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

PDF_MAGIC = b"%PDF-"
SNIFF = 1 << 20
"""How much of a file its text encoding is told from."""
_PDF_HEAD = 1024
"""PDF readers accept the header anywhere in the first kilobyte."""
MIN_RUN = 16
"""Readable runs shorter than this (in bytes) are left out: a 16-character run is as long
as the fingerprints' character shingle. Random binary data holds one or two per MB, so
a 50 MB image adds about 70 short runs to the match."""


def decoded(
    content: bytes, read_pdf: Callable[[bytes], str | None] | None = None
) -> tuple[str, str, bool] | None:
    """``("pdf", its text layer, False)`` or ``("text", the text, exact)``; None for a
    binary file. ``exact``: the file is UTF-8 without NULs, read whole as it is; when
    not (a PDF, a guessed encoding), the caller matches the file's readable runs too, so
    that bytes outside what was read (text after a small PDF, a UTF-8 tail after a
    UTF-16 head) are never left unread.

    UTF-16 of ASCII text is valid UTF-8 too, with a NUL before or after every letter: a
    file holding NULs is decoded in the encoding it is most likely in, else read as
    UTF-8 without them. ``read_pdf``: how the text layer is read (the scan reads it in
    its helper process, with a deadline)."""
    if is_pdf(content):
        layer = (read_pdf or pdf_text)(content)
        if layer is not None:
            return "pdf", layer, False
    try:
        text: str | None = content.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and "\x00" not in text:
        return "text", text, True
    other = other_encoding_text(content)
    if other is not None:
        return "text", other.replace("\x00", ""), False
    if text is not None:
        return "text", text.replace("\x00", ""), False
    return None


_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"WEBP", 8, "image/webp"),
    (b"PK\x03\x04", 0, "application/zip"),
    (b"\x1f\x8b", 0, "application/gzip"),
)


def media_type(content: bytes) -> str | None:
    """The type a binary file's first bytes announce (images, PDF, archives), else None:
    what the policy can ask of a binary file (``binary_media_types``)."""
    if is_pdf(content):
        return "application/pdf"
    for magic, offset, kind in _MAGIC:
        if content[offset : offset + len(magic)] == magic and (
            kind != "image/webp" or content[:4] == b"RIFF"
        ):
            return kind
    return None


def is_pdf(content: bytes) -> bool:
    return PDF_MAGIC in content[:_PDF_HEAD]


def pdf_text(content: bytes) -> str | None:
    """The PDF's text layer (as ingest reads it); None when there is none or the file
    is not a readable PDF (encrypted, damaged)."""
    from gateway.ingest.documents import DocumentError
    from gateway.ingest.readers import pdf_text as read

    # pypdf's warnings can quote bytes of the file: none reach the gateway's logs.
    logging.getLogger("pypdf").setLevel(logging.CRITICAL + 1)
    try:
        return read(content)
    except DocumentError:
        return None


def other_encoding_text(content: bytes) -> str | None:
    """``content`` decoded in the text encoding it is most likely in (UTF-16, UTF-32,
    a legacy code page...), or None when it does not look like text in any. The
    encoding is told from the first ``SNIFF`` bytes (the whole of 50 MB takes seconds):
    text after a binary head is still found, as readable runs."""
    from charset_normalizer import from_bytes

    best = from_bytes(content[:SNIFF]).best()
    if best is None:
        return None
    if len(content) <= SNIFF:
        return str(best)
    return content.decode(best.encoding, errors="replace")


def readable_runs(content: bytes) -> list[tuple[int, str]]:
    """Each run of at least ``MIN_RUN`` bytes of readable text, with the 1-based line it
    starts on, in file order: printable ASCII, whitespace and two-byte UTF-8 letters
    (accented Latin, Greek, Cyrillic...), or ASCII text in UTF-16 (``strings -e l`` and
    ``-e b``). Found with numpy masks: a regular expression takes ~10 s for 50 MB."""
    import numpy as np

    data = np.frombuffer(content, dtype=np.uint8)
    if len(data) < MIN_RUN:
        return []
    # Unsigned arithmetic wraps around: ``data - low < size`` is ``low <= data < low + size``
    # in one pass.
    printable = ((data - 0x20) < 0x5F) | (data == 0x09)
    text = printable | ((data - 0x0A) < 4)  # newlines, VT, FF
    two_byte = ((data[:-1] - 0xC2) < 0x1E) & ((data[1:] - 0x80) < 0x40)
    text[:-1] |= two_byte
    text[1:] |= two_byte
    found = [(start, end, "utf-8") for start, end in _runs(text)]
    nul = data == 0
    for first in (0, 1):  # the two alignments of 16-bit code units
        low, high = printable[first::2], nul[first + 1 :: 2]
        pairs = min(len(low), len(high))
        for mask, encoding in (
            (low[:pairs] & high[:pairs], "utf-16-le"),
            (nul[first::2][:pairs] & printable[first + 1 :: 2][:pairs], "utf-16-be"),
        ):
            found.extend(
                (first + 2 * start, first + 2 * end, encoding)
                for start, end in _runs(mask, MIN_RUN // 2 or 1)
            )
    found = _one_reading(sorted(found))
    newlines = np.flatnonzero(data == 0x0A)
    lines = np.searchsorted(newlines, [start for start, _, _ in found]) + 1
    return [
        (int(line), content[start:end].decode(encoding, errors="replace"))
        for line, (start, end, encoding) in zip(lines, found, strict=True)
    ]


def _one_reading(found: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """UTF-16 text read once: ASCII in UTF-16LE is also UTF-16BE one byte along (and
    vice versa); of overlapping UTF-16 runs the longer is kept."""
    kept: list[tuple[int, int, str]] = []
    last = -1  # index in ``kept`` of the last UTF-16 run
    for run in found:
        if run[2] != "utf-8" and last >= 0 and run[0] < kept[last][1]:
            if run[1] - run[0] > kept[last][1] - kept[last][0]:
                kept[last] = run
            continue
        if run[2] != "utf-8":
            last = len(kept)
        kept.append(run)
    return kept


def _runs(mask: Any, minimum: int = MIN_RUN) -> list[tuple[int, int]]:
    """``(start, end)`` of each run of at least ``minimum`` True values of ``mask``.

    ``window[i]`` says whether ``mask[i : i + span]`` is all True; doubling ``span`` to
    ``minimum`` takes a few passes, and the windows left are sparse (listing every edge
    of a mask that is True for 40 % of random bytes takes most of a second for 50 MB)."""
    import numpy as np

    if len(mask) < minimum:
        return []
    window, span = mask, 1
    while span < minimum:
        step = min(span, minimum - span)
        window = window[:-step] & window[step:]
        span += step
    padded = np.zeros(len(window) + 2, dtype=np.int8)
    padded[1:-1] = window
    edges = np.diff(padded)
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return list(zip(starts.tolist(), (ends + minimum - 1).tolist(), strict=True))
