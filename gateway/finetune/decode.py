"""Text hidden by plain encodings, decoded so the scan sees it too.

A training line can carry governed text that the fingerprints would not see as written:
JSON inside a string (tool-call ``arguments``), ``\\u``/``\\x`` escapes left in a string
by double encoding, base64 (also wrapped in short lines), base32, hex (also as spaced or
``0x`` bytes), percent-encoded blobs and HTML character references; decoded bytes may be
UTF-8 or UTF-16, and gzip or zlib compressed. Also: a JSON list of code points or byte
values, and the text without its digits when most words carry one (``word3``,
``3:word``). Also: Unicode tag characters (invisible "ASCII smuggling"),
regional-indicator letters, quoted-printable, base64 cut into space-separated groups,
base64 or hex written word by word, and Base85 or Ascii85 blobs. ``hidden_texts``
returns the decoded text of each such layer (the original string is scanned as it is,
separately), recursively up to ``MAX_DEPTH`` layers. Blobs shorter than ``MIN_BLOB``
characters and decodings that are not mostly printable UTF-8 text are ignored: short
tokens and binary data (hashes, keys, images) carry no trainable prose.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import re
import string
import zlib
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import unquote

MAX_DEPTH = 4
MIN_BLOB = 24
MIN_PRINTABLE = 0.9
MAX_INFLATION = 128
_SAMPLE = 4096
MAX_HIDDEN_CHARS = 4_000_000
"""Decoded text per string beyond this is dropped (decodings only ever shrink, so this
bounds a pathological line, never an honest one)."""

_ESCAPE = re.compile(r"\\(?:u([0-9a-fA-F]{4})|x([0-9a-fA-F]{2})|U([0-9a-fA-F]{8}))")
_BASE64 = re.compile(rf"[A-Za-z0-9+/]{{{MIN_BLOB},}}={{0,2}}|[A-Za-z0-9_-]{{{MIN_BLOB},}}={{0,2}}")
_HEX = re.compile(rf"(?:[0-9a-fA-F]{{2}}){{{MIN_BLOB // 2},}}")
_BLOB_BYTES = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=_-"
_BLOB_MARKS = bytes(
    0x61 if byte in _BLOB_BYTES else 0x0A if byte == 0x0A else 0x20 for byte in range(256)
)
_BLOB_RUN = b"a" * MIN_BLOB
"""A quick pass: prose rarely has a blob-sized run of ``[A-Za-z0-9+/=_-]``, so the blob
patterns rarely run. The characters are ASCII, so the UTF-8 bytes mapped to ``a`` (one
of them) or a space (anything else) hold a run of ``MIN_BLOB`` ``a`` exactly when the
text does: a byte table and a substring search instead of a regex tried at every
position."""
_MARKED_RUN = re.compile(b"a{%d,}" % MIN_BLOB)
"""The runs themselves: every blob match lies inside one (its characters are all of that
set), so for ASCII text (byte offsets are character offsets) the blob patterns need
only run over these, not be tried at every position of the text (``marked_runs``)."""
_UNMARKED = re.compile(b"[^a]")
_PERCENT = re.compile(r"(?:%[0-9a-fA-F]{2}){4,}")
_PERCENT_ESCAPE = re.compile(r"%[0-9a-fA-F]{2}")
_MIN_ESCAPES = 4
_DENSE_ESCAPES = 40
"""Escapes this dense (one per 40 characters or more) get the whole text decoded."""
_HAS_DIGIT = re.compile(r"\d")
_LETTER = re.compile(r"[^\W\d_]")
_EDGE = "0123456789" + string.punctuation
_DIGITS = re.compile(r"\d+")
_ASCII_DIGITS = b"0123456789"
_MIN_NUMBERED = 8
_WRAP_LINE = 8
_WRAPPED_MARK = b"a" * _WRAP_LINE + b"\n" + b"a" * _WRAP_LINE
"""Two blob-sized line pieces around a line break: a blob may be wrapped there."""
_WRAPPED = re.compile(
    rf"^[ \t]*(?:[A-Za-z0-9+/_-]{{{_WRAP_LINE},}}={{0,2}}[ \t]*\r?\n[ \t]*)+"
    r"[A-Za-z0-9+/_-]+={0,2}[ \t]*\r?$",
    re.MULTILINE,
)
"""Whole lines of blob characters, one after another: a blob wrapped at any width (MIME
wraps base64 at 76; shorter widths hide it from ``_BASE64``)."""
_HEX_BYTES = b"0123456789abcdefABCDEF"
_HEX_MARKS = bytes(
    0x68
    if byte in _HEX_BYTES
    else 0x78
    if byte in b"xX"
    else 0x20
    if byte in b" ,:;\t\n\r"
    else 0x2E
    for byte in range(256)
)
_SPACED_HEX_MARK = b"hh hh hh hh hh hh"
_PREFIXED_HEX_MARK = b"xhh"
"""``0x53``: enough of these in a string, and it may hold prefixed hex bytes."""
_SPACED_HEX = re.compile(
    rf"(?:(?:0[xX])?[0-9a-fA-F]{{2}}[ ,:;\t\r\n]{{1,3}}){{{MIN_BLOB // 2 - 1},}}"
    r"(?:0[xX])?[0-9a-fA-F]{2}"
)
"""Bytes written as separated hex pairs: ``53 65 76``, ``0x53, 0x65``, ``53:65:76``."""
_HEX_PAIR = re.compile(r"(?:0[xX])?([0-9a-fA-F]{2})")
_BASE32 = re.compile(r"[A-Z2-7]+")
_TAG = re.compile("[\U000e0020-\U000e007e]")
_TAGS = {0xE0000 + code: code for code in range(0x20, 0x7F)}
"""Unicode tag characters: each is an ASCII character plus 0xE0000, and invisible."""
_REGIONAL = re.compile("[\U0001f1e6-\U0001f1ff]")
_REGIONAL_LETTERS = {0x1F1E6 + n: ord("a") + n for n in range(26)}
"""Regional-indicator symbols (U+1F1E6 to U+1F1FF): the letters a to z, shown as flags
in pairs and as boxed letters alone, so a passage written in them reads back."""
_QP_ESCAPE = re.compile(r"=[0-9A-F]{2}")
_MIN_QP_ESCAPES = 8
_MIN_KEY_WORDS = 4
"""A JSON key of this many words or more is text of its own; shorter ones are names."""
_SPACED_PAIR = b"aaaaaaaa aaaaaaaa"
"""Two blob-character groups of eight or more, spaced: a line may hold base64 cut into
groups (one substring search; prose with two long words in a row pays a split)."""
_SPACED_SIZES = tuple(b" " + (b"a" * size + b" ") * 3 for size in (8, 12, 16, 20))
"""Three groups of one length between spaces (the widths base64 is usually cut at),
searched for only where ``_SPACED_PAIR`` is: prose rarely has three words of one such
length in a row."""
_MIN_GROUPS = 5
_WORDS_ONLY = re.compile(r"[A-Za-z0-9+/=\s]+")
_MIN_WORDS = 8
_ALNUM = re.compile(r"[^\W_]")
_HEX_WORD = re.compile(r"(?:[0-9a-fA-F]{2})+")
_BASE85_BYTES = (
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$%&()*+-;<=>?@^_`{|}~"
)
_ASCII85_BYTES = bytes(range(0x21, 0x76)) + b"z"
_BASE85_MARKS = bytes(
    0x61 if byte in _BASE85_BYTES or byte in _ASCII85_BYTES else 0x20 for byte in range(256)
)
"""Base85 (``base64.b85encode``, git's and Mercurial's alphabet) and Ascii85 (``!`` to
``u``, Adobe's ``<~ ~>``) blobs: runs of ``MIN_BLOB`` or more of their characters, not
all of them base64's (those are tried as base64)."""
_CHARACTER_REFERENCE = re.compile(r"&#(?:[0-9]{1,7}|[xX][0-9a-fA-F]{1,6});")
_MIN_REFERENCES = 4


def walk_strings(value: Any) -> Iterator[str]:
    """Every string of a parsed JSON value, object keys included, in document order.

    Iterative, so a deeply nested value cannot exhaust the stack.
    """
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            for key, child in reversed(list(item.items())):
                stack.append(child)
                stack.append(key)
        elif isinstance(item, list):
            stack.extend(reversed(item))


def hidden_texts(text: str, depth: int = MAX_DEPTH) -> list[str]:
    """The decoded text of every encoded layer found in ``text`` (not ``text`` itself)."""
    found: list[str] = []
    budget = MAX_HIDDEN_CHARS
    pending = [(text, depth)]
    while pending and budget > 0:
        current, left = pending.pop()
        if left <= 0:
            continue
        for decoded in _layers(current):
            if budget <= 0:
                break  # the rest of this string's layers are not even decoded
            if not decoded.strip():
                continue
            decoded = decoded[:budget]
            budget -= len(decoded)
            found.append(decoded)
            pending.append((decoded, left - 1))
    return found


def _layers(text: str) -> Iterator[str]:
    raw = text.encode("utf-8", "surrogatepass")
    # Blobs first: they are small, and the layers of the whole text below (JSON,
    # escapes, references) could otherwise use up the decoded-text budget of a huge
    # string before its blobs are reached.
    if len(text) >= MIN_BLOB:
        yield from _blob_layers(text, raw)
    stripped = text.lstrip()
    if stripped[:1] in ("{", "[") and len(stripped) > 1:
        try:
            inner = json.loads(stripped)
        except (ValueError, RecursionError):
            inner = None
        if isinstance(inner, dict | list):
            yield from _json_layers(inner)
        if isinstance(inner, list) and (numbered := _code_points(inner)) is not None:
            yield numbered
    if "\\" in text and _ESCAPE.search(text):
        yield _ESCAPE.sub(_unescape, text)
    if "%" in text:
        yield from _percent_layers(text)
    if _numbered(text, raw):
        yield from _without_digits(text)
    if "&#" in text and len(_CHARACTER_REFERENCE.findall(text)) >= _MIN_REFERENCES:
        yield html.unescape(text)
    yield from _smuggled_and_quoted(text)


def _smuggled_and_quoted(text: str) -> Iterator[str]:
    """Text in Unicode tag characters, read as the ASCII they stand for; in
    regional-indicator symbols, read as letters; and quoted-printable."""
    if not text.isascii():
        if _TAG.search(text):
            yield text.translate(_TAGS)
        if _REGIONAL.search(text):
            yield text.translate(_REGIONAL_LETTERS)
    if "=" in text:
        yield from _quoted_printable(text)


def _json_layers(value: Any) -> Iterator[str]:
    """The string values of a parsed JSON value, in order, without its keys: keys are
    field names, and read between the values they would cut a passage spread over
    several objects (``{"part": "a b c"}``, ``{"part": "d e f"}``) into pieces. A key of
    ``_MIN_KEY_WORDS`` words or more is text, given as a layer of its own."""
    values: list[str] = []
    keys: list[str] = []
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            values.append(item)
        elif isinstance(item, dict):
            keys.extend(key for key in item if len(key.split()) >= _MIN_KEY_WORDS)
            stack.extend(reversed(item.values()))
        elif isinstance(item, list):
            stack.extend(reversed(item))
    yield "\n".join(values)
    if keys:
        yield "\n".join(keys)


def _quoted_printable(text: str) -> Iterator[str]:
    """Quoted-printable (``=20`` for a space, ``=`` at a line end for a soft break),
    when its escapes are dense in the text."""
    escapes = len(_QP_ESCAPE.findall(text))
    if escapes < _MIN_QP_ESCAPES or escapes * _DENSE_ESCAPES < len(text):
        return
    decoded = _text(binascii.a2b_qp(text.encode("utf-8", "surrogatepass")))
    # Text put in quoted-printable decodes to no control character: ``x=1F`` is no escape.
    if decoded is not None and decoded != text and _mostly_printable(decoded, 1.0):
        yield decoded


def _percent_layers(text: str) -> Iterator[str]:
    """Percent-encoded runs; or the whole text when escapes are dense in it, as
    ``urllib.parse.quote`` writes prose (``%20`` between plain words, no run of four)."""
    escapes = len(_PERCENT_ESCAPE.findall(text))
    if escapes >= _MIN_ESCAPES and escapes * _DENSE_ESCAPES >= len(text):
        decoded = unquote(text, errors="replace")
        if _printable(decoded):
            yield decoded
        return
    for match in _PERCENT.finditer(text):
        decoded = unquote(match.group(), errors="strict") if _utf8(match.group()) else ""
        if decoded and _printable(decoded):
            yield decoded


def _numbered(text: str, raw: bytes) -> bool:
    """Whether ``text`` has ``_MIN_NUMBERED`` numbers in its first 64k characters. An
    ASCII text (``raw`` its bytes) with fewer digits than that has fewer numbers: one
    byte deletion tells, where ``findall`` builds a string per number (a third of the
    scan's decoder time on prose)."""
    if text.isascii() and len(raw) - len(raw.translate(None, _ASCII_DIGITS)) < _MIN_NUMBERED:
        return False
    return len(_DIGITS.findall(text, 0, 1 << 16)) >= _MIN_NUMBERED


def _without_digits(text: str) -> Iterator[str]:
    """The text without its digits, when most of its words carry a number at their
    edges or are one: a number glued to or put before every word (``word3``,
    ``3:word``, ``(3) word``) breaks every fingerprint, and the words alone are the
    passage. Tables (no words left) and blobs (digits inside tokens) are left alone."""
    words = text.split()
    # Each numbered word holds a run of digits of its own: too few runs, and the words
    # need not be looked at one by one (most texts with numbers are prose).
    runs = len(_DIGITS.findall(text))
    if runs < _MIN_NUMBERED or runs * 2 < len(words):
        return
    numbered = sum(1 for word in words if _numbered_at_edges(word))
    if numbered < _MIN_NUMBERED or numbered * 2 < len(words):
        return
    if sum(1 for word in words if _LETTER.search(word)) * 2 >= numbered:
        yield _DIGITS.sub("", text)


def _numbered_at_edges(word: str) -> bool:
    core = word.strip(_EDGE)
    return (
        len(core) < len(word)
        and _HAS_DIGIT.search(word) is not None
        and (not _HAS_DIGIT.search(core))
    )


def _code_points(values: list[Any]) -> str | None:
    """A JSON list of integers read as code points (or byte values), when it spells
    printable text: ``[83, 101, 118, ...]``."""
    if len(values) < MIN_BLOB or not all(type(v) is int and 9 <= v <= 0x10FFFF for v in values):
        return None
    if any(0xD800 <= v <= 0xDFFF for v in values):
        return None
    decoded = "".join(map(chr, values))
    return decoded if _printable(decoded) else None


def _blob_layers(text: str, raw: bytes) -> Iterator[str]:
    """Base64, base32 and hex blobs, also wrapped or spaced (a quick byte-table pass
    first: most text has none). ``raw``: ``text`` in UTF-8."""
    marks = raw.translate(_BLOB_MARKS)
    if _BLOB_RUN in marks:
        yield from _blobs(_blob_runs(text, marks))
    # A line break between blob pieces, maybe after CR (marked as a space) or indented
    # (each pattern holds the line break: a text without one skips them all).
    if b"\n" in marks and (
        _WRAPPED_MARK in marks
        or ((b"\n " in marks or b" \n" in marks) and _WRAPPED_MARK in marks.replace(b" ", b""))
    ):
        for match in _WRAPPED.finditer(text):
            yield from _unwrapped(match.group().split())
    if _SPACED_PAIR in marks and any(map(marks.__contains__, _SPACED_SIZES)):
        yield from _spaced_groups(text)
    base85_marks = raw.translate(_BASE85_MARKS)
    if _BLOB_RUN in base85_marks:
        yield from _base85(raw, base85_marks)
    if len(text) < MAX_HIDDEN_CHARS and _WORDS_ONLY.fullmatch(text):
        yield from _word_by_word(text.split())
    hex_marks = raw.translate(_HEX_MARKS)
    if _SPACED_HEX_MARK in hex_marks or hex_marks.count(_PREFIXED_HEX_MARK) >= MIN_BLOB // 2:
        for match in _SPACED_HEX.finditer(text):
            pairs = "".join(_HEX_PAIR.findall(match.group()))
            if (spaced := _text(bytes.fromhex(pairs))) is not None:
                yield spaced


def _base85(raw: bytes, marks: bytes) -> Iterator[str]:
    """The Base85 or Ascii85 blobs of ``raw`` (its bytes; ``marks``: ``_BASE85_MARKS``)."""
    for start, end in marked_runs(marks):
        run = raw[start:end]
        if not run.translate(None, _BLOB_BYTES):
            continue  # base64's characters only: decoded as base64
        for decode in _decoders(run):
            try:
                decoded = _text(decode(run))
            except ValueError:
                continue
            if decoded is not None:
                yield decoded
                break


def _decoders(run: bytes) -> list[Callable[[bytes], bytes]]:
    """The decoders ``_base85`` tries on ``run``: those whose alphabet holds each of its
    characters (any other character only makes a decoder raise ValueError, after a
    Python loop over the run up to it; a third of the decoder's time on prose). A
    framed run (``<~...~>``) is left to Ascii85 as it is."""
    decoders: list[Callable[[bytes], bytes]] = []
    if not run.translate(None, _BASE85_BYTES):
        decoders.append(base64.b85decode)
    if (run.startswith(b"<~") and run.endswith(b"~>")) or not run.translate(None, _ASCII85_BYTES):
        decoders.append(_ascii85)
    return decoders


def _ascii85(run: bytes) -> bytes:
    framed = run.startswith(b"<~") and run.endswith(b"~>")
    return base64.a85decode(run, adobe=framed)


def _unwrapped(lines: list[str]) -> Iterator[str]:
    """The blob the lines make. Also tried: without a first or last line that may be a
    word next to the blob ("Attachment", "thanks"), and from each of the next three
    characters (a blob whose first line began after other text is off its 4-character
    alignment)."""
    variants = [lines, lines[1:], lines[:-1]] if len(lines) > 2 else [lines]
    for variant in variants:
        joined = "".join(variant)
        for shift in range(4):
            found = list(_blobs([joined[shift:]]))
            if found:
                yield from found
                return


def _spaced_groups(text: str) -> Iterator[str]:
    """Base64 cut into space-separated groups of one length (a multiple of four; the
    last may be shorter): each run of groups in a line, joined and decoded."""
    for line in text.splitlines():
        for run in _equal_runs(line.split()):
            joined = "".join(run)
            if not _HEX.fullmatch(joined):  # hex ids in a row: not base64
                yield from _blobs([joined])


def _equal_runs(tokens: list[str]) -> Iterator[list[str]]:
    """Runs of ``_MIN_GROUPS`` or more tokens of one length (a multiple of four, eight
    or more), the token after a run included when it is no longer (a blob's tail)."""
    index = 0
    while index < len(tokens):
        size = len(tokens[index])
        end = index + 1
        while end < len(tokens) and len(tokens[end]) == size:
            end += 1
        if size >= 8 and size % 4 == 0 and end - index + 1 >= _MIN_GROUPS:
            tail = 1 if end < len(tokens) and len(tokens[end]) < size else 0
            if end - index + tail >= _MIN_GROUPS:
                yield tokens[index : end + tail]
        index = end


def _word_by_word(words: list[str]) -> Iterator[str]:
    """Base64 or hex written one word per token: each token decoded on its own, when
    most of them decode to a printable word."""
    if len(words) < _MIN_WORDS:
        return
    for decode in (_hex_word, _base64_word):
        decoded = [decode(word) for word in words]
        if sum(1 for word in decoded if word is not None) * 4 >= len(words) * 3:
            yield " ".join(
                word if word is not None else original
                for word, original in zip(decoded, words, strict=True)
            )
            return


def _hex_word(token: str) -> str | None:
    return _word(bytes.fromhex(token)) if _HEX_WORD.fullmatch(token) else None


def _base64_word(token: str) -> str | None:
    if len(token) % 4:
        return None
    try:
        return _word(base64.b64decode(token, validate=True))
    except (binascii.Error, ValueError):
        return None


def _word(raw: bytes) -> str | None:
    """``raw`` as one printable word with a letter or digit in it, else None."""
    try:
        word = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if word.isprintable() and not any(ch.isspace() for ch in word) and _ALNUM.search(word):
        return word
    return None


def _blob_runs(text: str, marks: bytes) -> list[str]:
    """Where blobs can be in ``text``: its runs of ``MIN_BLOB`` or more blob characters
    (the whole text when it is not ASCII)."""
    if len(marks) != len(text):
        return [text]
    return [text[start:end] for start, end in marked_runs(marks)]


def marked_runs(marks: bytes) -> Iterator[tuple[int, int]]:
    """Where ``_MARKED_RUN.finditer(marks)`` matches, by substring searches: a run of
    ``MIN_BLOB`` marks found first is a run's start (an earlier start would have been
    found), and it ends at the next byte that is not a mark. The pattern is tried at
    every position, and most of prose's bytes are marks (letters): ~4x slower."""
    start = marks.find(_BLOB_RUN)
    while start >= 0:
        after = _UNMARKED.search(marks, start + MIN_BLOB)
        end = len(marks) if after is None else after.start()
        yield start, end
        start = marks.find(_BLOB_RUN, end)


def _blobs(runs: list[str]) -> Iterator[str]:
    """The decoded blobs of ``runs``: hex ones first, then base64, each in text order."""
    for match in (match for run in runs for match in _HEX.finditer(run)):
        decoded = _text(bytes.fromhex(match.group()))
        if decoded is not None:
            yield decoded
    for match in (match for run in runs for match in _BASE64.finditer(run)):
        blob = match.group().rstrip("=")
        if _HEX.fullmatch(blob):
            continue
        padded = blob + "=" * (-len(blob) % 4)
        try:
            raw = (
                base64.urlsafe_b64decode(padded)
                if "-" in blob or "_" in blob
                else base64.b64decode(padded, validate=True)
            )
        except (binascii.Error, ValueError):
            raw = b""
        decoded = _text(raw) if raw else None
        if decoded is None and _BASE32.fullmatch(blob):
            decoded = _base32(blob)
        if decoded is not None:
            yield decoded


def _base32(blob: str) -> str | None:
    try:
        return _text(base64.b32decode(blob + "=" * (-len(blob) % 8)))
    except (binascii.Error, ValueError):
        return None


def _unescape(match: re.Match[str]) -> str:
    code = int(next(group for group in match.groups() if group is not None), 16)
    if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return "\ufffd"
    return chr(code)


def _utf8(percent_encoded: str) -> bool:
    try:
        bytes.fromhex(percent_encoded.replace("%", "")).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _text(raw: bytes) -> str | None:
    """``raw`` as text if it is mostly printable UTF-8 (or UTF-16, which is half zero
    bytes for Latin text), else None."""
    if _compressed(raw):
        raw = _inflated(raw) or raw  # text can start like a zlib header: keep it then
    encodings = ["utf-8"]
    if len(raw) % 2 == 0 and raw.count(0) * 4 >= len(raw):
        encodings += ["utf-16"] if raw[:2] in (b"\xfe\xff", b"\xff\xfe") else []
        encodings += ["utf-16-be", "utf-16-le"]
    for encoding in encodings:
        try:
            decoded = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        if decoded and _printable(decoded):
            return decoded
    return None


def _compressed(raw: bytes) -> bool:
    """A gzip member or a zlib stream (a valid zlib header: deflate, checksum)."""
    return raw[:2] == b"\x1f\x8b" or (
        len(raw) > 2 and raw[0] & 0x0F == 8 and (raw[0] << 8 | raw[1]) % 31 == 0
    )


def _inflated(raw: bytes) -> bytes:
    """``raw`` decompressed; empty when it does not inflate, or inflates more than
    ``MAX_INFLATION`` times its size (text compresses a few times, a passage repeated
    over and over some dozens; a bomb of zeros a thousand, and checking it would cost
    far more than its bytes)."""
    inflater = zlib.decompressobj(wbits=47)
    try:
        inflated = inflater.decompress(raw, min(MAX_HIDDEN_CHARS, MAX_INFLATION * len(raw)))
    except zlib.error:
        return b""
    return b"" if inflater.unconsumed_tail else inflated


def _printable(text: str) -> bool:
    if len(text) > _SAMPLE and not _mostly_printable(text[:_SAMPLE]):
        return False  # a large decoding that starts as binary: not checked whole
    return _mostly_printable(text)


def _mostly_printable(text: str, share: float = MIN_PRINTABLE) -> bool:
    good = sum(1 for ch in text if ch.isprintable() or ch in "\n\r\t")
    return good >= share * len(text)
