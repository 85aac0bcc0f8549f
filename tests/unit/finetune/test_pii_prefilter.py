"""Presidio's patterns run only where they can match: same results as running them all."""

import functools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.finetune.pii_patterns import PatternAnalyzer
from gateway.finetune.pii_prefilter import CONDITIONS, TextChecks, condition

POLICY_TYPES = [
    "CREDIT_CARD", "CRYPTO", "EMAIL_ADDRESS", "IBAN_CODE", "IP_ADDRESS", "MEDICAL_LICENSE",
    "PHONE_NUMBER", "US_BANK_NUMBER", "US_DRIVER_LICENSE", "US_ITIN", "US_PASSPORT",
    "US_SSN", "UK_NHS",
]  # fmt: skip


@functools.cache
def _recognizers() -> dict[tuple[str, str], tuple[Any, Any]]:
    """Every pattern of the lane's Presidio recognizers, by (class, pattern name)."""
    lane = PatternAnalyzer(prefilter=False)
    lane.load()
    engine: Any = lane._engine
    return {
        (type(r).__name__, p.name): (r, p)
        for r in engine.registry.recognizers
        for p in getattr(r, "patterns", [])
    }


@functools.cache
def _lanes(types: tuple[str, ...] | None) -> tuple[PatternAnalyzer, PatternAnalyzer]:
    return PatternAnalyzer(types, prefilter=True), PatternAnalyzer(types, prefilter=False)


def test_every_condition_names_a_pattern_of_the_lane() -> None:
    """No condition is dead: each names a pattern Presidio's recognizers here have (an
    upgrade that renames one shows here)."""
    assert set(CONDITIONS) <= set(_recognizers())


@pytest.mark.parametrize("key", sorted(CONDITIONS))
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_each_condition_holds_inside_every_match_of_its_pattern(
    key: tuple[str, str], data: st.DataObject
) -> None:
    """Text built to hold a match of the pattern (and junk around it): every match the
    pattern finds also holds its condition, so leaving the pattern out where the
    condition fails loses nothing."""
    recognizer, pattern = _recognizers()[key]
    import regex  # type: ignore[import-untyped]

    compiled = regex.compile(pattern.regex, flags=recognizer.global_regex_flags)
    check = condition(recognizer, pattern)
    shared = condition(recognizer, pattern, TextChecks())
    assert check is not None
    assert shared is not None
    core = data.draw(st.from_regex(pattern.regex.replace("(?<![\\w:])", ""), fullmatch=True))
    noise = st.text(alphabet="0123456789abcdefABCDEF:@-./ \u0663\uff17x", max_size=12)
    text = data.draw(noise) + core + data.draw(noise)
    for match in compiled.finditer(text):
        assert check(match.group())
        assert shared(match.group())


class _Counted(TextChecks):
    def __init__(self) -> None:
        super().__init__()
        self.searched: list[str] = []

    def answer(self, key: tuple[str, int], text: str, check: Any) -> bool:
        def counted(text: str) -> bool:
            self.searched.append(key[0])
            found: bool = check(text)
            return found

        return super().answer(key, text, counted)


def test_conditions_share_their_searches_of_one_text() -> None:
    """The five conditions that need six digits in a row ask once for them in a text
    without, and a condition two patterns share is searched once per text."""
    shared = _Counted()
    wanting = [
        ("UsBankRecognizer", "Bank Account (weak)"),
        ("UsPassportRecognizer", "Passport (very weak)"),
        ("UsPassportRecognizer", "Passport Next Generation (very weak)"),
        ("UsLicenseRecognizer", "Driver License - Digits (very weak)"),
        ("MedicalLicenseRecognizer", "USA DEA Certificate Number (weak)"),
        ("UsSsnRecognizer", "SSN2 (very weak)"),
        ("UsSsnRecognizer", "SSN4 (very weak)"),
    ]
    checks = [condition(*_recognizers()[key], shared) for key in wanting]
    text = "Invoice 2024-88123 of 15.03.2026: 1,250.00 EUR, ref 12345."
    assert [check(text) if check else None for check in checks] == [False] * len(wanting)
    assert shared.searched == [r"\d{6}"]
    digits = "Account 12345678 at branch 0042."
    assert [check(digits) if check else None for check in checks[:3]] == [True, True, True]
    assert shared.searched[1:] == [r"\d{6}", "[0-9]{8}"]


