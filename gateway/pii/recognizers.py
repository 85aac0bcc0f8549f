"""Recognizers beyond Presidio's defaults, and the clean-up of its NER guesses.

* Payment cards: every brand's ranges (Visa 4, Mastercard 51-55 and 2221-2720, Amex
  34/37, Discover 6011/644-649/65, JCB 3528-3589, Diners 300-305/36/38-39, UnionPay 62,
  Maestro 50/56-69), 12 to 19 digits in any grouping with one kind of separator
  (space, dash or dot), Luhn checked. Presidio's pattern misses 2-series Mastercard
  and Amex's 4-6-5 grouping.
* IBANs: two letters (upper or lower case), two check digits, 11 to 30 letters or
  digits in any grouping, the ISO 7064 mod-97 check (compact, spaced, any country).
* Phone numbers: ``phonenumbers`` (Presidio's own dependency) over several regions at
  "possible" leniency, so national and international formats are found even when the
  number is not assigned; a valid number scores 0.75, a merely possible one 0.4.
* Street addresses: ``pyap2`` (MIT, regex-based, US/CA/GB) parses the address when a
  cheap pattern (a house number, then a capitalised word) says one may be there.
* NER clean-up (``refine``): spaCy's guesses that hold a digit, an ``@`` or a path
  ("Visa 4193-7394-...", "v2.14.3", "LewisAbbott@teleworm.us") are trimmed to their
  word tokens or dropped; the structured recognizers cover what they overlapped. A date
  right after "born", "birth" or "DOB" is a DATE_OF_BIRTH, not just a DATE_TIME.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import re
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal

import phonenumbers

from gateway.pii.identifier_forms import (
    IBAN_LENGTHS,
    LINE_BREAK,
    in_longer_run,
    labelled,
    word_near,
)
from gateway.pii.phone_labels import labelled_as_phone, whole_words
from gateway.pii.phone_matcher import phone_matches
from gateway.pii.presidio_import import import_presidio
from gateway.pii.types import NER_TYPES, PiiSpan

CARD_PREFIXES: tuple[tuple[int, int], ...] = (
    (4, 4),
    (51, 55),
    (2221, 2720),
    (34, 34),
    (37, 37),
    (6011, 6011),
    (644, 649),
    (65, 65),
    (3528, 3589),
    (300, 305),
    (36, 36),
    (38, 39),
    (62, 62),
    (50, 50),
    (56, 69),
)
_CARD = re.compile(r"(?<![\w.-])\d(?:[ .-]?\d){11,18}(?![\w-]|\.\d)")

_HOUSE = re.compile(r"\b(?:\d{1,6}[A-Za-z]?,?|Flat|Studio|Apartment|Unit|Suite)\s+[A-Z0-9]")
_OCCUPANCY = r"(?:Apt|Apartment|Suite|Ste|Unit|Flat|Studio|Room|Floor|Fl)\.?\s*\#?[A-Za-z0-9-]+"
_TAIL = (
    rf"(?:,?\s+{_OCCUPANCY})?"
    r"(?:,?\s+(?:[A-Z][A-Za-z'.-]*\s+){0,3}[A-Z][A-Za-z'.-]*"
    r"(?:,?\s+[A-Z]{2}\s+\d{5}(?:-\d{4})?|,?\s+[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}))?"
)


@functools.cache
def _street_pattern() -> re.Pattern[str]:
    """A house number (or a flat), up to four words and a USPS street type, then the
    occupancy, town and ZIP or UK postcode when they follow; street types from pyap2."""
    types = _pyap_data().street_types_re
    return re.compile(
        rf"\b(?:\d{{1,6}}[A-Za-z]?|{_OCCUPANCY}[,\s]+(?:\d{{1,6}}[A-Za-z]?)?)\s*"
        rf"(?:[A-Z][\w'.-]*\s+){{0,4}}(?:{types})\b\.?{_TAIL}",
        re.VERBOSE,
    )


ADDRESS_COUNTRIES: tuple[Literal["US", "GB", "CA"], ...] = ("US", "GB", "CA")


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def card_number(candidate: str) -> bool:
    """A payment card number: a known range, a plausible length, the Luhn check."""
    if len({c for c in candidate if not c.isdigit()}) > 1:
        return False
    digits = "".join(c for c in candidate if c.isdigit())
    if not 12 <= len(digits) <= 19 or len(set(digits)) < 2 or not luhn_valid(digits):
        return False
    for low, high in CARD_PREFIXES:
        width = len(str(low))
        if low <= int(digits[:width]) <= high:
            return True
    return False


def find_cards(text: str) -> list[PiiSpan]:
    found: list[PiiSpan] = []
    for match in _CARD.finditer(text):
        value = match.group()
        # A longer digit run may hold a card after a prefix ("Ref 12 4111 1111 1111 1111").
        if card_number(value):
            found.append(
                PiiSpan(type="CREDIT_CARD", start=match.start(), end=match.end(), score=1.0)
            )
            continue
        for sub in re.finditer(r"(?=(\d(?:[ .-]?\d){11,18}))", value):
            candidate = sub.group(1)
            if card_number(candidate) and (
                sub.start() == 0 or not value[sub.start() - 1].isdigit()
            ):
                start = match.start() + sub.start()
                found.append(
                    PiiSpan(type="CREDIT_CARD", start=start, end=start + len(candidate), score=1.0)
                )
                break
    return found


def _pyap_data() -> Any:
    _pyap()
    import pyap.source_US.data

    return pyap.source_US.data


def _pyap() -> Any:
    """pyap2's patterns hold invalid escapes: Python warns once, when it compiles them."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        import pyap
        import pyap.source_CA.data
        import pyap.source_GB.data
        import pyap.source_US.data
    return pyap


