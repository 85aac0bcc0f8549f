"""Checksum-valid numbers outside their identifier's usual form: likely, not certain.

A checksum passes by chance: one number in ten passes Luhn, about one in eleven the NHS
mod-11 check (every ISBN-10 passes it), one in ten a DEA number's, one in 97 an IBAN's.
Ordinary data is full of numbers of those lengths: EAN and UPC barcodes, ISBNs, order,
customer, PO and tracking numbers, serials, hashes. What tells the identifier apart is how
it is written, or a word naming it nearby:

===============  ==========================================  ===========================
type             full score when written                     or near a word
===============  ==========================================  ===========================
CREDIT_CARD      grouped as printed (4-4-4-4; Amex 4-6-5;    card, credit, debit, visa,
                 Diners 4-6-4; 19 digits 4-4-4-4-3) with     mastercard, amex, cvv,
                 spaces or dashes, and not the tail or head  expiry..., or an expiry
                 of a longer run of groups ("DE12 3456 7890  date (MM/YY)
                 1234 5678" is an account reference)
UK_NHS           3-3-4 with spaces or dashes, not named as   nhs, national health...
                 a reference ("Item 943-476-5919": see
                 ``labelled``)
IBAN_CODE        at its country's registered length,         iban, bank, account...
                 compact or in groups of four (spaces
                 or dashes)
MEDICAL_LICENSE  (a DEA number looks like any serial)        dea, medical, prescriber...
===============  ==========================================  ===========================

Otherwise the finding scores ``UNUSUAL_FORM_SCORE`` (0.5): under the fine-tune policy's
0.7 for these types, so it is reported but refuses no upload; chat redaction and ingest,
which threshold none of these types, still act on it. A word counts within ``NEAR``
characters either side in the same paragraph, as a whole word, case-insensitive
("card_number" and "NHS-no" count; "discard", "Visakhapatnam", "pandas" and "CC94" do
not).

One more form is not an identifier at all: ``git@github.com:org/repo.git`` is a Git
remote (every Git host serves SSH under the account ``git``), not an e-mail address.

The check runs on the analysed view (``gateway.pii.normalize``): digits hidden by
invisible characters or written fullwidth are judged by their plain form.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from gateway.pii.types import PiiSpan

UNUSUAL_FORM_SCORE = 0.5
NEAR = 40
"""Characters either side of a finding searched for a word naming its type."""

_WORDS: dict[str, re.Pattern[str]] = {
    kind: re.compile(rf"(?<![a-z0-9])(?:{words})(?![a-z0-9])", re.IGNORECASE)
    for kind, words in {
        "CREDIT_CARD": (
            "cards?|creditcards?|credit|debit|visa|master ?card|amex|american express"
            "|discover|maestro|jcb|diners|union ?pay|cc|ccn|pan|cvv2?|cvc|expiry|expires|exp"
            "|(?<![0-9/])(?:0[1-9]|1[0-2])/(?:20)?[0-9]{2}(?![0-9/])"
        ),
        "UK_NHS": "nhs|national health|health service|health authority|patients?",
        "IBAN_CODE": "iban|bank|account|acct|bic|swift|sepa",
        "MEDICAL_LICENSE": "dea|medical|prescriber|prescription|physician|pharmacy",
    }.items()
}
"""Words naming each type, whole: a letter or digit either side breaks them ("discard",
"Visakhapatnam", "pandas" and "CC94" do not count; "card_number", "NHS-no" and "CC:"
do). For cards, an expiry date ("04/28", "12/2027", not part of a longer date) counts
as a word."""

_SEPARATED = re.compile(r"[ -]")
_GROUP_BEFORE = re.compile(r"(?<![A-Za-z0-9])(?=[A-Za-z]*[0-9])[A-Za-z0-9]{1,4}([ -])\Z")
_GROUP_AFTER = re.compile(r"([ -])[0-9]{4}(?![A-Za-z0-9/])")
_CARD_GROUPS: dict[int, tuple[tuple[int, ...], ...]] = {
    16: ((4, 4, 4, 4),),
    15: ((4, 6, 5),),
    14: ((4, 6, 4),),
    19: ((4, 4, 4, 4, 3),),
}
_NHS_GROUPS = (3, 3, 4)
_REGISTRY_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28,
    "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28,
    "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22,
    "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23,
    "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24,
    "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip
"""Countries of the SWIFT IBAN registry (release 99, 2024) and their IBANs' lengths."""
_NATIONAL_LENGTHS: dict[str, int] = {
    "AO": 25, "BF": 28, "BJ": 28, "CF": 27, "CG": 27, "CI": 28, "CM": 27, "CV": 25,
    "DZ": 26, "GA": 27, "GQ": 27, "GW": 25, "IR": 26, "KM": 27, "MA": 28, "MG": 27,
    "ML": 28, "MZ": 25, "NE": 28, "SN": 28, "TD": 27, "TG": 28,
}  # fmt: skip
"""Countries whose banks issue IBANs outside the registry (Iran's Sheba, Morocco,
Algeria, the CFA franc zones, Angola, Mozambique...), at their national lengths."""
_TERRITORIES = {
    "FR": ("GF", "GP", "MQ", "RE", "PF", "TF", "YT", "NC", "BL", "MF", "PM", "WF"),
    "FI": ("AX",),
    "GB": ("GG", "JE", "IM"),
}
"""Territories the registry includes in a country's IBANs: their banks issue the
country's code, but validators accept theirs at the same length."""
IBAN_LENGTHS = {
    **_REGISTRY_LENGTHS,
    **_NATIONAL_LENGTHS,
    **{
        territory: _REGISTRY_LENGTHS[country]
        for country, territories in _TERRITORIES.items()
        for territory in territories
    },
}
"""Every country's IBAN length: an IBAN is found only at its country's length."""


