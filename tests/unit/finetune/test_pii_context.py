"""Context words in the fine-tune lane: whole words just before a match.

The lane departs from Presidio on purpose: Presidio's enhancer matches a context word
as a substring of any nearby keyword ("ip" inside "pip"), the lane as a whole word or
the start of one among the match's token and the five words before it. These tests
check the cheap scan against that rule applied to the whole tokenised text, show the
departure, and check that where every context word is written whole the scores are
Presidio's own.
"""

import functools
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.finetune import pii_context
from gateway.finetune.pii_context import (
    MAX_LOOK_BACK,
    PREFIX_WORDS,
    TOKEN,
    context_parts,
    is_word,
    parts,
)
from gateway.finetune.pii_patterns import _FENCE, PatternAnalyzer


def _rule_parts(text: str, start: int) -> list[str]:
    """The rule as written: tokenise the text from ``MAX_LOOK_BACK`` before ``start`` on
    (the lane's cap: a token reaching further back is read from there); the match's own
    token is the first ending after ``start``; the five words (not stop words, not
    punctuation) before it."""
    tokens = list(TOKEN.finditer(text, max(0, start - MAX_LOOK_BACK)))
    own = next((i for i, t in enumerate(tokens) if t.end() > start), len(tokens))
    words = [t.group() for t in tokens[:own] if is_word(t.group())][-PREFIX_WORDS:]
    found = [part for word in words for part in parts(word)]
    if own < len(tokens):
        found.extend(parts(tokens[own].group()))
    return found


_PIECES = st.sampled_from(
    [
        " ", "  ", "\n", "\n\n", "\t", "\u00a0", ", ", ": ", "-", ".", "#", "/", "(", ")",
        "::", "10.1.2.3", "192.168.0.1", "2001:db8::1", "Q3", "A1234567", "078-05-1120",
        "ann@example.com", "+1 415 555 0132", "123456789", "ip", "IP", "pip", "ship",
        "ipv4", "ip:", "ip:10.0.0.1", "server_ip", "the", "and", "of", "be", "a", "it",
        "license", "LIC#", "public", "zqx", "x" * 150, "y" * 40 + "10.0.0.1",
        "\u0130P", "\u212aip", _FENCE,
    ]
)  # fmt: skip
_TEXT = st.lists(_PIECES, max_size=40).map("".join)


@settings(max_examples=300, deadline=None)
@given(_TEXT, st.data())
def test_the_scan_back_reads_the_words_the_rule_names(text: str, data: st.DataObject) -> None:
    """From any position (inside a token, at its start, in whitespace), the cheap walk
    back finds the parts the rule finds over the whole tokenised text, through long
    tokens, several kinds of whitespace and the lane's fence."""
    start = data.draw(st.integers(0, len(text)))
    assert context_parts(text, start) == _rule_parts(text, start)


def test_a_context_word_counts_whole_or_as_a_word_start() -> None:
    """ "ip" counts as a word, a part of one ("server_ip", "ip:") or a word's start
    ("IPs", "ipv4"); inside another word ("pip", "ship", "zip") it does not."""
    for text in ("server ip 1", "server_ip=1", "ip:1", "IPs 1", "ipv4 1"):
        assert pii_context.supports(context_parts(text, len(text) - 1), ["ip"]) == "ip"
    for text in ("pip 1", "ship 1", "the zip archive 1", "multiple 1"):
        assert pii_context.supports(context_parts(text, len(text) - 1), ["ip"]) is None


def test_a_context_phrase_counts_as_consecutive_words() -> None:
    """A context word of several words counts when they follow each other."""
    found = context_parts("the national health service number 943", 36)
    assert pii_context.supports(found, ["health authority", "national health service"]) == (
        "national health service"
    )
    assert pii_context.supports(found, ["service national"]) is None


def test_only_five_words_back_count() -> None:
    """A context word six words (stop words not counted) before the match is too far."""
    assert pii_context.supports(context_parts("ip a1 a2 a3 a4 10.1.2.3", 15), ["ip"])
    assert not pii_context.supports(context_parts("ip a1 a2 a3 a4 a5 10.1.2.3", 18), ["ip"])
    assert pii_context.supports(context_parts("ip the of and a1 a2 a3 a4 10.1.2.3", 26), ["ip"])


class _Tokens:
    """A tokenising NLP engine for Presidio's own enhancer (the reference): the lane's
    tokens, lower-cased as lemmas."""

    def process_text(self, text: str, language: str) -> Any:
        from presidio_analyzer.nlp_engine import NlpArtifacts

        tokens = list(TOKEN.finditer(text))
        return NlpArtifacts(
            entities=[],
            tokens=[t.group() for t in tokens],  # type: ignore[arg-type]
            tokens_indices=[t.start() for t in tokens],
            lemmas=[t.group().lower() for t in tokens],
            nlp_engine=self,
            language=language,
        )

    def is_stopword(self, word: str, language: str) -> bool:
        from spacy.lang.en.stop_words import STOP_WORDS

        return word.lower() in STOP_WORDS

    def is_punct(self, word: str, language: str) -> bool:
        return not any(c.isalnum() for c in word)

    def __getattr__(self, name: str) -> Any:
        return getattr(_lane()._engine.nlp_engine, name)