def find_addresses(text: str) -> list[PiiSpan]:
    """Street addresses: pyap2's parse where the street pattern fires, else the pattern."""
    if not _HOUSE.search(text):
        return []
    streets = list(_street_pattern().finditer(text))
    if not streets:
        return []
    pyap = _pyap()
    found: list[PiiSpan] = []
    parsed: list[tuple[int, int]] = []
    for country in ADDRESS_COUNTRIES:
        for address in pyap.parse(text, country=country):
            start, end = int(address.match_start), int(address.match_end)
            # pyap may start at an unrelated number ("order 778 shipped to 350 Fifth Ave").
            inner = [m.start() for m in _HOUSE.finditer(text, start, end)]
            if inner:
                start = max(start, min(inner))
            parsed.append((start, end))
    for street in streets:
        if not any(s <= street.start() < e for s, e in parsed):
            parsed.append((street.start(), street.end()))
    for start, end in parsed:
        value = text[start:end].rstrip(" ,.;")
        found.append(
            PiiSpan(type="STREET_ADDRESS", start=start, end=start + len(value), score=0.85)
        )
    return found


_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}(?:[ -]?[A-Za-z0-9]){11,30}(?![A-Za-z0-9])")


def iban_valid(candidate: str) -> bool:
    """ISO 13616: length 15-34, ISO 7064 mod-97-10 of the rearranged number is 1."""
    compact = "".join(c for c in candidate if c.isalnum()).upper()
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def find_ibans(text: str) -> list[PiiSpan]:
    """IBANs of a registered country at that country's length (``IBAN_LENGTHS``), mod 97.

    One random token in 97 passes mod 97: without the registry an order code
    ("VY90QKAY7EVEQQ") or a token and the words after it ("ZV188ZXWSKD2 was") would read
    as an account. The pattern is greedy ("DE89 3704 0044 0532 0130 00 by Friday"), so
    the candidate ends at the registered length, and a letter or digit right after it
    means a longer token, not an IBAN. An IBAN copied from a form or a URL may be written
    in lower case ("de89 3704 0044 0532 0130 00"); one of mixed case is no IBAN.
    """
    found: list[PiiSpan] = []
    for match in _IBAN.finditer(text):
        value = match.group()
        end = _registered_end(value)
        if end is None or (end < len(value) and value[end].isalnum()):
            continue
        start = match.start()
        if _written_as_an_iban(text, start, start + end) and iban_valid(value[:end]):
            found.append(PiiSpan(type="IBAN_CODE", start=start, end=start + end, score=1.0))
    return found


