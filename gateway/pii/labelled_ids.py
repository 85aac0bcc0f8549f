"""Identifiers that only their label tells apart from any other number.

An SSN written without separators ("SSN: 536228726"), a US passport or a driver's
licence number is nine digits or a letter and digits, like an order or a customer
number. Presidio's patterns for them score 0.01 to 0.3, raised by 0.35 (to at least
0.4) by a context word anywhere in the five words before ("social", "security", "us",
"travel"...): under the upload policy's bar (0.5 for SSNs, 0.7 for the others), and
too loose to raise (a "security patch" or "social media" reach count is no SSN). Here
the label itself comes right before the number, on its line ("SSN: 536228726", "Social
Security No. 536228726", "passport number is 912803456", "Driver's license:
D1234567"), which names the number as surely as the separators of "536-22-8726" do.
A bank account number (8 to 17 digits, Presidio's US_BANK_NUMBER at 0.05 without
context) is named so by a label naming the bank or the account's kind.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from gateway.pii.presidio_import import import_presidio
from gateway.pii.types import PiiSpan

LABELLED_SCORE = 0.85
_LABELLED = re.compile(
    r"(?<![^\W\d_])(?:(?P<ssn>(?:(?:i?tin|ein)[ \t]*/[ \t]*)?ssn"
    r"(?:[ \t]*(?:/|or)[ \t]*(?:i?tin|ein))?"
    r"|ss\#|ss[ \t]*no\.?|social[ \t_-]*security|soc\.?[ \t]*sec\.?)"
    r"|(?P<passport>passport)"
    r"|(?P<licence>driver(?:'?s|s')?[ \t_-]*licen[cs]e|driving[ \t_-]*licen[cs]e|dl\#)"
    r"|(?P<bank>(?:bank|checking|chequing|savings)[ \t_-]*(?:account|acct|a/c)"
    r"(?=[ \t_-]*(?:number|num\.?|no\.?|nr\.?|\#)|[\"']?[ \t]*[:=\#])"
    r"|(?:bank|checking|chequing|savings)[ \t_-]*(?:acct|a/c)\.?(?=[ \t]+[0-9])"
    r"|(?:acct|a/c)\.?(?=[ \t_-]*(?:number|num\.?|no\.?|nr\.?|\#))))"
    r"(?:[ \t_-]*(?:number|num\.?|no\.?|nr\.?|\#))?(?:[ \t]*\([A-Z#/ ]{2,12}\))?[\"']?[ \t]*"
    r"(?:(?:is|was)[ \t]+|[:=\#|,-][ \t]*)?[\"']?"
    r"(?P<value>[0-9]{3}[ ][0-9]{2,3}[ ][0-9]{3,4}|[A-Z0-9][A-Z0-9-]{4,19})(?![\w-]|[.,][0-9])"
    r"(?![ \t]*(?:[$€£¥₹]|(?:usd|eur|gbp|chf|jpy|sek|nok|dkk|pln|inr|rs\.?|kr\.?|dollars?"
    r"|euros?|pounds?|rupees?|kronor|kroner|z[lł]oty)(?![a-z])))",
    re.IGNORECASE,
)
"""A label, then the number right after it on its line: written out or as a key in any
case ("Social Security No.", "social_security_number", "SocialSecurityNumber",
"passport-no", "DL#"), quoted as JSON's ("\"ssn\": \"536228726\""), before ":", "=", "#",
"-", a table's "|" or a CSV's ",". An SSN's label may name a TIN with it ("SSN/TIN:",
"SSN or TIN"). A bank account's label names the bank or the account's kind and is
followed by a number word or a key's ":", "=" or "#" ("Bank account number:",
"Checking acct #", "\"bank_account\":"), or abbreviates the account ("checking acct
40012345678"), or is "Acct" or "A/C" with a number word
("Acct. no.", "A/C No:"; "Acct:" alone is as often a ledger's): an account alone
("Customer 1234 and account 5678"), a CSV's next column ("Savings Account,20240131")
or an amount ("savings account 20000000 dollars", "Savings account: 25000000.00",
"...: 10000000 EUR") is no account number. A plural ("Total passports: 145000000") is a
count. A label's abbreviation may follow it in brackets ("Social Security Number (SSN):
536228726"); an SSN may be written with its dashes ("SSN536-22-8726"). An SSN or a
passport number may be written in three groups of digits with spaces ("SSN: 536 22
8726", "Passport: 912 803 456"), as forms print it."""
_SSN = re.compile(r"[0-9]{3}([- ]?)[0-9]{2}\1[0-9]{4}")
_PASSPORT = re.compile(r"[0-9]{9}|[A-Z][0-9]{8}", re.IGNORECASE)
_BANK_DIGITS = (8, 17)
"""A US bank account number's digits (Presidio's US_BANK_NUMBER pattern)."""
_LICENCE_DIGITS = 5
"""A driver's licence number has at least this many digits, in any state's format
("D1234567", "123456789", "A123-456-78-901-0", the UK's "MORGA753116SM9IJ")."""
_LABEL_WORDS = ("ssn", "ss#", "ss no", "soc", "passport", "licen", "dl#", "acct", "a/c", "account")
"""Every label holds one of these: a text without any (most) is passed after a lower-case
copy and a few substring searches, several times cheaper than a case-blind regex."""
LABELLED_TYPES = frozenset({"US_SSN", "US_PASSPORT", "US_DRIVER_LICENSE", "US_BANK_NUMBER"})


def find_labelled_ids(text: str, kinds: frozenset[str] = LABELLED_TYPES) -> list[PiiSpan]:
    """SSNs, US passport, driver's licence and bank account numbers (of ``kinds``)
    written right after their label."""
    lowered = text.lower()
    if not any(word in lowered for word in _LABEL_WORDS):
        return []
    found: list[PiiSpan] = []
    for match in _LABELLED.finditer(text):
        kind = _kind(match.group("value"), match)
        if kind in kinds:
            start, end = match.span("value")
            found.append(PiiSpan(type=kind, start=start, end=end, score=LABELLED_SCORE))
    return found


def _kind(value: str, match: re.Match[str]) -> str | None:
    """The identifier ``value`` is, by its label and its form; None when its form is
    not that label's (or is a number the SSA never issues)."""
    if " " in value and not (match.group("ssn") or match.group("passport")):
        return None  # three groups of digits: an SSN's or a passport's way of writing
    if match.group("ssn"):
        valid = _SSN.fullmatch(value) and not _ssn_recognizer().invalidate_result(value)
        return "US_SSN" if valid else None
    if match.group("passport"):
        return "US_PASSPORT" if _PASSPORT.fullmatch(value.replace(" ", "")) else None
    digits = sum(char.isdigit() for char in value)
    if match.group("bank"):
        low, high = _BANK_DIGITS
        return "US_BANK_NUMBER" if value.isdigit() and low <= digits <= high else None
    return "US_DRIVER_LICENSE" if digits >= _LICENCE_DIGITS and value[-1] != "-" else None


@functools.cache
def _ssn_recognizer() -> Any:
    """Presidio's SSN recognizer, for its check of numbers the SSA never issues."""
    import_presidio()
    from presidio_analyzer.predefined_recognizers import UsSsnRecognizer

    return UsSsnRecognizer()