_PIECES = st.sampled_from(
    [
        *"0123456789", "\u0663", "\uff17", " ", "-", ".", ":", "::", "/", "@", "\n", "#",
        "a", "Q", "x", "fe80", "ffff", "bc1", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
        "ann@example.com", "10.1.2.3", "2001:db8::1", "::ffff:10.0.0.1", "078-05-1120",
        "912-34-5678", "AB1234567", "A12345678", "123456789", "40123456", "D1234567",
        "943 476 5919", "IP ", "passport ", "ssn ", "account ", "license ", "DEA ",
    ]
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.lists(_PIECES, max_size=30).map("".join), min_size=1, max_size=5),
    st.sampled_from([None, tuple(POLICY_TYPES), ("IP_ADDRESS", "US_SSN")]),
)
def test_the_lane_finds_the_same_with_and_without_conditions(
    texts: list[str], types: tuple[str, ...] | None
) -> None:
    """Same spans and scores, in the same order, with the conditions as without, for
    any mix of identifier-like pieces, digits of other scripts and context words."""
    fast, full = _lanes(types)
    assert fast.analyze(texts) == full.analyze(texts)


_FLOOR_PIECES = st.sampled_from(
    [
        *"0123456789", " ", "-", ".", ":", "#", "\n", "a", "Q", "x", "\u0130", "\u212a",
        "Q3", "FY2026", "p99", "A1234567", "AB123456", "1234567A", "123456789", "12345678",
        "078-05-1120", "912-34-5678", "10.1.2.3", "3.14.2.7", "2001:db8::1",
        "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "ann@example.com", "943 476 5919",
        "license ", "LIC#", "public ", "driver ", "ssn ", "passport ", "IP ", "ships ",
        "account ", "DEA ", "itin ", "nhs ", "bitcoin ",
    ]
)  # fmt: skip


@functools.cache
def _floored(types: tuple[str, ...] | None, floor: float) -> PatternAnalyzer:
    return PatternAnalyzer(types, floor=floor)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.lists(_FLOOR_PIECES, max_size=30).map("".join), min_size=1, max_size=5),
    st.sampled_from([None, tuple(POLICY_TYPES)]),
    st.sampled_from([0.5, 0.7, 0.4, 0.3, 0.65]),
)
def test_with_a_floor_the_lane_finds_the_same_at_or_above_it(
    texts: list[str], types: tuple[str, ...] | None, floor: float
) -> None:
    """With a floor, the spans scoring at or above it are those Presidio's own
    recognizers (no condition, no floor) give, in the same order, for text full of
    licence look-alikes, context words and look-alikes of context words."""
    fast, full = _floored(types, floor), _lanes(types)[1]
    wanted = [[s for s in spans if s["score"] >= floor] for spans in full.analyze(texts)]
    assert [[s for s in spans if s["score"] >= floor] for spans in fast.analyze(texts)] == wanted


def test_a_floor_leaves_out_the_patterns_that_cannot_reach_it() -> None:
    """At the scan's 0.5, the very weak patterns never run, the weak licence pattern
    runs only where a context word occurs, and a validated pattern always runs."""
    from gateway.finetune.pii_prefilter import Floor, floor_condition

    floor = Floor(0.5, 0.35, 0.4)
    never = floor_condition(*_recognizers()[("UsSsnRecognizer", "SSN4 (very weak)")], floor)
    assert never is not None
    assert not never("ssn 123456789")
    licence = ("UsLicenseRecognizer", "Driver License - Alphanumeric (weak)")
    weak = floor_condition(*_recognizers()[licence], floor)
    assert weak is not None
    assert not weak("Q3 revenue")
    assert weak("LIC# A1234567")
    assert floor_condition(*_recognizers()[("CryptoRecognizer", "Crypto (Medium)")], floor) is None


def test_the_crypto_condition_holds_every_character_of_the_crypto_class() -> None:
    """Every code point the crypto pattern's class matches under its recognizer's flags
    (case folding brings in the Kelvin sign, a long s and a dotted capital I) is one the
    cheaper condition counts, so a run of the class is always a run of the condition."""
    import sys

    import regex

    recognizer, pattern = _recognizers()[("CryptoRecognizer", "Crypto (Medium)")]
    assert "[a-zA-HJ-NP-Z0-9]{25,59}" in pattern.regex
    klass = regex.compile("[a-zA-HJ-NP-Z0-9]", flags=recognizer.global_regex_flags)
    check = condition(recognizer, pattern)
    assert check is not None
    chars = [chr(c) for c in range(sys.maxunicode + 1) if klass.fullmatch(chr(c))]
    assert {"\u212a", "\u017f", "\u0130"} <= set(chars)
    for char in chars:
        assert check(char * 26), hex(ord(char))
    assert not check("a" * 25 + " " + "a" * 25)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(["a" * 13, "7" * 13, "_", "-", " ", "\u00a0", "\u3000", "\x1c", "\u0663"]),
        max_size=8,
    ).map("".join)
)
def test_the_alnum_run_condition_is_its_search(text: str) -> None:
    """Looking for a long whitespace-free token first changes no answer of the search for
    26 letters or digits in a row, whatever the whitespace (any script's)."""
    import re

    from gateway.finetune.pii_prefilter import alnum_run

    assert alnum_run(text) == (re.search(r"[^\W_]{26}", text) is not None)
