import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.redaction.apply import redact
from gateway.redaction.placeholders import Placeholders
from gateway.redaction.restore_stream import StreamRestorer
from gateway.redaction.rules import InvalidRules, RedactionRules

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
