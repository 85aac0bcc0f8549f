"""Labels that name a short bare number as a phone.

A bare run of fewer than ten digits ("612345678") is as often an order, a build or a
count as a phone: only its label tells. Two kinds of word head one:

* words that only name a phone ("Phone", "Tel", "Teléfono", "my number"): the number
  right after them is a phone, however it is keyed;
* words that also head a device's or a channel's count ("Mobile", "Cell", "Móvil",
  "WhatsApp", "Fax"): with a number word ("Mobile number", "Cell #") they name a phone;
  with only a key's ":" or "=" or "is" ("Mobile: 612345678") they do unless the line
  reads as a count. A count shows a "%", a sibling key with a number of five digits or
  more ("Mobile: 61234567, Desktop: 41234567"), a word after the number ("WhatsApp:
  712345678 messages"), or, in JSON, a number not quoted (``{"mobile": 61234567}``; a
  phone is a string). A table's "|" or a CSV's "," is no label for them: device
  breakdowns are written so.
"""

from __future__ import annotations

import re

from gateway.pii.identifier_forms import LINE_BREAK


def whole_words(alternatives: str) -> re.Pattern[str]:
    """``alternatives`` (any case) as whole words: "_" and a camelCase join separate
    words too ("phone_number", "contact_phone", "mobileNumber", "homePhone")."""
    return re.compile(
        rf"(?:(?<![^\W_])|(?<=[a-z])(?=[A-Z]))(?i:{alternatives})(?:(?![^\W_])|(?=[A-Z]))"
    )


LABEL_REACH = 40
"""Characters before a number searched for its label."""
_NUMBER_WORD = r"(?:[ \t_-]*(?:no|nr|num|number|\#)\.?)"
_LABEL_TAIL = re.compile(
    rf"\.?{_NUMBER_WORD}?[\"']?[ \t]*(?:is[ \t]+|[:=\#|,;][ \t]*)?[\"']?", re.IGNORECASE
)
"""What may stand between a phone's label and its number: a number word, a quote, "is",
a key's ":" or "=", a table's "|", a CSV's "," or ";"."""
_NUMBERED_TAIL = re.compile(
    rf"\.?{_NUMBER_WORD}[\"']?[ \t]*(?:is[ \t]+|[:=\#][ \t]*)?[\"']?", re.IGNORECASE
)
"""A device word's tail with a number word: "Mobile number 612345678", "Cell #: ..."."""
_KEYED_TAIL = re.compile(r"(?P<quote>[\"']?)[ \t]*(?:is[ \t]+|[:=][ \t]*)(?P<value_quote>[\"']?)")
"""A device word's tail with a key's ":" or "=" or "is" only: "Mobile: 612345678",
``"mobile": "612345678"``."""

PHONE_LABEL = whole_words(
    r"phone|telephone|tel|tel[eé]fono|telefon|telefone|telefoon|t[eé]l[eé]phone|t[eé]l|tlf|"
    r"tfno|(?:my|your|his|her|our|their)\s+number"
)
"""Words that only name a phone."""
DEVICE_LABEL = whole_words(
    r"mobile|mobil|mobiel|m[oó]vil|cell|cellphone|cellulare|celular|cel|handy|whatsapp|fax"
)
"""Words that name a phone or head a device's or channel's count."""

_SIBLING_COUNT = re.compile(r"[:=|][ \t]*[\"']?[0-9][0-9 .,]{4,}")
"""A key's or a table cell's number of five digits or more."""
_NEXT_ON_LINE = re.compile(r"[ \t]*(?P<next>[^\W_]*)(?P<key>[ \t]*[:=])?")
"""The word after a number on its line, and whether it is a key ("Email:")."""
_CONNECTIVES = frozenset({"", "or", "and", "ext", "x", "o", "y", "ou", "oder", "of", "e"})
"""Words that may follow a phone on its line: another number, an extension."""


def labelled_as_phone(text: str, start: int, end: int) -> bool:
    """Whether a label right before ``text[start:end]`` names the number as a phone."""
    lo = max(0, start - LABEL_REACH)
    label = _last(PHONE_LABEL, text, lo, start)
    if label is not None and _LABEL_TAIL.fullmatch(text, label.end(), start):
        return True
    label = _last(DEVICE_LABEL, text, lo, start)
    if label is None:
        return False
    if _NUMBERED_TAIL.fullmatch(text, label.end(), start):
        return True
    keyed = _KEYED_TAIL.fullmatch(text, label.end(), start)
    if keyed is None or (keyed.group("quote") and not keyed.group("value_quote")):
        return False
    return not _reads_as_a_count(text, start, end)


def _last(pattern: re.Pattern[str], text: str, lo: int, hi: int) -> re.Match[str] | None:
    matches = list(pattern.finditer(text, lo, hi))
    return matches[-1] if matches else None


def _reads_as_a_count(text: str, start: int, end: int) -> bool:
    """Whether the line of the number at ``text[start:end]`` reads as a count: a "%",
    another key's number of five digits or more, or a word right after the number that
    is no key of its own ("Email:") and no "or" or extension."""
    line_lo = max(0, start - 400)
    for found in LINE_BREAK.finditer(text, max(0, start - 400), start):
        line_lo = found.end()
    after = LINE_BREAK.search(text, end)
    line_hi = after.start() if after else len(text)
    if "%" in text[line_lo:line_hi]:
        return True
    next_word = _NEXT_ON_LINE.match(text, end, line_hi)
    if (
        next_word is not None
        and not next_word.group("key")
        and next_word.group("next").lower() not in _CONNECTIVES
    ):
        return True
    siblings = _SIBLING_COUNT.findall(text[line_lo:start]) + _SIBLING_COUNT.findall(
        text[end:line_hi]
    )
    return bool(siblings)
