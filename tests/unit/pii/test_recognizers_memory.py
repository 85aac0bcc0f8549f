"""Phone matches of digit runs, remembered, are those found without the memory."""

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.pii import phone_matcher, recognizers
from gateway.pii.types import PiiSpan


def _phones_without_memory(text: str) -> list[PiiSpan]:
    """``find_phones`` as it was before digit runs' matches were remembered: every
    region over every run not wholly inside a valid match, a span's score the highest
    of its matches'."""
    if not recognizers._PHONE_HINT.search(text):
        return []
    best: dict[tuple[int, int], float] = {}
    valid_spans: list[tuple[int, int]] = []

    def match(region: str, lo: int, hi: int) -> None:
        for found in phonenumbers.PhoneNumberMatcher(
            text[lo:hi], region, leniency=phonenumbers.Leniency.POSSIBLE
        ):
            key = (lo + found.start, lo + found.end)
            valid = phonenumbers.is_valid_number(found.number)
            if valid:
                valid_spans.append(key)
            best[key] = max(best.get(key, 0.0), recognizers._phone_score(text, *key, valid))

    match(recognizers.PHONE_REGIONS[0], 0, len(text))
    for run in recognizers._DIGIT_RUN.finditer(text):
        if any(s <= run.start() and run.end() <= e for s, e in valid_spans):
            continue
        lo, hi = max(0, run.start() - 2), min(len(text), run.end() + 2)
        for region in recognizers.PHONE_REGIONS[1:]:
            match(region, lo, hi)
    return [
        PiiSpan(type="PHONE_NUMBER", start=s, end=e, score=v) for (s, e), v in best.items() if v > 0
    ]


_PHONE_PIECES = st.sampled_from(
    [
        "2026-08-15", "+44 20 7946 0958", "020 7946 0958", "(415) 555-0132", "4155550132",
        "0049 30 901820", "030 901820", "+91 98765 43210", "call", "tel:", "no.", "INV-",
        "$", "12,345.67", "1.2.3.4", " ", "; ", "x", "ext. 12", "0", "7", "-", "/", "(",
        "1999-12-31", "2026-3-4", "T10:00:00Z", "20260314", "0301-234-5678", ":",
    ]
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(st.lists(_PHONE_PIECES, max_size=14))
def test_remembered_digit_runs_find_the_same_phones(pieces: list[str]) -> None:
    """Phone spans and scores are those found without remembering digit runs, for any
    mix of numbers, dates, amounts and context words, including repeats of a run in
    other surroundings."""
    text = "".join(pieces)
    for variant in (text, "see " + text, text + " tel"):
        assert recognizers.find_phones(variant) == _phones_without_memory(variant)


def test_dates_are_parsed_in_the_first_region_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """A date scores nothing as a phone: after the first region, its digit run's
    candidates that are dates are not parsed (on business text, most of the phone cost)."""
    from phonenumbers import phonenumbermatcher

    parsed: list[str] = []
    original = phonenumbermatcher.parse  # type: ignore[attr-defined]

    def parse(number: str, region: str, *args: object, **kwargs: object) -> object:
        parsed.append(region)
        return original(number, region, *args, **kwargs)

    monkeypatch.setattr(phonenumbermatcher, "parse", parse)
    phone_matcher._verdict.cache_clear()
    recognizers._run_matches.cache_clear()
    assert recognizers.find_phones("shipped on 2031-07-19 and billed on 2031-08-22") == []
    assert set(parsed) == {recognizers.PHONE_REGIONS[0]}
