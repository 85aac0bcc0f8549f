"""Recognizers beyond Presidio's defaults, and the clean-up of its NER guesses.

* Payment cards: every brand's ranges (Visa 4, Mastercard 51-55 and 2221-2720, Amex
  34/37, Discover 6011/644-649/65, JCB 3528-3589, Diners 300-305/36/38-39, UnionPay 62,
  Maestro 50/56-69), 12 to 19 digits in any grouping with one kind of separator, Luhn
  checked. Presidio's pattern misses 2-series Mastercard and Amex's 4-6-5 grouping.
* Street addresses: ``pyap2`` (MIT, regex-based, US/CA/GB) parses the address when a
  cheap pattern (a house number, words, a street type) says one may be there.
* NER clean-up (``refine``): spaCy's guesses that hold a digit, an ``@`` or a path
  ("Visa 4193-7394-...", "v2.14.3", "LewisAbbott@teleworm.us") are trimmed to their
  word tokens or dropped; the structured recognizers cover what they overlapped.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from typing import Any, Literal

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
_CARD = re.compile(r"(?<![\w-])\d(?:[ -]?\d){11,18}(?![\w-])")

STREET_TYPES = (
    "street|st|avenue|ave|road|rd|lane|ln|drive|dr|boulevard|blvd|way|court|ct|place|pl|"
    "terrace|parkway|pkwy|highway|hwy|square|sq|circle|cir|crescent|close|grove|gardens|"
    "row|mews|walk|hill|alley|trail|plaza|loop|run|pike|path|view"
)
_STREET = re.compile(
    rf"\b\d{{1,6}}[A-Za-z]?\s+(?:[A-Z][\w'.-]*\s+){{0,4}}(?:{STREET_TYPES})\b\.?",
    re.IGNORECASE,
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
        for sub in re.finditer(r"(?=(\d(?:[ -]?\d){11,18}))", value):
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
    streets = list(_STREET.finditer(text))
    if not streets:
        return []
    pyap = _pyap()
    found: list[PiiSpan] = []
    parsed: list[tuple[int, int]] = []
    for country in ADDRESS_COUNTRIES:
        for address in pyap.parse(text, country=country):
            start, end = int(address.match_start), int(address.match_end)
            # pyap may start at an unrelated number ("order 778 shipped to 350 Fifth Ave").
            inner = [s.start() for s in streets if start <= s.start() < end]
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


_WORD = re.compile(r"\S+")
_NOT_A_NAME = re.compile(r"[\d@/\\_=<>{}\[\]#|~^*+]|://|\.\w")


def refine(text: str, spans: Sequence[PiiSpan]) -> list[PiiSpan]:
    """Trim NER spans to tokens that can be words of a name or place; drop empty ones."""
    out: list[PiiSpan] = []
    for span in spans:
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
