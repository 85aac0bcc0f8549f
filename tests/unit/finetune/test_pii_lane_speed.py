"""The PII lane's faster inner loops find exactly what the slower ones found."""

import copy
import re

import phonenumbers
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.finetune import pii_patterns, pii_scan
from gateway.finetune.examples import Example
from gateway.finetune.pii_scan import PiiScan
from gateway.pii import recognizers
from gateway.pii.types import PiiSpan

_BACKTRACKING_CANDIDATE = re.compile(r"\S*@\S*|\S*(?:[0-9]\S*){4}")
"""The candidate pattern before it was anchored: the reference for the equivalence."""

_CHARS = st.sampled_from(
    [*"ab@.-_/:+0123456789 \t\n", "\u00a0", "\u2003", "\u3000", "\uff11", "\u0663", "é"]
)


@settings(max_examples=300, deadline=None)
@given(st.text(_CHARS, max_size=80))
def test_candidate_tokens_are_the_backtracking_patterns(text: str) -> None:
    """The anchored candidate pattern matches the same spans as the backtracking one,
    whatever the mix of spaces, digits, ``@`` and non-ASCII characters."""
    ours = [m.span() for m in pii_scan._CANDIDATE.finditer(text)]
    reference = [m.span() for m in _BACKTRACKING_CANDIDATE.finditer(text)]
    assert ours == reference


def test_long_tokens_without_candidates_give_no_window() -> None:
    """A long token with three digits and no ``@`` is no candidate (and is read once)."""
    scan = PiiScan(None, 0.5, ner=False)  # type: ignore[arg-type]
    token = "x" * 5_000 + "1.2.3" + "y" * 5_000
    assert scan._all_pieces([Example(1, (token + " a4b5c6d7",))], False) == [
        (1, token[-39:] + " a4b5c6d7")
    ]


def test_the_enhancer_changes_results_in_place_instead_of_copying() -> None:
    """Presidio's deep copy of the results is skipped: the list handed in comes back."""
    results = pii_patterns._Owned([{"score": 0.4}])
    assert copy.deepcopy(results) is results


def test_the_lane_scores_context_as_before_with_the_copy_skipped() -> None:
    """An IP address next to its context word still gets the raised score, and the
    score of the same match alone is not raised by the earlier call."""
    lane = pii_patterns.PatternAnalyzer(["IP_ADDRESS"])
    near, bare = lane.analyze(["the server IP address 10.1.2.3 today", "at 10.1.2.3 today"])
    assert near[0]["score"] > bare[0]["score"]
    assert lane.analyze(["at 10.1.2.3 today"])[0][0]["score"] == bare[0]["score"]


def _phones_without_memory(text: str) -> list[PiiSpan]:
    """``find_phones`` as it was before digit runs' matches were remembered."""
    if not recognizers._PHONE_HINT.search(text):
        return []
    best: dict[tuple[int, int], float] = {}

    def match(region: str, lo: int, hi: int) -> None:
        for found in phonenumbers.PhoneNumberMatcher(
            text[lo:hi], region, leniency=phonenumbers.Leniency.POSSIBLE
        ):
            key = (lo + found.start, lo + found.end)
            if best.get(key, 0.0) >= 0.75:
                continue
            valid = phonenumbers.is_valid_number(found.number)
            best[key] = max(best.get(key, 0.0), recognizers._phone_score(text, *key, valid))

    match(recognizers.PHONE_REGIONS[0], 0, len(text))
    for run in recognizers._DIGIT_RUN.finditer(text):
        if any(s <= run.start() and run.end() <= e for s, e in best):
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


_LEMMAS = st.lists(
    st.sampled_from(
        ["the", "be", "-PRON-", "ip", "IP", "a:b", "ip:10.1.2.3", ":", "--", "(", "x", "é", "_",
         "Phone", "no.", "and", "zqx", "2026", "licence", "İ", "ß"]
    ),
    max_size=40,
)  # fmt: skip


@settings(max_examples=100, deadline=None)
@given(_LEMMAS)
def test_keywords_are_presidios(lemmas: list[str]) -> None:
    """The lane's keywords (each distinct lemma judged once) are Presidio's own."""
    from presidio_analyzer.nlp_engine import NlpArtifacts

    engine = pii_patterns._TokenNlpEngine()
    ours = engine._artifacts.set_keywords(engine, lemmas, "en")
    assert list(ours) == NlpArtifacts.set_keywords(engine, lemmas, "en")


def test_a_plan_of_the_gateways_own_types_only_needs_no_presidio_recognizer() -> None:
    """Types only the gateway's recognizers find (phone, card) are scanned; Presidio
    would refuse a request with none of its own types."""
    lane = pii_patterns.PatternAnalyzer(["PHONE_NUMBER", "CREDIT_CARD"])
    (spans,) = lane.analyze(["call 415 555 0132, card 4111 1111 1111 1111, ip 10.1.2.3"])
    assert {span["type"] for span in spans} == {"PHONE_NUMBER", "CREDIT_CARD"}


_ALL = pii_patterns.PatternAnalyzer()
_POLICY_TYPES = ["EMAIL_ADDRESS", "IP_ADDRESS", "PHONE_NUMBER", "US_DRIVER_LICENSE", "US_SSN"]
_TYPED = pii_patterns.PatternAnalyzer(_POLICY_TYPES)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ["ip", "address", "10.1.2.3", "driver", "license", "A1234567", "ssn", "078-05-1120",
             "ann@example.com", "call", "415 555 0132", "2026-08-15", "the", ",", "."]
        ),
        max_size=30,
    )
)  # fmt: skip
def test_a_typed_lane_finds_what_the_full_lane_finds_of_those_types(words: list[str]) -> None:
    """Asking Presidio for its own types only (and each recognizer list once) changes
    no span or score of the wanted types."""
    text = " ".join(words)
    (full,) = _ALL.analyze([text])
    (typed,) = _TYPED.analyze([text])
    assert typed == [span for span in full if span["type"] in _POLICY_TYPES]


def test_the_registry_answers_as_presidios_does() -> None:
    """The remembered recognizer list is the one Presidio's registry gives."""
    from presidio_analyzer import RecognizerRegistry

    _TYPED.load()
    registry = _TYPED._engine.registry
    for entities, all_fields in ((["IP_ADDRESS", "US_SSN"], False), (None, True)):
        ours = registry.get_recognizers("en", entities, all_fields)
        assert registry.get_recognizers("en", entities, all_fields) == ours
        theirs = RecognizerRegistry.get_recognizers(registry, "en", entities, all_fields)
        assert sorted(map(id, ours)) == sorted(map(id, theirs))
