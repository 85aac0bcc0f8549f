"""Labels that name a short bare number as a phone.

A bare run of fewer than ten digits ("612345678") is as often an order, a build or a
count as a phone: only its label tells. Two kinds of word head one:

* words that only name a phone ("Phone", "Tel", "Teléfono", "my number"): the number
  right after them is a phone, however it is keyed;
* words that also head a device's or a channel's count ("Mobile", "Cell", "Móvil",
  "WhatsApp", "Fax"): they name a phone with a number word ("Mobile number", "Cell
  #"), as a person's ("Her mobile is"), as a JSON string (``"mobile": "612345678"``; a
  count is a number), or keyed with ":" or "=" in a contact record: an e-mail address
  or a contact key ("Name:", "Email:", "Address:") within two lines. Alone, in a
  dashboard, a YAML block, a list or a CSV they head counts ("Mobile: 61234567",
  "traffic:\\n  mobile: 61234567", "- Cell: 804429053").
"""

from __future__ import annotations

import re

from gateway.pii.identifier_forms import LINE_BREAK


def whole_words(alternatives: str) -> re.Pattern[str]:
    """``alternatives`` (any case) as whole words: "_" and a camelCase join separate
    words too ("phone_number", "contact_phone", "mobileNumber", "homePhone"; not the
    "Phone" of "iPhone")."""
    return re.compile(
        rf"(?:(?<![^\W_])|(?<=[a-z])(?<!\bi)(?=[A-Z]))(?i:{alternatives})(?:(?![^\W_])|(?=[A-Z]))"
    )


_LABEL_REACH = 40
"""Characters before a number searched for its label."""
_NUMBER_WORD = r"(?:[ \t_-]*(?:no|nr|num|number|\#)\.?)"
_LABEL_TAIL = re.compile(
    rf"\.?{_NUMBER_WORD}?[\"']?[ \t]*(?:is[ \t]+|[:=\#|,][ \t]*)?[\"']?", re.IGNORECASE
)
"""What may stand between a phone's label and its number: a number word, a quote, "is",
a key's ":" or "=", a table's "|", a CSV's ","."""
_NUMBERED_TAIL = re.compile(
    rf"\.?{_NUMBER_WORD}[\"']?[ \t]*(?:is[ \t]+|[:=\#][ \t]*)?[\"']?", re.IGNORECASE
)
"""A device word's tail with a number word: "Mobile number 612345678", "Cell #: ..."."""
_JSON_STRING_TAIL = re.compile(r"[\"'][ \t]*:[ \t]*[\"']")
"""A device word as a JSON key whose value is a string: ``"mobile": "612345678"``."""
_KEYED_TAIL = re.compile(r"[ \t]*[:=][ \t]*")
_POSSESSIVE_IS = re.compile(r"(?i:my|your|his|her|our|their)[ \t]+\Z")
_IS_TAIL = re.compile(r"[ \t]+is[ \t]+", re.IGNORECASE)

PHONE_LABEL = whole_words(
    r"phone|telephone|tel|tel[eé]fono|telefon|telefone|telefoon|t[eé]l[eé]phone|t[eé]l|tlf|"
    r"tfno|(?:my|your|his|her|our|their)\s+number"
)
"""Words that only name a phone."""
DEVICE_LABEL = whole_words(
    r"mobile|mobil|mobiel|m[oó]vil|cell|cellphone|cellulare|celular|cel|handy|whatsapp|fax"
)
"""Words that name a phone or head a device's or channel's count."""
_KEY_END = r"[ \t]*[\"']?[ \t]*[:=][ \t]*[\"']?"
_CONTACT = re.compile(
    r"[\w.+-]@[\w-]+\.[\w.-]"
    r"|(?<![^\W_])(?i:surname|(?:first|last|full|given|family)[ _-]?name|nombre|apellidos?"
    rf"|address|direcci[oó]n|adresse|anschrift|postcode|zip){_KEY_END}"
    rf"|(?<![^\W_])(?i:name|contact|customer|client){_KEY_END}"
    r"[A-Z][a-zà-ÿ'-]+[ \t]+[A-Z][a-zà-ÿ'-]+"
)
"""A contact record's sign: an e-mail address, a key naming a person's name or an
address, or a name key holding a first and last name ("Name: Ana Ruiz"; a YAML block's
"name: Q3 traffic" is none). An "Email:" key alone is none: channel counts have one."""
_RECORD_LINES = 2
"""Lines either side of a number searched for a contact record's sign."""


def labelled_as_phone(text: str, start: int) -> bool:
    """Whether a label right before ``text[start]`` names the number there as a phone."""
    lo = max(0, start - _LABEL_REACH)
    label = _last(PHONE_LABEL, text, lo, start)
    if label is not None and _LABEL_TAIL.fullmatch(text, label.end(), start):
        return True
    label = _last(DEVICE_LABEL, text, lo, start)
    if label is None:
        return False
    tail = (text, label.end(), start)
    if _NUMBERED_TAIL.fullmatch(*tail) or _JSON_STRING_TAIL.fullmatch(*tail):
        return True
    if _IS_TAIL.fullmatch(*tail):
        return _POSSESSIVE_IS.search(text, max(0, label.start() - 8), label.start()) is not None
    return _KEYED_TAIL.fullmatch(*tail) is not None and _in_contact_record(text, start)


def _last(pattern: re.Pattern[str], text: str, lo: int, hi: int) -> re.Match[str] | None:
    matches = list(pattern.finditer(text, lo, hi))
    return matches[-1] if matches else None


def _in_contact_record(text: str, at: int) -> bool:
    """Whether the lines around ``text[at]`` (``_RECORD_LINES`` either side, 400
    characters at most each way) hold a contact record's sign (``_CONTACT``)."""
    lo = max(0, at - 400)
    breaks = [found.end() for found in LINE_BREAK.finditer(text, lo, at)]
    if len(breaks) > _RECORD_LINES:
        lo = breaks[-_RECORD_LINES - 1]
    hi = min(len(text), at + 400)
    for count, found in enumerate(LINE_BREAK.finditer(text, at, hi)):
        if count == _RECORD_LINES:
            hi = found.start()
            break
    return _CONTACT.search(text, lo, hi) is not None
