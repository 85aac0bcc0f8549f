"""Text hidden by plain encodings, decoded so the scan sees it too.

A training line can carry governed text that the fingerprints would not see as written:
JSON inside a string (tool-call ``arguments``), ``\\u``/``\\x`` escapes left in a string
by double encoding, base64, hex or percent-encoded blobs. ``hidden_texts`` returns the
decoded text of each such layer (the original string is scanned as it is, separately),
recursively up to ``MAX_DEPTH`` layers. Blobs shorter than ``MIN_BLOB`` characters and
decodings that are not mostly printable UTF-8 text are ignored: short tokens and binary
data (hashes, keys, images) carry no trainable prose.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

MAX_DEPTH = 4
MIN_BLOB = 24
MIN_PRINTABLE = 0.9
MAX_HIDDEN_CHARS = 4_000_000
"""Decoded text per string beyond this is dropped (decodings only ever shrink, so this
bounds a pathological line, never an honest one)."""

_ESCAPE = re.compile(r"\\(?:u([0-9a-fA-F]{4})|x([0-9a-fA-F]{2})|U([0-9a-fA-F]{8}))")
_BASE64 = re.compile(rf"[A-Za-z0-9+/]{{{MIN_BLOB},}}={{0,2}}|[A-Za-z0-9_-]{{{MIN_BLOB},}}={{0,2}}")
_HEX = re.compile(rf"(?:[0-9a-fA-F]{{2}}){{{MIN_BLOB // 2},}}")
_BLOB_BYTES = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=_-"
_BLOB_MARKS = bytes(0x61 if byte in _BLOB_BYTES else 0x20 for byte in range(256))
_BLOB_RUN = b"a" * MIN_BLOB
"""A quick pass: prose rarely has a blob-sized run of ``[A-Za-z0-9+/=_-]``, so the blob
patterns rarely run. The characters are ASCII, so the UTF-8 bytes mapped to ``a`` (one
of them) or a space (anything else) hold a run of ``MIN_BLOB`` ``a`` exactly when the
text does: a byte table and a substring search instead of a regex tried at every
position."""
_MARKED_RUN = re.compile(b"a{%d,}" % MIN_BLOB)
"""The runs themselves: every blob match lies inside one (its characters are all of that
set), so for ASCII text (byte offsets are character offsets) the blob patterns need
only run over these, not be tried at every position of the text."""
_PERCENT = re.compile(r"(?:%[0-9a-fA-F]{2}){4,}")


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
            if not decoded.strip():
                continue
            decoded = decoded[:budget]
            budget -= len(decoded)
            found.append(decoded)
            pending.append((decoded, left - 1))
    return found


def _layers(text: str) -> Iterator[str]:
    stripped = text.lstrip()
    if stripped[:1] in ("{", "[") and len(stripped) > 1:
        try:
            inner = json.loads(stripped)
        except (ValueError, RecursionError):
            inner = None
        if isinstance(inner, dict | list):
            yield "\n".join(walk_strings(inner))
    if "\\" in text and _ESCAPE.search(text):
        yield _ESCAPE.sub(_unescape, text)
    if "%" in text:
        for match in _PERCENT.finditer(text):
            decoded = unquote(match.group(), errors="strict") if _utf8(match.group()) else ""
            if decoded and _printable(decoded):
                yield decoded
    if len(text) >= MIN_BLOB:
        yield from _blobs(_blob_runs(text))


def _blob_runs(text: str) -> list[str]:
    """Where blobs can be in ``text``: its runs of ``MIN_BLOB`` or more blob characters
    (the whole text when it is not ASCII), or nothing."""
    marks = text.encode("utf-8", "surrogatepass").translate(_BLOB_MARKS)
    if _BLOB_RUN not in marks:
        return []
    if len(marks) != len(text):
        return [text]
    return [text[run.start() : run.end()] for run in _MARKED_RUN.finditer(marks)]


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
            continue
        decoded = _text(raw)
        if decoded is not None:
            yield decoded


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
    """``raw`` as text if it is mostly printable UTF-8, else None."""
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return decoded if decoded and _printable(decoded) else None


def _printable(text: str) -> bool:
    good = sum(1 for ch in text if ch.isprintable() or ch in "\n\r\t")
    return good >= MIN_PRINTABLE * len(text)
