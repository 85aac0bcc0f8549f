"""``phone_matches`` finds exactly what ``phonenumbers.PhoneNumberMatcher`` finds."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.pii import phone_matcher
from gateway.pii.phone_matcher import phone_matches
from gateway.pii.recognizers import PHONE_REGIONS

# Pieces that make phone-like text hard: digits of several scripts, every separator
# the matcher knows, brackets, plus signs, extensions, time stamps, dates, letters
# glued to digits and words that change nothing.
_PIECES = st.sampled_from(
    [
        *"0123456789",
        "\u0663",  # Arabic-Indic three
        "\uff17",  # fullwidth seven
        "\u06f5",  # extended Arabic-Indic five
        " ",
        "-",
        ".",
        "/",
        "(",
        ")",
        "[",
        "]",
        "+",
        "\uff0b",
        "~",
        "\u2010",
        "\u00a0",
        ":",
        ":30",
        "x",
        "ext.",
        " ext ",
        "#",
        ",",
        ";",
        "\n",
        "a",
        "Z",
        "tel",
        "phone ",
        "call ",
        "page ",
        "pp. ",
        "2026-03-14",
        "12/31/2025",
        "3.12.4.1",
        "+1 ",
        "+44 20 ",
        "(555) ",
        "011 ",
        "555-0100",
        "07911 123456",
        "030 1234567",
        "1-800-",
        "12:45",
        "2026-03-14 12:45",
        "20260314 09",
        " 08",
        ":59",
    ]
)
_TEXT = st.lists(_PIECES, max_size=40).map("".join)


def _reference(text: str, region: str) -> list[tuple[int, int, bool]]:
    return [
        (found.start, found.end, phonenumbers.is_valid_number(found.number))
        for found in phonenumbers.PhoneNumberMatcher(
            text, region, leniency=phonenumbers.Leniency.POSSIBLE
        )
    ]


@settings(max_examples=400, deadline=None)
@given(_TEXT, st.sampled_from(PHONE_REGIONS))
def test_same_matches_as_phonenumbers(text: str, region: str) -> None:
    """Same spans, validity and order as the matcher, for any mix of phone-like pieces."""
    assert phone_matches(text, region) == _reference(text, region)


@settings(max_examples=100, deadline=None)
@given(st.lists(_TEXT, min_size=2, max_size=6), st.sampled_from(PHONE_REGIONS))
def test_remembered_verdicts_change_nothing(texts: list[str], region: str) -> None:
    """Verdicts remembered from other texts (the same candidates recur) give the same
    matches as the matcher on each text."""
    for text in texts:
        phone_matches(text, region)
    for text in texts:
        assert phone_matches(text, region) == _reference(text, region)


def test_a_budget_of_tries_too_small_falls_back_to_the_matcher(monkeypatch: object) -> None:
    """Where the matcher's budget of failed tries could run out, its own search runs."""
    import pytest

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    text = " ".join(["12-34"] * 30 + ["+1 415 555 0100"])
    monkeypatch.setattr(phone_matcher, "MAX_TRIES", 5)
    calls: list[str] = []
    original = phone_matcher._slow

    def slow(text: str, region: str) -> list[tuple[int, int, bool]]:
        calls.append(region)
        return original(text, region)

    monkeypatch.setattr(phone_matcher, "_slow", slow)
    assert phone_matches(text, "US") == _reference(text, "US")
    assert calls == ["US"]


@settings(max_examples=400, deadline=None)
@given(_TEXT, st.sampled_from(PHONE_REGIONS))
def test_candidates_settled_by_counting_digits_get_the_matchers_verdict(
    text: str, region: str
) -> None:
    """A candidate too short for the region gets what the matcher's own parsing gives:
    no match, and the same failed tries spent on groups inside it."""
    pattern = phone_matcher._matcher_module()._PATTERN
    for match in pattern.finditer(text):
        candidate = match.group()
        if not phone_matcher._too_short(candidate, region):
            continue
        matcher = phonenumbers.PhoneNumberMatcher(
            candidate, region, leniency=phonenumbers.Leniency.POSSIBLE, max_tries=100
        )
        assert matcher._extract_match(candidate, 0) is None
        assert phone_matcher._failed_tries(candidate) == 100 - matcher._max_tries


def test_short_candidates_are_settled_without_parsing() -> None:
    """Years, amounts and versions are too short for a US number: no parsing at all."""
    assert phone_matcher._too_short("2026", "US")
    assert phone_matcher._too_short("3.14.2", "US")
    assert not phone_matcher._too_short("555-0100", "US")  # seven digits: local-only
    assert not phone_matcher._too_short("+1 555", "US")
    assert not phone_matcher._too_short("0114", "US")  # the international prefix


@settings(max_examples=400, deadline=None)
@given(st.lists(_TEXT, max_size=8).map(" ".join), st.sampled_from(PHONE_REGIONS))
def test_the_matcher_spends_at_most_thirteen_tries_per_character(text: str, region: str) -> None:
    """The bound that lets short texts skip counting failed tries: the matcher's whole
    search of a text spends at most ``TRIES_PER_CHAR`` tries per character of it."""
    matcher = phonenumbers.PhoneNumberMatcher(
        text, region, leniency=phonenumbers.Leniency.POSSIBLE, max_tries=10**9
    )
    list(matcher)
    assert 10**9 - matcher._max_tries <= phone_matcher.TRIES_PER_CHAR * len(text)


def test_a_short_text_does_not_count_failed_tries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Versions and amounts too short to be a number cost no count of failed tries in a
    window-sized text, where the budget cannot run out; the matches are the matcher's."""
    calls: list[str] = []
    original = phone_matcher._failed_tries

    def counted(candidate: str) -> int:
        calls.append(candidate)
        return original(candidate)

    monkeypatch.setattr(phone_matcher, "_failed_tries", counted)
    text = "release 7.31.4.9 ships with 8.2.6 (build 55.17) and fixes 3.9.9.77"
    assert phone_matches(text, "GB") == _reference(text, "GB")
    assert calls == []


def _holds_a_date(candidate: str) -> bool:
    return "-" in candidate and any(c.isdigit() for c in candidate)


@settings(max_examples=400, deadline=None)
@given(_TEXT, st.sampled_from(PHONE_REGIONS))
def test_passed_over_candidates_lose_only_their_own_whole_matches(text: str, region: str) -> None:
    """Passing over candidates leaves out only matches of such a candidate whole: every
    other match is the matcher's, in its order."""
    ours = phone_matches(text, region, _holds_a_date)
    reference = _reference(text, region)
    left_out = [found for found in reference if found not in ours]
    assert [found for found in reference if found in ours] == ours
    for start, end, _ in left_out:
        assert _holds_a_date(text[start:end])
        assert phone_matcher._whole_or_none(text[start:end])


def test_dates_passed_over_are_not_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A plain date passed over costs no parse (not passed over, it is parsed, and in
    Germany it is a possible number)."""
    from phonenumbers import phonenumbermatcher

    parsed: list[str] = []
    original = phonenumbermatcher.parse  # type: ignore[attr-defined]

    def parse(number: str, *args: object, **kwargs: object) -> object:
        parsed.append(number)
        return original(number, *args, **kwargs)

    monkeypatch.setattr(phonenumbermatcher, "parse", parse)
    phone_matcher._verdict.cache_clear()
    assert phone_matches("shipped 2031-07-19, billed 2031-07-22", "DE", _holds_a_date) == []
    assert parsed == []
    assert phone_matches("shipped 2031-07-19, billed 2031-07-22", "DE") != []
    assert parsed != []