def _written_as_an_iban(text: str, start: int, end: int) -> bool:
    """Upper case; or lower case in groups, near a word naming an IBAN, or in its
    country's account format. A lower-case token of a country's length passes mod 97 one
    time in 97 ("ee40lel5bxf7qreocuck"); one in the format ("de" and 20 digits) is an
    IBAN copied from a URL or a form."""
    candidate = text[start:end]
    if candidate.isupper():
        return True
    if not candidate.islower():
        return False
    if any(c in candidate for c in " -") or word_near("IBAN_CODE", text, start, end):
        return True
    account_format = _account_formats().get(candidate[:2].upper())
    return account_format is not None and account_format.fullmatch(candidate.upper()) is not None


@functools.cache
def _account_formats() -> dict[str, re.Pattern[str]]:
    """Each country's IBAN as letters, digits or either at each place (Presidio's
    ``iban_patterns``: the registry's formats, about 80 countries)."""
    import_presidio()
    from presidio_analyzer.predefined_recognizers.generic import iban_patterns

    return {
        country: re.compile(pattern) for country, pattern in iban_patterns.regex_per_country.items()
    }


def _registered_end(value: str) -> int | None:
    """Where ``value`` holds as many letters and digits as its country's IBANs have."""
    length = IBAN_LENGTHS.get(value[:2].upper())
    count = 0
    for index, char in enumerate(value):
        count += char.isalnum()
        if count == length:
            return index + 1
    return None


RUN_CACHE_SIZE = 8_192
"""Digit runs whose matches are remembered (~4 MB when full of dates)."""
PHONE_REGIONS = ("US", "GB", "DE", "FR", "IN", "CA", "AU", "ES", "IT", "NL", "BR", "IL", "IE")
_GROUPING = {
    region: phonenumbers.Leniency.EXACT_GROUPING
    if region == "ES"
    else phonenumbers.Leniency.STRICT_GROUPING
    for region in PHONE_REGIONS
}
"""The grouping a number must be written in to be phone-shaped (``_grouped_as_phone``)."""
_PHONE_HINT = re.compile(r"(?:\d\D{0,3}){7}")
_PHONE_NOUNS = (
    r"phone|telephone|tel|mobile|cell|cellphone|fax|whatsapp|sms|hotline|"
    r"tel[eé]fono|telefon|telefone|telefoon|t[eé]l[eé]phone|t[eé]l|tlf|tfno|m[oó]vil|mobil|"
    r"mobiel|cel|celular|cellulare|(?:my|your|his|her|our|their)\s+number"
)
_PHONE_VERBS = r"call|calls|called|text|dial|ring|contact|reach"


