"""A normalised view of a text for analysis, with a map back to the original offsets.

Recognizers match ASCII digits and separators; trivial obfuscation defeats them:
fullwidth digits (U+FF10..U+FF19), zero-width spaces or soft hyphens inside a number,
combining marks on digits, Unicode dashes. The analyzer looks at a view where each
character is NFKC-normalised, format (``Cf``: zero-width, soft hyphen, bidi controls)
and combining (``Mn``/``Me``) characters are dropped, any decimal digit is its ASCII
digit, any dash is ``-``, and a Unicode tag character (U+E0020..U+E007E, invisible
"ASCII smuggling": an ASCII character plus 0xE0000) is the ASCII character it stands
for. An escape written out as text is the character it stands for: a literal "\\n" or
"\\t" (code, JSON encoded twice), a "\\u00a0" or "\\x2b", a URL's "%2B", an HTML
"&#43;" or "&nbsp;" (``_ESCAPE``). Its letters would otherwise join what follows to the
word before ("Anna\\n07911 123456") or hide the character ("tel=%2B447911123456").
A character of a script written without spaces between words (Chinese, Japanese,
Korean, Thai, Lao, Khmer, Myanmar) that touches an ASCII letter or digit is a ";" in
the view: patterns bounded by ``\\b`` would otherwise see "号码536-22-8726" as one word
and the number inside it as part of a longer token.
Each view character remembers the original character it came from (a decoded one, its
escape's first), so a span found in the view covers the original characters, invisible
ones and whole escapes inside it included, and redaction replaces those.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass

_DROPPED = frozenset({"Cf", "Mn", "Me"})
_NOT_ASCII = re.compile(r"[^\x00-\x7f]")
_TAG_FIRST, _TAG_LAST = 0xE0020, 0xE007E
_TAG_OFFSET = 0xE0000
_ESCAPE = re.compile(
    r"\\[nrtfvb]"
    r"|\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}"
    r"|\\u[0-9a-fA-F]{4}|\\x[0-9a-fA-F]{2}"
    r"|%(?:[2-6][0-9a-fA-F]|7[0-9a-eA-E])"
    r"|&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|nbsp|plus|commat|period|hyphen|dash|lpar|rpar);"
)
"""Escapes written out as text: a backslash escape of code or JSON (a surrogate pair as
one), a URL's percent-encoded printable ASCII character, an HTML character reference."""
_SPACELESS = (
    "[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u31f0-\u31ff"
    "\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f]"
)
"""Letters of scripts written without spaces between words: Thai, Lao, Myanmar, Khmer,
kana, CJK ideographs, Hangul syllables."""
_SPACELESS_EDGE = re.compile(rf"{_SPACELESS}(?=[A-Za-z0-9])|(?<=[A-Za-z0-9]){_SPACELESS}")
"""Such a letter touching an ASCII letter or digit (one character: offsets hold)."""
_SPACELESS_BREAK = ";"
"""What such a letter is in the view: a delimiter that ends a token for every
recognizer, and that no number is grouped with (a space would join "169639529を7" or
"8275821903已于16" into one spaced number)."""
_BACKSLASHED = {"n": "\n", "r": "\r", "t": "\t", "f": "\f", "v": "\v", "b": " "}


def _may_escape(text: str) -> bool:
    """Whether ``text`` holds a character every escape starts with (three substring
    searches, several times faster than a regex's character class)."""
    return "\\" in text or "%" in text or "&" in text


def _decoded(escape: str) -> str:
    """What ``escape`` (a ``_ESCAPE`` match) stands for; a lone surrogate stands for
    nothing (it cannot be analysed as text)."""
    if escape[0] == "%":
        return chr(int(escape[1:], 16))
    if escape[0] == "&":
        return html.unescape(escape)
    if escape[1] in _BACKSLASHED:
        return _BACKSLASHED[escape[1]]
    if len(escape) == 12:  # a surrogate pair
        return (
            chr(int(escape[2:6], 16)).encode("utf-16", "surrogatepass")
            + chr(int(escape[8:], 16)).encode("utf-16-le", "surrogatepass")
        ).decode("utf-16")
    char = chr(int(escape[2:], 16))
    return "" if 0xD800 <= ord(char) <= 0xDFFF else char


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
        while end < len(self.origin) and self.origin[end] == self.origin[end - 1]:
            end += 1  # the rest of one original character or escape's view
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
    escapes = list(_ESCAPE.finditer(text)) if _may_escape(text) else []
    if not escapes and text.isascii():
        return None
    plain = text.isascii()
    pieces: list[str] = []
    origin: list[int] = []
    done = 0
    for escape in escapes:
        _add_view(text, done, escape.start(), plain, pieces, origin)
        for char in _decoded(escape.group()):
            view = char if char.isascii() else _char_view(char)
            pieces.append(view)
            origin.extend([escape.start()] * len(view))
        done = escape.end()
    _add_view(text, done, len(text), plain, pieces, origin)
    joined = "".join(pieces)
    if not joined.isascii():
        joined = _SPACELESS_EDGE.sub(_SPACELESS_BREAK, joined)
    return View(joined, tuple(origin), len(text))


def _add_view(
    text: str, start: int, end: int, plain: bool, pieces: list[str], origin: list[int]
) -> None:
    """The view of ``text[start:end]``, which holds no escape, with each character's
    origin (``plain``: ``text`` is ASCII)."""
    if plain or text[start:end].isascii():
        pieces.append(text[start:end])
        origin.extend(range(start, end))
        return
    for index in range(start, end):
        char = text[index]
        if char.isascii():
            pieces.append(char)
            origin.append(index)
            continue
        view = _char_view(char)
        pieces.append(view)
        origin.extend([index] * len(view))


def view_text(text: str) -> str:
    """The text of ``normalised(text)`` without its offset map, for an analysis that
    reports no offsets (the upload scan): only escapes and non-ASCII characters are
    visited."""
    if _may_escape(text):
        text = _ESCAPE.sub(lambda found: _decoded(found.group()), text)
    if not text.isascii():
        text = _NOT_ASCII.sub(lambda match: _char_view(match.group()), text)
        text = _SPACELESS_EDGE.sub(_SPACELESS_BREAK, text)
    return text
