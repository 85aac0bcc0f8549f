import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.redaction.apply import redact
from gateway.redaction.placeholders import Placeholders
from gateway.redaction.restore_stream import StreamRestorer
from gateway.redaction.rules import InvalidRules, Operator, RedactionRules

TEXT = "Call Maria Gonzales at +1 415 555 0134 or maria@globex.example today."
SPANS = [
    {"type": "PERSON", "start": 5, "end": 19, "score": 0.85},
    {"type": "PHONE_NUMBER", "start": 23, "end": 38, "score": 0.75},
    {"type": "EMAIL_ADDRESS", "start": 42, "end": 62, "score": 1.0},
]
RULES = RedactionRules(default="replace", entities={"PHONE_NUMBER": "mask", "PERSON": "replace"})


def test_spans_are_replaced_by_typed_placeholders() -> None:
    """Each span becomes its operator's output; the rest of the text is untouched."""
    result = redact(TEXT, SPANS, RULES, Placeholders(b"k"))
    assert result.text == ("Call <PERSON_1> at *************** or <EMAIL_ADDRESS_1> today.")
    assert result.summary() == [
        {"entity_type": "EMAIL_ADDRESS", "operator": "replace", "count": 1},
        {"entity_type": "PERSON", "operator": "replace", "count": 1},
        {"entity_type": "PHONE_NUMBER", "operator": "mask", "count": 1},
    ]


def test_same_value_same_placeholder_across_texts() -> None:
    """Within one conversation a value keeps its placeholder; a new value gets the next."""
    placeholders = Placeholders(b"k")
    rules = RedactionRules()
    first = redact(
        "Maria met Peter.",
        [{"type": "PERSON", "start": 0, "end": 5}, {"type": "PERSON", "start": 10, "end": 15}],
        rules,
        placeholders,
    )
    second = redact("Peter again", [{"type": "PERSON", "start": 0, "end": 5}], rules, placeholders)
    assert first.text == "<PERSON_1> met <PERSON_2>."
    assert second.text == "<PERSON_2> again"


def test_keep_and_hash_operators() -> None:
    """keep leaves the value; hash is keyed and stable for the same key."""
    rules = RedactionRules(default="keep", entities={"EMAIL_ADDRESS": "hash"})
    a = redact(TEXT, SPANS, rules, Placeholders(b"key-1"))
    b = redact(TEXT, SPANS, rules, Placeholders(b"key-1"))
    c = redact(TEXT, SPANS, rules, Placeholders(b"key-2"))
    assert "Maria Gonzales" in a.text
    assert "maria@globex.example" not in a.text
    assert a.text == b.text
    assert a.text != c.text


def test_overlapping_spans_keep_the_wider() -> None:
    """Overlaps are resolved to one replacement, never a garbled double edit."""
    spans = [
        {"type": "PERSON", "start": 5, "end": 10, "score": 0.9},
        {"type": "PERSON", "start": 5, "end": 19, "score": 0.6},
    ]
    assert redact(TEXT, spans, RedactionRules(), Placeholders(b"k")).text.startswith(
        "Call <PERSON_1> at"
    )


def test_a_kept_span_never_hides_a_redacted_one() -> None:
    """A wider PERSON the policy keeps does not swallow the card number inside it."""
    text = "Paid by Visa 4193-7394-3055-4701, authorised 2023-04-08."
    spans = [
        {"type": "PERSON", "start": 8, "end": 32, "score": 0.85},
        {"type": "CREDIT_CARD", "start": 13, "end": 32, "score": 1.0},
    ]
    rules = RedactionRules(entities={"PERSON": "keep", "CREDIT_CARD": "mask"})
    result = redact(text, spans, rules, Placeholders(b"k"))
    assert "4193" not in result.text
    assert result.text == "Paid by Visa *******************, authorised 2023-04-08."
    assert result.summary() == [{"entity_type": "CREDIT_CARD", "operator": "mask", "count": 1}]


def test_partial_overlap_leaves_no_fragment() -> None:
    """An IPv6 address partly overlapped by a PERSON guess is replaced whole, as an IP."""
    text = "from 2001:4860:4860::8888 today"
    spans = [
        {"type": "IP_ADDRESS", "start": 5, "end": 25, "score": 0.6},
        {"type": "PERSON", "start": 20, "end": 31, "score": 0.85},
    ]
    result = redact(text, spans, RedactionRules(), Placeholders(b"k"))
    assert result.text == "from <IP_ADDRESS_1>"
    assert "4860" not in result.text


def test_stricter_operator_wins_on_overlap() -> None:
    """A replaced PERSON overlapping a masked card: the region is masked."""
    text = "Ann Lee 4111 1111 1111 1111"
    spans = [
        {"type": "PERSON", "start": 0, "end": 12, "score": 0.85},
        {"type": "CREDIT_CARD", "start": 8, "end": 27, "score": 1.0},
    ]
    rules = RedactionRules(entities={"CREDIT_CARD": "mask"})
    assert redact(text, spans, rules, Placeholders(b"k")).text == "*" * len(text)


def test_spans_under_the_policy_threshold_are_not_acted_on() -> None:
    """thresholds: a PERSON guess under its type's minimum score stays text."""
    rules = RedactionRules(thresholds={"PERSON": 0.9})
    spans = [{"type": "PERSON", "start": 0, "end": 4, "score": 0.85}]
    assert redact("Kube rocks", spans, rules, Placeholders(b"k")).text == "Kube rocks"