def by_form(text: str, spans: Sequence[PiiSpan]) -> list[PiiSpan]:
    """``spans`` (offsets in ``text``) with the checksum types' scores capped at
    ``UNUSUAL_FORM_SCORE`` where neither their form nor a nearby word says what they are,
    and without Git remotes read as e-mail addresses."""
    out: list[PiiSpan] = []
    for span in spans:
        kind, start, end = span["type"], span["start"], span["end"]
        if kind == "EMAIL_ADDRESS" and _git_remote(text, start, end):
            continue
        if (
            kind in _WORDS
            and span["score"] > UNUSUAL_FORM_SCORE
            and not (
                usual_form(kind, text[start:end])
                and not in_longer_run(text, start, end)
                and not (kind == "UK_NHS" and labelled(text, start))
            )
            and not word_near(kind, text, start, end)
        ):
            span = PiiSpan(type=kind, start=start, end=end, score=UNUSUAL_FORM_SCORE)
        out.append(span)
    return out


LINE_BREAK = re.compile(r"[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]")
"""What ``str.splitlines`` breaks a line at."""
_SPACE_IN_LINE = r"[^\S\n\r\v\f\x1c-\x1e\x85\u2028\u2029]*"
_LABEL = (
    r"(?:item|part|order|reorder|model|product|article|catalog|catalogue|ref|"
    r"reference|invoice|po|ticket|batch|sku)s?"
    rf"(?:{_SPACE_IN_LINE}(?:no\.?|nr\.?|number|num\.?|id))?{_SPACE_IN_LINE}:?{_SPACE_IN_LINE}"
)
_REFERENCE_LABEL = re.compile(rf"(?<![a-z]){_LABEL}\Z", re.IGNORECASE)
_LABEL_ALONE = re.compile(rf"{_SPACE_IN_LINE}{_LABEL}", re.IGNORECASE)
_LABEL_LINE_CHARS = 48
"""A line before a number this long or longer is no label alone on its line."""


WHOLE_TOKEN_TYPES = frozenset(
    {
        "MEDICAL_LICENSE",
        "UK_NHS",
        "US_BANK_NUMBER",
        "US_DRIVER_LICENSE",
        "US_ITIN",
        "US_PASSPORT",
        "US_SSN",
    }
)
"""Presidio's pattern types, whose numbers stand as a token of their own. Its DEA pattern
has no word boundary, so one hex digest in sixty holds a "medical licence"
("...ff2208658..."): a commit hash, a UUID or a digest must reach the model whole."""


def whole_tokens(text: str, spans: Sequence[PiiSpan]) -> list[PiiSpan]:
    """Presidio's ``spans`` without those of ``WHOLE_TOKEN_TYPES`` cut out of a longer
    token. Only for Presidio's findings: the gateway's own recognizers judge their
    edges themselves (a labelled number may touch its label: "SSN536228726"), and
    checksummed types (cards, IBANs, crypto addresses) do not pass by chance."""
    return [
        span
        for span in spans
        if span["type"] not in WHOLE_TOKEN_TYPES
        or not inside_token(text, span["start"], span["end"])
    ]


def inside_token(text: str, start: int, end: int) -> bool:
    """Whether a letter or digit touches the span on either side."""
    return (start > 0 and text[start - 1].isalnum()) or (end < len(text) and text[end].isalnum())


def labelled(text: str, start: int) -> bool:
    """Whether a word right before ``start`` names the number there as a reference of
    ordinary data: "Item 784-9912-16", "Order no. 12-3456-7890", "Part: 1234-567-890",
    or a form's "Part no.:" alone on the line before. Such a number is not in a phone's
    or an NHS number's usual setting: it scores at most ``UNUSUAL_FORM_SCORE`` unless a
    word naming the type is near (a phone word for a phone: ``gateway.pii.recognizers``).
    A sentence ending in such a word on the line before names nothing ("Thanks, we got
    your order" then a phone number)."""
    line = line_start(text, start, 24)
    if _REFERENCE_LABEL.search(text, line, start):
        return True
    return _label_line_before(text, start)


