"""The pattern lane's faster inner loops give the spans and scores Presidio's gave."""

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.finetune import pii_patterns


def test_the_lane_scores_context_as_before_with_the_copy_skipped() -> None:
    """An IP address next to its context word still gets the raised score, and the
    score of the same match alone is not raised by the earlier call."""
    lane = pii_patterns.PatternAnalyzer(["IP_ADDRESS"])
    near, bare = lane.analyze(["the server IP address 10.1.2.3 today", "at 10.1.2.3 today"])
    assert near[0]["score"] > bare[0]["score"]
    assert lane.analyze(["at 10.1.2.3 today"])[0][0]["score"] == bare[0]["score"]


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