def test_allowed_terms_are_never_ner_guesses() -> None:
    """'Kubernetes' tagged PERSON stays; an e-mail equal to an allowed term would not."""
    rules = RedactionRules(allow_terms=frozenset({"kubernetes"}))
    spans = [
        {"type": "PERSON", "start": 7, "end": 17, "score": 0.85},
        {"type": "PERSON", "start": 21, "end": 24, "score": 0.85},
    ]
    out = redact("Deploy Kubernetes by Ann", spans, rules, Placeholders(b"k")).text
    assert out == "Deploy Kubernetes by <PERSON_1>"


def test_twelve_thousand_spans_resolve() -> None:
    """Many overlapping spans resolve in one pass (correctness here; speed in the bench)."""
    text = "x" * 24_000
    spans = [
        {"type": "PERSON" if i % 2 else "PHONE_NUMBER", "start": i * 2, "end": i * 2 + 3}
        for i in range(12_000)
    ]
    result = redact(text, spans, RedactionRules(), Placeholders(b"k"))
    assert set(result.text) <= set("<PHONE_NUMBER_1>x")
    assert result.text.startswith("<PHONE_NUMBER_1>")


TYPES = ["PERSON", "LOCATION", "CREDIT_CARD", "US_SSN", "EMAIL_ADDRESS", "IP_ADDRESS"]


@given(st.data())
def test_no_character_of_a_redacted_value_survives_any_overlap(data: st.DataObject) -> None:
    """Whatever spans overlap and whatever the policy keeps, every character inside a span
    of a redacted type is gone from the output (each input character is unique)."""
    length = data.draw(st.integers(1, 60))
    text = "".join(chr(0x4E00 + i) for i in range(length))
    operators: st.SearchStrategy[Operator] = st.sampled_from(["replace", "mask", "hash", "keep"])
    rules = RedactionRules(
        default=data.draw(operators),
        entities=data.draw(st.dictionaries(st.sampled_from(TYPES), operators)),
    )
    spans: list[dict[str, Any]] = data.draw(
        st.lists(
            st.tuples(st.integers(0, length - 1), st.integers(1, 20), st.sampled_from(TYPES)).map(
                lambda t: {
                    "type": t[2],
                    "start": t[0],
                    "end": min(length, t[0] + t[1]),
                    "score": 0.5,
                }
            ),
            max_size=12,
        )
    )
    out = redact(text, spans, rules, Placeholders(b"k")).text
    for span in spans:
        if rules.operator_for(span["type"]) != "keep":
            assert not set(text[span["start"] : span["end"]]) & set(out)
    kept = set(text) - {
        c
        for s in spans
        if rules.operator_for(s["type"]) != "keep"
        for c in text[s["start"] : s["end"]]
    }
    assert kept <= set(out)


def test_out_of_range_spans_are_ignored() -> None:
    """A span that does not fit the text (stale offsets) is skipped, not sliced wrongly."""
    result = redact(
        "short", [{"type": "PERSON", "start": 2, "end": 99}], RedactionRules(), Placeholders(b"k")
    )
    assert result.text == "short"


@pytest.mark.parametrize(
    "decision",
    [
        None,
        {"default": "shred"},
        {"default": "keep", "entities": {"PERSON": "erase"}},
        {"default": "keep", "entities": [], "restore": False},
        {"default": "keep", "restore": "yes"},
        {"default": "keep", "thresholds": {"PERSON": 2}},
        {"default": "keep", "thresholds": {"PERSON": True}},
        {"default": "keep", "allow_terms": "json"},
        {"default": "keep", "allow_binary": "no"},
    ],
)
def test_invalid_decisions_are_refused(decision: object) -> None:
    """An operator the gateway does not know is an error, never an implicit keep."""
    with pytest.raises(InvalidRules):
        RedactionRules.from_decision(decision)


def test_restore_in_plain_and_json_text() -> None:
    """Known tokens go back to originals; in JSON strings the value is escaped."""
    placeholders = Placeholders(b"k")
    token = placeholders.replace("PERSON", 'Ann "Nan" Lee')
    assert placeholders.restore(f"Hi {token} and <PERSON_9>") == 'Hi Ann "Nan" Lee and <PERSON_9>'
    arguments = json.dumps({"name": token})
    assert json.loads(placeholders.restore(arguments, json_escaped=True)) == {
        "name": 'Ann "Nan" Lee'
    }


def test_a_line_break_ends_what_may_be_a_placeholder() -> None:
    """No placeholder holds a line break: "<B\\n" is emitted at once, not held back."""
    restorer = StreamRestorer(Placeholders(b"k"))
    assert restorer.feed("a <B\n") == "a <B\n"
    assert not restorer.pending


@given(st.text(alphabet="ab <>_PERSON12", max_size=30), st.data())
def test_streamed_restoration_equals_whole_restoration(prefix: str, data: st.DataObject) -> None:
    """However the answer is split into deltas, the restored stream equals restoring it whole."""
    placeholders = Placeholders(b"k")
    placeholders.replace("PERSON", "Maria")
    placeholders.replace("PERSON", "Peter")
    text = prefix + " <PERSON_1> met <PERSON_2>. <PERSON_12> <EMAIL"
    cuts = sorted(data.draw(st.lists(st.integers(0, len(text)), max_size=8)))
    pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    restorer = StreamRestorer(placeholders)
    streamed = "".join(restorer.feed(p) for p in pieces) + restorer.flush()
    assert streamed == placeholders.restore(text)