_PHONE_CONTEXT = whole_words(f"{_PHONE_NOUNS}|{_PHONE_VERBS}")
"""Words that say a number near them is a phone, in English and in the languages of
``PHONE_REGIONS`` ("Móvil: 612 345 678", "Telefon 030 1234567"), and a person's number
("My number is 612 345 678"), as words of a key too ("phone_number", "mobileNumber")."""
_PHONE_NOUN = whole_words(_PHONE_NOUNS)
"""The words of ``_PHONE_CONTEXT`` that name a phone: only these make a number grouped
as thousands one ("API calls: 612 345 678", "the text has 712 345 678 tokens" are
counts)."""
_OTHER_NUMBER = re.compile(
    r"(?<![a-z])(?:isbn|issn|ean|upc|gtin|sku|asin|barcodes?|serial|tracking)(?![a-z])",
    re.IGNORECASE,
)
"""Words naming a number that is not a phone: a valid-looking number within 40 characters
after one scores at most 0.5 (an ISBN-10 "0306406152", a UPC "036000291452"), as does
one continuing a longer run of digit groups (``identifier_forms.in_longer_run``) or one
a reference word names ("Item 784-9912-16": ``identifier_forms.labelled``), unless it is
written with its country code ("+33 1 85 31 94 13": no part number starts with ``+``)."""
_BARE_PHONE_DIGITS = 12
"""Bare digit runs up to this long, written with a national trunk prefix ``0``, that are
valid numbers score as phones (a CRM export's "07911123456", "0301234567"); longer ones,
and those without the ``0`` ("2025550143": as much an order, customer or PO number, an
ISBN-10 or a UPC), need a ``+`` or a phone word."""
_MIN_PHONE_DIGITS = 5
"""Fewer digits are no subscriber's number: ``phonenumbers`` finds "(41" of "712345678
(41%)" possible in Germany."""
_DELIMITERS = ",;|&()[]{}<>\"'`"
_KEY_ENDS = ":="
_KEY = re.compile(r"(?<![^\W_])[^\W\d_][\w.-]{0,31}\Z")
"""A key written tight before its number: a letter, then letters, digits, "_", "." or
"-" ("Tel", "Tel.", "tel2", "phone_number", "Telefon-Nr.", "Anna")."""
_PHONE_KEY = re.compile(
    r"(?:(?<![^\W\d_])(?i:tel|telephone|telefon|tel[eé]fono|telefone|telefoon|t[eé]l[eé]phone|"
    r"t[eé]l|phone|ph|mobile|mobil|mobiel|m[oó]vil|mob|cel|cell|cellphone|cellulare|celular|"
    r"handy|portable|fax|msisdn|whatsapp|viber|callto|facetime|sms|tlf|tfno)"
    r"|(?<=[a-z])(?:Tel|Phone|Mobile|Cell|Fax))"
    r"(?i:[_.-]?(?:no|nr|num|number|nummer|numero|n[uú]mero|[0-9]{1,2}))?\.?\Z"
)
"""A key naming a phone (``_KEY``), in English or in the languages of ``PHONE_REGIONS``,
abbreviated, numbered or in a compound ("Tel.", "tel2", "home_phone", "mobileNumber",
"Telefon-Nr."): the number written tight after its ":", "=" or abbreviating "." is a
phone ("Tel.:07911 123456", "Mob.07911 123456", "tel2:+14155552671")."""
_DIAL_LINK = re.compile(r"(?<![\w.-])(?:wa|t)\.me/\Z", re.IGNORECASE)
"""WhatsApp's and Telegram's links to a chat with a number: "wa.me/447911123456",
"t.me/+447911123456"."""
_TOKEN_REACH = 64
"""How far a token is followed either side of a number: what is longer is no phone's
setting, and an unbounded walk made long lines without spaces quadratic."""
_TOKEN_EDGE = re.compile(r"(?:[^\s,;|&()\[\]{}<>\"'`.?]|\.(?!\.))*")
"""The rest of a number's token: up to a space, a delimiter, an ellipsis or a "?" (a
link's query after the number: "wa.me/447911123456?text=Hi")."""

_SEPARATED = re.compile(r"[ ().-]")
_DAY = r"(?:0?[1-9]|[12][0-9]|3[01])"
_MONTH = r"(?:0?[1-9]|1[0-2])"
_YEAR = r"(?:19|20)[0-9]{2}"
_DATE_OR_TIME = re.compile(r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}/\d{1,2}/\d{2,4}|:")
"""A date or a time in a candidate: ISO ("2021-02-14"), slashed ("14/02/2021"), or a
clock's ":"."""
_CALENDAR_DATE = re.compile(
    rf"(?<![0-9]){_DAY}([.-]){_MONTH}\1{_YEAR}(?![0-9])"
    rf"|(?<![0-9]){_MONTH}([.-]){_DAY}\2{_YEAR}(?![0-9])"
    rf"|(?<![0-9]){_YEAR}([./]){_MONTH}\3{_DAY}(?![0-9])"
)
"""A calendar date with a four-digit year written with dots or dashes, day or month
first ("14.02.2021", "02-14-2021") or year first ("2021.02.14"). Europe writes dates
so, and eight digits in 2-2-4 groups pass as a valid number in several regions; a number
written with its country code ("+49", "0049") is a phone whatever its groups ("+49 30
12.03.2001")."""