def _label_line_before(text: str, start: int) -> bool:
    """Whether ``text[start]`` starts its line (spaces aside) and the line before holds a
    reference label alone."""
    lo = max(0, start - _LABEL_LINE_CHARS)
    breaks = [(m.start(), m.end()) for m in LINE_BREAK.finditer(text, lo, start)]
    if not breaks or text[breaks[-1][1] : start].strip():
        return False
    end = breaks[-1][0]
    if text.startswith("\r\n", end - 1) and len(breaks) > 1 and breaks[-2][0] == end - 1:
        end -= 1  # one line break, written CR LF
        breaks.pop()
    if len(breaks) > 1:
        begin = breaks[-2][1]
    elif lo == 0:
        begin = 0
    else:
        return False  # the line before is longer than any label alone
    return _LABEL_ALONE.fullmatch(text, begin, end) is not None


def line_start(text: str, at: int, within: int) -> int:
    """Where the line holding ``text[at]`` starts, or ``at - within`` if later: words
    that make a number *less* likely an identifier count on its own line only (the line
    before may end in "your order", and a phone number starts the next)."""
    lo = max(0, at - within)
    for found in LINE_BREAK.finditer(text, lo, at):
        lo = found.end()
    return lo


def usual_form(kind: str, value: str) -> bool:
    """Whether ``value`` is written as an identifier of ``kind`` usually is (the table in
    the module docstring)."""
    if kind == "CREDIT_CARD":
        return _card_form(value)
    if kind == "UK_NHS":
        return _grouped(value, (_NHS_GROUPS,))
    if kind == "IBAN_CODE":
        return _iban_form(value)
    return False  # MEDICAL_LICENSE: no form tells a DEA number from a serial


def word_near(kind: str, text: str, start: int, end: int) -> bool:
    """Whether a word naming ``kind`` starts within ``NEAR`` characters of
    ``text[start:end]``, with no blank line in between."""
    lo = max(0, start - NEAR)
    blank = text.rfind("\n\n", lo, start)
    if blank >= 0:
        lo = blank + 2
    hi = min(len(text), end + NEAR)
    blank = text.find("\n\n", end, hi)
    if blank >= 0:
        hi = blank
    pattern = _WORDS[kind]
    return bool(pattern.search(text, lo, start) or pattern.search(text, end, hi))


def _git_remote(text: str, start: int, end: int) -> bool:
    """``git@<host>:<path>``: the account every Git host serves SSH remotes under
    (GitHub, GitLab, Bitbucket), not a mailbox."""
    return (
        text.startswith("git@", start)
        and text.startswith(":", end)
        and end + 1 < len(text)
        and not text[end + 1].isspace()
    )


def _card_form(value: str) -> bool:
    digits = sum(c.isdigit() for c in value)
    return _grouped(value, _CARD_GROUPS.get(digits, ()))


def in_longer_run(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]``, digit groups, continues a longer run of groups: after
    a group holding a digit, or before a group of four digits, with its separator
    ("DE12 3456 7890 1234 5678": the groups after "DE12" are no card, no phone)."""
    value = text[start:end]
    separator = next((c for c in value if c in " -"), None)
    if separator is None:
        return False
    before = _GROUP_BEFORE.search(text, max(0, start - 6), start)
    if before is not None and before.group(1) == separator:
        return True
    after = _GROUP_AFTER.match(text, end)
    return after is not None and after.group(1) == separator


def _groups(value: str) -> list[str] | None:
    """``value`` split by its one kind of separator (a space or a dash); None when it has
    none or both."""
    separators = set(_SEPARATED.findall(value))
    return value.split(separators.pop()) if len(separators) == 1 else None


def _grouped(value: str, shapes: tuple[tuple[int, ...], ...]) -> bool:
    """Whether ``value`` is digit groups of one of ``shapes``, split by one kind of
    separator (a space or a dash)."""
    groups = _groups(value)
    return (
        groups is not None
        and tuple(len(group) for group in groups) in shapes
        and all(group.isdigit() for group in groups)
    )


def _iban_form(value: str) -> bool:
    compact = "".join(value.split()).replace("-", "")
    if compact not in (compact.upper(), compact.lower()):
        return False
    if IBAN_LENGTHS.get(compact[:2].upper()) != len(compact):
        return False
    if compact == value:
        return True
    groups = _groups(value)
    return (
        groups is not None
        and all(len(group) == 4 for group in groups[:-1])
        and 0 < len(groups[-1]) <= 4
    )
