"""Results no context word can change skip the enhancer: scores stay Presidio's own."""

import functools
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.finetune.pii_patterns import _FENCE, PatternAnalyzer


@functools.cache
def _lanes() -> tuple[PatternAnalyzer, PatternAnalyzer]:
    """The lane as built, and the same lane with Presidio's own enhancer and every
    pattern run (the reference)."""
    from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer

    reference = PatternAnalyzer(prefilter=False)
    reference.load()
    engine: Any = reference._engine
    engine.context_aware_enhancer = LemmaContextAwareEnhancer()
    return PatternAnalyzer(), reference


_PIECES = st.sampled_from(
    [
        " ", "  ", "\n", "\n\n", ", ", ": ", "-", ".", "#", "/", "(", ")", "::", "::1",
        "10.1.2.3", "192.168.0.1", "2001:db8::1", "Q3", "A1234567", "078-05-1120",
        "ann@example.com", "+1 415 555 0132", "123456789",
        "ip", "IP", "Ip", "pip", "ship", "ipv4", "ip:", "ip:10.0.0.1", "the:ip", "a:b",
        "license", "LIC", "public", "duplicate", "driver", "ssn", "account#", "email",
        "the", "and", "of", "be", "-PRON-", "zqx", "ZQX",
        "\u0130P", "\u03a3IP", "\u212aip", "\u0131p", "\uff49\uff50",
        _FENCE, _FENCE.strip(), "zqx zqx zqx",
    ]
)  # fmt: skip
_TEXT = st.lists(_PIECES, max_size=25).map("".join)


@settings(max_examples=250, deadline=None)
@given(st.lists(_TEXT, min_size=1, max_size=6))
def test_same_spans_and_scores_as_presidios_enhancer(texts: list[str]) -> None:
    """For identifiers among context words, look-alikes of them ("pip", "public"),
    words split at colons, case-folding oddities and the lane's own fence inside a
    text, the lane gives exactly the reference's spans and scores."""
    fast, reference = _lanes()
    assert fast.analyze(texts) == reference.analyze(texts)


def test_a_context_word_before_a_match_still_raises_its_score() -> None:
    """The skip leaves a result whose context word is near to the enhancer."""
    fast, _ = _lanes()
    (bare,) = fast.analyze(["version 10.1.2.3 today"])
    (near,) = fast.analyze(["server ip 10.1.2.3 today"])
    (after,) = fast.analyze([":: , ip"])  # the walk forward from a punctuation token
    (after_bare,) = fast.analyze([":: , up"])
    assert [s["score"] for s in near] > [s["score"] for s in bare]
    assert [s["score"] for s in after] > [s["score"] for s in after_bare]