def _holds_date(candidate: str) -> bool:
    """Whether ``candidate`` holds a date or a time, so scores 0 as a phone."""
    if _DATE_OR_TIME.search(candidate):
        return True
    dialled_abroad = candidate.lstrip().startswith(("+", "00"))
    return not dialled_abroad and _CALENDAR_DATE.search(candidate) is not None


_DECIMAL = re.compile(r"^\d+[.,]\d{1,2}$")
_THOUSANDS = re.compile(r"[1-9][0-9]{0,2}([ .,])[0-9]{3}(?:\1[0-9]{3})*")
"""A number grouped as thousands are ("612 345 678", "712.345.678"): Spain writes its
nine-digit numbers so, and much of Europe its amounts and counts ("Revenue: 612 345 678
EUR"). Likely, not certain, unless a word naming a phone (``_PHONE_NOUN``) or a phone key
is before it."""
_ZIP_PLUS_FOUR = re.compile(r"[0-9]{5}-[0-9]{4}")
"""A US ZIP+4 code ("94105-1804"). A third of them are valid Spanish numbers, whose
groups ("941 05 18 04") join to 5-4, and no region writes a phone number as five
digits, a dash and four: not a phone even with a phone word near ("Contact: CA
94105-1804", which the US reads as a possible number)."""
_RANGE = re.compile(r"^(\d{2,5}) ?[-\u2013] ?(\d{2,5})$")
"""Two digit groups of one length joined by a hyphen or an en dash, the second larger:
a range ("2019-2023", "RFC 2616-2617", "1000-2000 times"). No configured region writes
a whole phone number as two equal groups, and some (Germany's open numbering) accept
almost any eight digits as valid."""


def _phone_score(text: str, start: int, end: int, valid: bool) -> float:
    """0 for what only looks like a number inside something else, else a confidence."""
    value = text[start:end]
    digits = sum(c.isdigit() for c in value)
    # Part of a longer token: a hash, a UUID, "INV-96317514", "1Z6541...", "T01:15".
    international = value.startswith("+")
    # Written as a phone, with a "+" or in phone groups: a key's ":" or "=" before it ends
    # its token ("Anna:07911 123456"); a bare run stays one with it ("id=06260181590").
    keyed = international or (
        valid and _SEPARATED.search(value) is not None and _phone_shaped(value)
    )
    left = _token_start(text, start, keyed)
    right = _TOKEN_EDGE.match(text, end, end + _TOKEN_REACH)
    token = text[left:start] + value + (right.group() if right else "")
    letters = re.sub(r"(?i)ext\.?|x", "", re.sub(r"[^A-Za-z]", "", token))
    if letters or digits < _MIN_PHONE_DIGITS or _holds_date(value) or _DECIMAL.match(value.strip()):
        return 0.0
    if _a_range(value.strip()):
        return 0.0
    if _sign_before(text, start) in ("$", "€", "£", "¥", "#"):
        return 0.0
    formatted = international or any(c in value for c in " -.()/")
    score = 0.75 if valid else 0.4
    grouped_otherwise = False
    if not formatted and digits < 10:
        # A bare short digit run: an order or build number, unless a phone's label names
        # it ("Teléfono: 612345678", "Tel:612345678"; a mention of a call does not).
        score = 0.4 if valid and _named_as_phone(text, start) else 0.3
    elif valid and formatted and not international and not _phone_shaped(value):
        # Valid in some region, but grouped as no phone number is (a version
        # "10.0.19041.1", a ticket "2024-118934", a build "19045.3803"): likely, not
        # certain. A phone word nearby does not make it one ("the handler is called
        # 2024-118934 times", "contact the team; ticket 2024-118934").
        score = 0.5
        grouped_otherwise = True
    elif valid and not formatted and (digits > _BARE_PHONE_DIGITS or not value.startswith("0")):
        # Longer than a national number written bare (an EAN, an account), or bare
        # without the trunk prefix most regions dial national numbers with: a customer,
        # order or PO number, an ISBN-10 or a UPC is as likely.
        score = 0.5
    thousands = not international and _THOUSANDS.fullmatch(value) is not None
    if thousands:
        score = min(score, 0.5)  # a phone noun still makes it one ("Móvil: 612 345 678")
    if _ZIP_PLUS_FOUR.fullmatch(value):
        score = min(score, 0.5)
        grouped_otherwise = True  # no phone word makes it one ("Contact: CA 94105-1804")
    # A national number dialled with its trunk prefix and grouped as a phone ("07700
    # 900123", "020 7946 0958") is how people write phones, not parts: a label before it
    # ("Customer ref:", "Order no.") is a customer keyed by their number.
    dialled = valid and value.lstrip("(").startswith("0") and _phone_shaped(value)
    if (
        _OTHER_NUMBER.search(text, max(0, start - 40), start)
        or (labelled(text, start) and not international and not dialled)
        or (formatted and in_longer_run(text, start, end))
    ):
        score = min(score, 0.5)
    if (
        not grouped_otherwise
        and _groups_as_a_phone_can(value)
        and (
            (_PHONE_NOUN if thousands else _PHONE_CONTEXT).search(text, max(0, start - 40), start)
            or _phone_key_before(text, start)
        )
    ):
        score = min(1.0, score + 0.35)
    return score


