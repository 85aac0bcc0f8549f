"""The pattern-only PII lane: Presidio's pattern recognizers and the gateway's own,
without spaCy, and the policy's plan read strictly."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import DependencyUnavailable
from gateway.finetune.pii_patterns import PatternAnalyzer
from gateway.finetune.pii_plan import parse_plan

LANE = PatternAnalyzer()
TYPED = PatternAnalyzer(["EMAIL_ADDRESS"])


def _types(text: str, lane: PatternAnalyzer = LANE) -> set[tuple[str, str]]:
    return {(s["type"], text[s["start"] : s["end"]]) for s in lane.analyze([text])[0]}


def test_structured_identifiers_are_found_without_a_language_model() -> None:
    """E-mail, card, IBAN, phone and an IP address with its context word are found."""
    text = (
        "Mail ann.smith@example.com, card 4111 1111 1111 1111, "
        "IBAN DE89 3704 0044 0532 0130 00, call +1 415 555 0132; server IP address 10.1.2.3."
    )
    found = {kind for kind, _ in _types(text)}
    assert {"EMAIL_ADDRESS", "CREDIT_CARD", "IBAN_CODE", "PHONE_NUMBER", "IP_ADDRESS"} <= found


def test_context_words_raise_scores_as_in_presidio() -> None:
    """An IP address scores higher next to its context word than alone."""
    bare = LANE.analyze(["at 10.1.2.3 today"])[0]
    near = LANE.analyze(["the IP address 10.1.2.3 today"])[0]
    assert max(s["score"] for s in near if s["type"] == "IP_ADDRESS") > max(
        s["score"] for s in bare if s["type"] == "IP_ADDRESS"
    )


def test_only_wanted_types_are_reported() -> None:
    """A lane built for some types reports only those."""
    assert {kind for kind, _ in _types("ann@example.com 4111 1111 1111 1111", TYPED)} == {
        "EMAIL_ADDRESS"
    }


FLOORED = PatternAnalyzer(floor=0.5)
_RESTRICT_TYPES = ["EMAIL_ADDRESS", "PHONE_NUMBER", "US_SSN", "IP_ADDRESS", "UK_NHS"]


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "jo@example.com",
                "call",
                "212-555-0123",
                "SSN",
                "078-05-1120",
                "IP",
                "10.1.2.3",
                "4111 1111 1111 1111",
                "NHS",
                "943 476 5919",
                "word",
                "+44 20 7946 0958",
                ".",
            ]
        ),
        max_size=14,
    ),
    st.sets(st.sampled_from(_RESTRICT_TYPES), min_size=1),
)
def test_a_restricted_lane_finds_what_a_lane_built_for_its_types_finds(
    words: list[str], types: set[str]
) -> None:
    """The every-type lane restricted to some types (the worker's shared engine) reports
    what a lane built for those types at the same floor reports."""
    wanted = sorted(types)
    text = " ".join(words)
    built = PatternAnalyzer(wanted, floor=0.5)
    assert FLOORED.restricted(wanted).analyze([text]) == built.analyze([text])


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.sampled_from(["ann@example.com", "word", "4111 1111 1111 1111", "7", "."]), max_size=12
    ),
    st.integers(0, 40),
)
def test_batched_texts_give_each_text_its_own_spans(words: list[str], count: int) -> None:
    """Texts analysed together (joined behind fences) get the spans each gets alone."""
    texts = [" ".join(words[: (i % (len(words) + 1))]) for i in range(count % 6 + 1)]
    together = LANE.analyze(texts)
    alone = [LANE.analyze([text])[0] for text in texts]
    assert together == alone


@pytest.mark.parametrize(
    "result",
    [None, {"scan": True, "ner": False}, {"scan": "yes", "ner": False, "types": []},
     {"scan": True, "ner": False, "types": [1]}],
)  # fmt: skip
def test_a_malformed_plan_fails_closed(result: object) -> None:
    """A policy answer of the wrong shape is an unavailable dependency, never a guess."""
    with pytest.raises(DependencyUnavailable):
        parse_plan(result)


def test_a_plan_is_read_from_the_policy_answer() -> None:
    """The policy's types and NER flag become the plan."""
    plan = parse_plan({"scan": True, "ner": True, "types": ["PERSON"]})
    assert plan.types == ("PERSON",)
    assert plan.ner
