"""A normalised view of a text for analysis, with a map back to the original offsets.

Recognizers match ASCII digits and separators; trivial obfuscation defeats them:
fullwidth digits (U+FF10..U+FF19), zero-width spaces or soft hyphens inside a number,
combining marks on digits, Unicode dashes. The analyzer looks at a view where each
character is NFKC-normalised, format (``Cf``: zero-width, soft hyphen, bidi controls)
and combining (``Mn``/``Me``) characters are dropped, any decimal digit is its ASCII
digit, any dash is ``-``, and a Unicode tag character (U+E0020..U+E007E, invisible
"ASCII smuggling": an ASCII character plus 0xE0000) is the ASCII character it stands
for. A literal escape ("\\n", "\\t": in code, or in JSON encoded twice) is the white
space it stands for and a space, so that its letter does not join what follows to the
word before ("Anna\\n07911 123456"). Each view character remembers the original character it
came from, so a span found in the view covers the original characters, invisible ones
inside it included, and redaction replaces those.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_DROPPED = frozenset({"Cf", "Mn", "Me"})
_NOT_ASCII = re.compile(r"[^\x00-\x7f]")
_TAG_FIRST, _TAG_LAST = 0xE0020, 0xE007E
_TAG_OFFSET = 0xE0000
_LITERAL_ESCAPE = re.compile(r"\\[nrtfvb]")
_ESCAPED = {"n": "\n", "r": "\r", "t": "\t", "f": "\f", "v": "\v", "b": " "}
"""What each literal escape stands for, then a space (the same length): a line break
stays one, so that numbers on escaped lines never join ("415\\n867\\n5309")."""


@dataclass(frozen=True, slots=True)
class View:
    text: str
    origin: tuple[int, ...]
    """``origin[i]``: index in the original of view character ``i``."""
    original_length: int

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """The original characters behind view characters ``start:end``, with the
        invisible or combining characters that follow the last one (they belong to it)."""
        if start >= end:
            point = self.origin[start] if start < len(self.origin) else self.original_length
            return point, point
        after = self.origin[end] if end < len(self.origin) else self.original_length
        if after == self.origin[end - 1]:  # one original character, several view ones
            after += 1
        return self.origin[start], after


def _char_view(char: str) -> str:
    if _TAG_FIRST <= ord(char) <= _TAG_LAST:
        return chr(ord(char) - _TAG_OFFSET)
    category = unicodedata.category(char)
    if category in _DROPPED:
        return ""
    if category == "Nd":
        return str(unicodedata.decimal(char))
    if category == "Pd" or char == "\u2212":
        return "-"
    folded = unicodedata.normalize("NFKC", char)
    if folded == char:
        return char
    return "".join(_char_view(c) if c != char else c for c in folded)


def normalised(text: str) -> View | None:
    """The analysis view of ``text``, or None when it is already plain ASCII."""
    if text.isascii():
        if "\\" not in text or not _LITERAL_ESCAPE.search(text):
            return None
        return View(_unescaped(text), tuple(range(len(text))), len(text))
    pieces: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        if char.isascii():
            pieces.append(char)
            origin.append(index)
            continue
        view = _char_view(char)
        pieces.append(view)
        origin.extend([index] * len(view))
    return View(_unescaped("".join(pieces)), tuple(origin), len(text))


def view_text(text: str) -> str:
    """The text of ``normalised(text)`` without its offset map, for an analysis that
    reports no offsets (the upload scan): only the non-ASCII characters are visited."""
    if not text.isascii():
        text = _NOT_ASCII.sub(lambda match: _char_view(match.group()), text)
    return _unescaped(text)


def _unescaped(text: str) -> str:
    """``text`` with each literal escape as what it stands for and a space."""
    if "\\" not in text:
        return text
    return _LITERAL_ESCAPE.sub(lambda found: _ESCAPED[found.group()[1]] + " ", text)