def _named_as_phone(text: str, start: int) -> bool:
    """Whether a phone key is tight before ``text[start]`` or a label names the number
    there as a phone (``gateway.pii.phone_labels``)."""
    return _phone_key_before(text, start) or labelled_as_phone(text, start)


def _sign_before(text: str, at: int) -> str:
    """The last character before ``text[at]`` on its line, spaces passed over ("" when
    none): "$ 1234567" is an amount, a "$" ending the line before is not its sign."""
    while at and text[at - 1].isspace() and not LINE_BREAK.match(text[at - 1]):
        at -= 1
    return text[at - 1] if at and not text[at - 1].isspace() else ""


def _token_start(text: str, at: int, keyed: bool = False) -> int:
    """Where the token ending at ``text[at]`` starts (``_TOKEN_EDGE``'s characters, back
    to a space or a delimiter; ``at`` when none). A phone key right before ``at``
    (``_phone_key_before``) ends a token too: "Tel:07911 123456", "tel:+14155552671",
    "Mob.07911 123456" and "mobile=+44..." are a label and a number, as with a space
    between; so does any key's ":" or "=" when the number is ``keyed`` (written as a
    phone: "Anna:07911 123456"), and an ellipsis ("call me...07911 123456"). A bare
    number stays one token with another key ("id=6260181590", "T01:15", "2001:db8::1")."""
    if text.endswith("..", 0, at) or _phone_key_before(text, at):
        return at
    if keyed and at > 1 and text[at - 1] in _KEY_ENDS:
        key = _KEY.search(text, max(0, at - 33), at - 1)
        if key and key.group()[-1].isalpha():
            return at
    start, stop = at, max(0, at - _TOKEN_REACH)
    while start > stop and not (text[start - 1].isspace() or text[start - 1] in _DELIMITERS):
        start -= 1
    return start


def _phone_key_before(text: str, at: int) -> bool:
    """Whether a key naming a phone (``_PHONE_KEY``) is written tight before ``text[at]``,
    with its ":" or "=" ("Tel:", "tel2=", "Tel.:") or abbreviated by a "." ("Mob."), or
    a link that dials the number after it ("wa.me/447911123456")."""
    if at < 2:
        return False
    if text[at - 1] == "/":
        return _DIAL_LINK.search(text, max(0, at - 6), at) is not None
    end = at - 1 if text[at - 1] in _KEY_ENDS else at
    if end == at and text[at - 1] != ".":
        return False
    key = _KEY.search(text, max(0, end - 32), end)
    return key is not None and _PHONE_KEY.search(key.group()) is not None


