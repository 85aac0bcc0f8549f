"""Parsing fine-tuning JSONL: bad lines reported by number, content never echoed."""

import json

import pytest

from gateway.errors import BadRequest
from gateway.finetune.examples import parse_examples


def line(*messages: tuple[str, object]) -> str:
    return json.dumps({"messages": [{"role": r, "content": c} for r, c in messages]})


GOOD = line(("user", "hi"), ("assistant", "hello"))


def test_valid_file_yields_examples_with_line_numbers() -> None:
    """Blank lines are skipped but numbering follows the file."""
    examples = parse_examples(f"{GOOD}\n\n{GOOD}\n".encode())
    assert [e.line for e in examples] == [1, 3]
    assert examples[0].texts == ("hi", "hello")


def test_every_bad_line_is_named_without_its_content() -> None:
    """Each malformed line is reported by number; the secret text is not repeated."""
    content = "\n".join(
        [
            GOOD,
            "secret-words {",
            line(("user", "only a question")),
            line(("wizard", "x"), ("assistant", "y")),
            '{"messages": "secret-words"}',
        ]
    ).encode()
    with pytest.raises(BadRequest) as refused:
        parse_examples(content)
    message = refused.value.message
    assert "4 bad line(s)" in message
    for expected in ("line 2:", "line 3:", "line 4:", "line 5:"):
        assert expected in message
    assert "line 1:" not in message
    assert "secret-words" not in message
    assert refused.value.code == "invalid_file_format"


def test_text_parts_and_tool_calls_are_accepted() -> None:
    """Content as a list of text parts, or an assistant tool call, is valid."""
    parts = {"role": "user", "content": [{"type": "text", "text": "a"}]}
    call = {"role": "assistant", "content": None, "tool_calls": [{"id": "c"}]}
    (example,) = parse_examples(json.dumps({"messages": [parts, call]}).encode())
    assert example.texts[0] == "a"


@pytest.mark.parametrize("content", [b"", b"\n \n", b"\xff\xfe"])
def test_empty_or_binary_files_are_refused(content: bytes) -> None:
    """No examples, or not UTF-8: a 400, not an empty training set."""
    with pytest.raises(BadRequest):
        parse_examples(content)