@functools.cache
def _lane() -> PatternAnalyzer:
    lane = PatternAnalyzer(prefilter=False)
    lane.load()
    return lane


@functools.cache
def _presidio() -> Any:
    """The lane's recognizers with Presidio's own enhancer over real tokens."""
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer

    engine: Any = _lane()._engine
    return AnalyzerEngine(
        nlp_engine=_Tokens(),  # type: ignore[arg-type]
        registry=engine.registry,
        supported_languages=["en"],
        context_aware_enhancer=LemmaContextAwareEnhancer(),
    )


def _scores(engine: Any, text: str) -> list[tuple[int, int, str, float]]:
    return sorted((r.start, r.end, r.entity_type, r.score) for r in engine.analyze(text, "en"))


def test_where_the_lane_departs_from_presidio() -> None:
    """Presidio lifts a version after "pip" or "zip" to an IP address with context; the
    lane does not, and lifts one after "IP" as Presidio does."""
    for text in ("pip install x==3.19.3.211 now", "the zip archive 1.2.3.4 now"):
        ours, theirs = _scores(_lane()._engine, text), _scores(_presidio(), text)
        assert [s[3] for s in ours] == [0.6]
        assert [s[3] for s in theirs] == [0.95]
    text = "the server IP 10.1.2.3 now"
    assert _scores(_lane()._engine, text) == _scores(_presidio(), text)


_WHOLE = st.sampled_from(
    [
        "ip", "IP", "ipv4", "address", "server", "the", "of", "and", ",", ".", "(", ")",
        "word", "10.1.2.3", "192.168.0.1", "ssn", "078-05-1120", "123-45-6789", "license",
        "A1234567", "DEA", "AB1234563", "nhs", "943 476 5919", "912-70-1234", "itin", "be",
    ]
)  # fmt: skip


@settings(max_examples=120, deadline=None)
@given(st.lists(_WHOLE, max_size=40))
def test_with_context_words_written_whole_scores_are_presidios(words: list[str]) -> None:
    """Where every context word is a whole token (no "pip", no "ip:"), the lane's spans
    and scores are those Presidio's own enhancer gives."""
    text = " ".join(words)
    assert _scores(_lane()._engine, text) == _scores(_presidio(), text)


def test_context_is_read_a_bounded_stretch_back() -> None:
    """Words further back than ``MAX_LOOK_BACK`` inside one run without spaces are not
    read: each match costs a bounded read, not one back to the run's start (a run of
    thousands of e-mail addresses made the scan quadratic)."""
    from gateway.finetune.pii_context import MAX_LOOK_BACK, context_parts

    near = "ip:" + "x" * 10 + ",1.2.3.4"
    far = "ip:" + "x" * (MAX_LOOK_BACK + 10) + ",1.2.3.4"
    assert "ip" in context_parts(near, len(near) - 7)
    assert "ip" not in context_parts(far, len(far) - 7)


_CONTEXTS = st.sampled_from(
    [("ip", "ipv4", "ipv6"), ("license", "driver"), ("health authority", "nhs"), ("ssn",)]
)


@settings(max_examples=300, deadline=None)
@given(_TEXT, _CONTEXTS, st.data())
def test_a_word_out_of_reach_never_counts(
    text: str, context: tuple[str, ...], data: st.DataObject
) -> None:
    """Where the cheap test finds no context word's last part in reach of a match, the
    walk back finds no context word either, from any position of any text."""
    start = data.draw(st.integers(0, len(text)))
    lasts = pii_context.last_parts(context)
    assert lasts is not None
    if not pii_context.in_reach(text, start, lasts):
        assert pii_context.supports(context_parts(text, start), context) is None


def test_matches_without_a_context_word_in_reach_are_not_walked_back(monkeypatch: Any) -> None:
    """Version numbers read as IP addresses, far from any "ip", cost no walk back; one
    next to "IP" is walked back and raised as before."""
    walks: list[int] = []
    real = pii_context.context_parts

    def counted(text: str, start: int) -> list[str]:
        walks.append(start)
        return real(text, start)

    monkeypatch.setattr(pii_context, "context_parts", counted)
    lane = PatternAnalyzer(["IP_ADDRESS"])
    far, near = lane.analyze(["release 3.12.4.1 ships today", "the server IP 10.1.2.3 now"])
    assert len(walks) == 1
    assert [s["score"] for s in far] == [0.6]
    assert [s["score"] for s in near] == [0.95]