def _groups_as_a_phone_can(value: str) -> bool:
    """No digit group after the first is a single digit: "1-800-555-0199" and "555 1234"
    can be phones, a version "10.0.19041.1" near "API calls" cannot."""
    return all(len(group) > 1 for group in re.findall(r"\d+", value)[1:])


def _a_range(value: str) -> bool:
    found = _RANGE.match(value)
    if found is None:
        return False
    low, high = found.groups()
    return len(low) == len(high) and int(low) < int(high)


def _phone_shaped(value: str) -> bool:
    """Grouped as a phone number, and not as a decimal: one dot alone between two digit
    runs is a build or a measurement ("97367.5454"), never how a phone is written."""
    if value.count(".") == 1 and value.replace(".", "").isdigit():
        return False
    return _grouped_as_phone(value)


@functools.lru_cache(maxsize=RUN_CACHE_SIZE)
def _grouped_as_phone(value: str) -> bool:
    """Whether ``value`` is, whole, a valid number of some region whose digit groups
    stay within that region's formatting groups (phonenumbers' ``STRICT_GROUPING``:
    "650 253 0000" or "650 2530000", not "65 02 53 00 00"), and that does not start with
    the region's calling code without a ``+`` or ``00`` ("4930-9275-3894" read as
    +49 30 92753894, "9178-3646-1616" as +91: how serial and receipt numbers are grouped,
    not how anyone writes a phone number).

    Spain alone is held to its own groups or one block (``EXACT_GROUPING``: "941 05 18
    04", "612 345 678", "941051804"): its nine-digit numbers have no trunk prefix, so
    strict grouping took a third of all nine-digit figures written in two dash-joined
    groups ("98-7654321" as an EIN, "123-456789", "1234567-89") for Spanish numbers,
    and nobody writes one so. Elsewhere the area code and the rest in one block is how
    people write numbers ("050-1234567" in Israel, "347 1234567" in Italy, "020-1234567"
    in the Netherlands), which exact grouping would not take."""
    return any(
        match.start == 0
        and match.end == len(value)
        and phonenumbers.parse(value, region, keep_raw_input=True).country_code_source
        != phonenumbers.CountryCodeSource.FROM_NUMBER_WITHOUT_PLUS_SIGN
        for region in PHONE_REGIONS
        for match in phonenumbers.PhoneNumberMatcher(value, region, leniency=_GROUPING[region])
    )


def find_phones(text: str) -> list[PiiSpan]:
    """Numbers ``phonenumbers`` finds in any of ``PHONE_REGIONS``, deduplicated.

    The whole text is matched once as US (NANP and every ``+`` number); the other
    regions only look at the digit runs that pass left without a valid match, so the
    cost does not grow with the number of regions for ordinary text; their matches are
    remembered per run (``_run_matches``). (A run the US reads as a possible but invalid
    number, "0301234567", is still looked at: it may be valid in Germany.)
    """
    if not _PHONE_HINT.search(text):
        return []
    best: dict[tuple[int, int], float] = {}
    scored: set[tuple[int, int, bool]] = set()

    def match(lo: int, found: Iterable[tuple[int, int, bool]]) -> None:
        for start, end, valid in found:
            key = (lo + start, lo + end)
            if (*key, valid) in scored:
                continue  # the same span, as valid or not, scores the same again
            scored.add((*key, valid))
            best[key] = max(best.get(key, 0.0), _phone_score(text, *key, valid))

    first = _matches(text, PHONE_REGIONS[0])
    match(0, first)
    covered = _Cover([(start, end) for start, end, valid in first if valid])
    for run in _DIGIT_RUN.finditer(text):
        if covered.holds(run.start(), run.end()):
            continue  # wholly matched already; a partial match ("001-319" of a longer run) is not
        lo, hi = max(0, run.start() - 2), min(len(text), run.end() + 2)
        match(lo, _run_matches(text[lo:hi]))
    return [
        PiiSpan(type="PHONE_NUMBER", start=s, end=e, score=v) for (s, e), v in best.items() if v > 0
    ]


class _Cover:
    """Spans, asked whether one of them holds a range: a binary search over their starts
    and the furthest end reached so far (a scan of every span per digit run made a
    table of numbers quadratic). Only the first region's valid matches are asked about:
    a later region's match lies within two characters of its own run, too short to hold
    another run of seven digits."""

    def __init__(self, spans: list[tuple[int, int]]) -> None:
        spans.sort()
        self._starts = [start for start, _ in spans]
        self._reach = list(itertools.accumulate((end for _, end in spans), max))

    def holds(self, start: int, end: int) -> bool:
        index = bisect.bisect_right(self._starts, start) - 1
        return index >= 0 and self._reach[index] >= end


def _matches(
    text: str, region: str, passed_over: Callable[[str], bool] | None = None
) -> list[tuple[int, int, bool]]:
    """``phonenumbers``' matches in ``text`` for ``region``: where, and whether valid
    (each candidate judged once: ``gateway.pii.phone_matcher``)."""
    return phone_matches(text, region, passed_over)


@functools.lru_cache(maxsize=RUN_CACHE_SIZE)
def _run_matches(piece: str) -> tuple[tuple[int, int, bool], ...]:
    """The distinct matches of a digit run (with two characters either side) in the
    regions after the first, remembered: they depend on these few characters only, and
    the same dates, amounts and reference numbers recur across an upload's windows (a
    ``YYYY-MM-DD`` date passes for a number in several regions and was parsed 12 times
    per occurrence). A span's score is the highest over its matches, whatever their
    order of finding or repeats, so the regions' matches are kept once each, in the
    order first found (the order spans are reported in)."""
    return tuple(
        dict.fromkeys(
            found
            for region in PHONE_REGIONS[1:]
            # A match holding a date or a time scores 0 wherever it stands: passed over
            # (parsing dates in every region was most of the phone cost on business text).
            for found in _matches(piece, region, _holds_date)
        )
    )


_DIGIT_RUN = re.compile(r"[+(]?\d(?:[\d\s().\-/]{0,3}\d){6,}(?:\s*(?:x|ext\.?)\s*\d{1,6})?", re.I)
_BIRTH = re.compile(r"\b(?:born|birth|birthday|dob|d\.o\.b\.?|geboren)\b", re.IGNORECASE)
_WORD = re.compile(r"\S+")
_NOT_A_NAME = re.compile(r"[\d@/\\_=<>{}\[\]#|~^*+]|://|\.\w")


def refine(text: str, spans: Sequence[PiiSpan]) -> list[PiiSpan]:
    """Trim NER spans to tokens that can be words of a name or place; drop empty ones."""
    out: list[PiiSpan] = []
    for span in spans:
        if span["type"] == "DATE_TIME" and _BIRTH.search(
            text, max(0, span["start"] - 30), span["start"]
        ):
            out.append(
                PiiSpan(
                    type="DATE_OF_BIRTH", start=span["start"], end=span["end"], score=span["score"]
                )
            )
            continue
        if span["type"] not in NER_TYPES or span["type"] == "DATE_TIME":
            out.append(span)
            continue
        words = [
            m
            for m in _WORD.finditer(text, span["start"], span["end"])
            if not _NOT_A_NAME.search(m.group())
        ]
        if not words or not any(c.isalpha() for w in words for c in w.group()):
            continue
        # Keep the longest run of consecutive clean words.
        runs: list[list[Any]] = [[words[0]]]
        for word in words[1:]:
            gap = text[runs[-1][-1].end() : word.start()]
            if gap.strip() == "" or gap.strip() in {",", "-", "."}:
                runs[-1].append(word)
            else:
                runs.append([word])
        best = max(runs, key=lambda run: run[-1].end() - run[0].start())
        start, end = best[0].start(), best[-1].end()
        while end > start and not text[end - 1].isalnum():
            end -= 1
        if end > start:
            out.append(PiiSpan(type=span["type"], start=start, end=end, score=span["score"]))
    return out
