"""Parsing fine-tuning JSONL: bad lines reported by number, content never echoed."""

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.chat_schema import ROLES as CHAT_ROLES
from gateway.errors import BadRequest
from gateway.finetune import examples as examples_module
from gateway.finetune.examples import ROLES, parse_examples


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


ANSWER = {"role": "assistant", "content": "a"}


def test_vision_examples_and_a_byte_order_mark_are_accepted() -> None:
    """Image parts (OpenAI's vision fine-tuning format) are valid, their URL scanned as
    text; a UTF-8 byte-order mark before the first line is not a bad line."""
    image = {"type": "image_url", "image_url": {"url": "https://example.org/cat.png"}}
    parts = {"role": "user", "content": [{"type": "text", "text": "What is it?"}, image]}
    record = {"messages": [parts, {"role": "assistant", "content": "A cat."}]}
    (example,) = parse_examples(b"\xef\xbb\xbf" + json.dumps(record).encode())
    assert {"What is it?", "https://example.org/cat.png", "A cat."} <= set(example.texts)
    assert "image_url" not in example.texts
    broken = {"messages": [{"role": "user", "content": [{"type": "image_url"}]}, ANSWER]}
    with pytest.raises(BadRequest, match="text or image parts"):
        parse_examples(json.dumps(broken).encode())


def test_a_function_message_is_accepted_and_scanned_as_in_chat() -> None:
    """Fine-tuning takes the roles chat does, ``function`` included, and scans its text."""
    assert set(CHAT_ROLES) == ROLES
    function = {"role": "function", "name": "lookup", "content": "Ann's number"}
    record = {"messages": [{"role": "user", "content": "q"}, function, ANSWER]}
    (example,) = parse_examples(json.dumps(record).encode())
    assert "Ann's number" in example.texts


def preference(preferred: object, rejected: object, **extra: object) -> dict[str, Any]:
    return {
        "input": {"messages": [{"role": "user", "content": "q"}], "tools": [], **extra},
        "preferred_output": preferred,
        "non_preferred_output": rejected,
    }


def test_preference_and_reinforcement_examples_are_read_whole() -> None:
    """OpenAI's preference (DPO) and reinforcement formats are training examples too,
    and every string of them is scanned: both outputs, the grader's fields."""
    dpo = preference([{"role": "assistant", "content": "good"}], [ANSWER])
    rft = {"messages": [{"role": "user", "content": "q"}], "reference_answer": "42 lines"}
    first, second = parse_examples(f"{json.dumps(dpo)}\n{json.dumps(rft)}\n".encode())
    assert {"q", "good", "a"} <= set(first.texts)
    assert "input" not in first.texts  # the format's own words are not scanned
    assert {"q", "reference_answer", "42 lines"} <= set(second.texts)


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        (preference([], [ANSWER]), "'preferred_output' must be a non-empty list"),
        (preference([ANSWER], [{"role": "user", "content": "x"}]), "assistant messages only"),
        (preference([ANSWER], [{"role": "assistant", "content": 3}]), "content must be"),
        ({"input": {"messages": []}, "preferred_output": [ANSWER]}, "'input.messages' must"),
        ({"input": "q", "preferred_output": [ANSWER]}, "'input.messages' must"),
        ({"messages": [{"role": "user", "content": "q"}]}, "no assistant message"),
    ],
)
def test_malformed_preference_examples_are_named(record: dict[str, Any], problem: str) -> None:
    """A preference example without both outputs of assistant messages, or a prompt
    alone with no grader fields, is a bad line saying what is wrong."""
    with pytest.raises(BadRequest) as refused:
        parse_examples(record_line(record))
    assert problem in refused.value.message


@pytest.mark.parametrize("content", [b"", b"\n \n", b"\xff\xfe"])
def test_empty_or_binary_files_are_refused(content: bytes) -> None:
    """No examples, or not UTF-8: a 400, not an empty training set."""
    with pytest.raises(BadRequest):
        parse_examples(content)


def record_line(record: object) -> bytes:
    return (json.dumps(record) + "\n").encode()


CHAT = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]


@pytest.mark.parametrize(
    "record",
    [
        {"messages": [*CHAT[:1], {**CHAT[1], "name": "hidden words here"}]},
        {"messages": [*CHAT[:1], {**CHAT[1], "weight": "hidden words here"}]},
        {"messages": CHAT, "tools": [{"function": {"description": "hidden words here"}}]},
        {"messages": CHAT, "hidden words here": 1},
        {"messages": CHAT, "metadata": {"deep": [["hidden words here"]]}},
    ],
)
def test_every_string_of_a_line_is_scanned_whatever_its_key(record: object) -> None:
    """Text under any key (name, weight, tools, unknown keys, keys themselves) is kept."""
    (example,) = parse_examples(record_line(record))
    assert "hidden words here" in example.texts


def test_encoded_text_is_decoded_for_the_scan() -> None:
    """Base64, hex, \\u-escaped JSON in tool-call arguments: the decoded text is scanned."""
    import base64

    secret = "the hidden passage of governed words"
    arguments = json.dumps({"note": secret}).replace("the", "\\u0074he")
    calls = [{"id": "c", "type": "function", "function": {"name": "f", "arguments": arguments}}]
    record = {
        "messages": [
            {"role": "user", "content": base64.b64encode(secret.encode()).decode()},
            {"role": "assistant", "content": secret.encode().hex()},
            {"role": "assistant", "content": None, "tool_calls": calls},
        ]
    }
    (example,) = parse_examples(record_line(record))
    decoded = [t for t in example.texts if secret in t]
    assert len(decoded) >= 3


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"[" * 100_000 + b"\n", "line 1: nested too deeply"),
        (b'{"messages": [{"role": "user", "content": "\\ud800"}]}\n', "line 1: holds an unpaired"),
        (b'{"messages": [], "messages": []}\n', 'line 1: the key "messages" appears twice'),
        (b'{"messages": [{"role": [], "content": "x"}]}\n', r"line 1: messages\[0\]\.role"),
        (b'{"input": {"messages": [{"role": {}}]}}\n', r"line 1: input\.messages\[0\]\.role"),
    ],
)
def test_hostile_lines_are_bad_lines_not_crashes(content: bytes, problem: str) -> None:
    """Deep nesting, lone surrogates, duplicate keys and a role that is a list or an
    object are 400s naming the line."""
    with pytest.raises(BadRequest, match=problem):
        parse_examples(content)


def test_a_line_separator_inside_a_string_does_not_split_the_line() -> None:
    """U+2028 inside a JSON string is part of the string (lines end at \\n only)."""
    content = line(("user", "one\u2028two"), ("assistant", "x")).encode()
    content = json.dumps(json.loads(content), ensure_ascii=False).encode()
    (example,) = parse_examples(content)
    assert "one\u2028two" in example.texts


def test_batch_lines_need_only_be_objects() -> None:
    """Non-chat JSONL (batch, evals) is parsed as any JSON objects, strings all kept."""
    content = record_line({"custom_id": "1", "body": {"messages": [{"content": "hidden"}]}})
    (example,) = parse_examples(content, chat=False)
    assert "hidden" in example.texts


def test_finetune_scan_reads_tool_calls_next_to_content() -> None:
    """Tool-call arguments are scanned even when the message also has content."""
    line = (
        '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", '
        '"content": "ok", "tool_calls": [{"type": "function", "function": {"name": "f", '
        '"arguments": "{\\"text\\": \\"governed passage\\"}"}}]}]}'
    )
    parsed = parse_examples(line.encode())
    texts = " ".join(t for example in parsed for t in example.texts)
    assert "governed passage" in texts


_CONTENT = st.text(max_size=40) | st.sampled_from(
    ["", "user", "content", "aGVsbG8gd29ybGQgaGVsbG8gd29ybGQh", "%68%65%6c%6c%6f"]
)
_MESSAGE = st.fixed_dictionaries(
    {"role": st.sampled_from(["system", "user", "assistant", "tool"]), "content": _CONTENT},
    optional={"weight": st.sampled_from([0, 1, None, True])},
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_MESSAGE, min_size=1, max_size=5))
def test_plain_chat_lines_yield_what_the_general_walk_yields(
    messages: list[dict[str, object]],
) -> None:
    """The fast path for {"messages": [{role, content}]} gives the body walker's texts."""
    record = {"messages": messages}
    assert examples_module._plain_contents(record) is not None
    assert examples_module._texts(record, examples_module._plain_contents(record)) == (
        examples_module._texts(record)
    )


@pytest.mark.parametrize(
    "record",
    [
        {"messages": [{"role": "user", "content": "q", "name": "n"}]},
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "q"}]}]},
        {"messages": [{"role": "user", "content": "q", "weight": "w"}]},
        {"messages": [{"role": "user", "content": "q"}], "tools": []},
    ],
)
def test_other_shapes_take_the_general_walk(record: dict[str, object]) -> None:
    """Any key or value beyond role, string content and weight leaves the fast path."""
    assert examples_module._plain_contents(record) is None


def test_surrogate_escape_is_still_a_bad_line_on_the_fast_path() -> None:
    """A lone surrogate escape in plain chat content is still reported."""
    line = (
        b'{"messages": [{"role": "user", "content": "a\\ud800"}, '
        b'{"role": "assistant", "content": "b"}]}\n'
    )
    with pytest.raises(BadRequest, match="surrogate"):
        parse_examples(line)


_KEYS = st.sampled_from(["messages", "role", "content", "a", 'q":', "\\", "x"])
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='ab":\\ {}[],', max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.lists(st.tuples(_KEYS, inner), max_size=4),
    max_leaves=12,
)


def _render(value: object) -> str:
    """JSON text of ``value``, where a list of (key, value) pairs is an object that may
    repeat keys, with spacing around colons varied."""
    if isinstance(value, list) and value and all(isinstance(v, tuple) for v in value):
        pairs = (f"{json.dumps(k)} {' ' * (len(k) % 2)}:{_render(v)}" for k, v in value)
        return "{" + ", ".join(pairs) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_render(v) for v in value) + "]"
    if isinstance(value, tuple):
        return _render(list(value))
    return json.dumps(value)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_KEYS, _JSON), max_size=4))
def test_fast_parse_decides_as_the_checked_parse(pairs: list[tuple[str, object]]) -> None:
    """msgspec's fast path accepts a line only when the key-checked json parse gives the
    same object; repeated keys, anywhere, are still a bad line."""
    text = "{" + ", ".join(f"{json.dumps(k)}:{_render(v)}" for k, v in pairs) + "}"
    fast, _ = examples_module._fast_load(text)
    try:
        checked = examples_module._checked_load(text)
    except examples_module._LineProblem:
        assert fast is None
        return
    assert fast is None or fast == checked


def test_ordinary_lines_take_the_fast_parse() -> None:
    """Chat lines without repeated keys parse fast; a repeated key, or a quoted word
    before a colon inside a value (it might end a key), sends the line to the checked
    parse."""
    assert examples_module._fast_load(GOOD)[0] is not None
    assert examples_module._fast_load(line(("user", "a: 1"), ("assistant", "b")))[0]
    assert examples_module._fast_load(line(("user", 'say "a": 1'), ("assistant", "b")))[0] is None
    assert examples_module._fast_load('{"messages": [], "messages": []}')[0] is None


_PLAIN_MESSAGES = st.lists(
    st.fixed_dictionaries(
        {"role": st.sampled_from(sorted(ROLES)), "content": _CONTENT},
        optional={"weight": st.sampled_from([0, 1, None, True])},
    ),
    max_size=4,
)


def _problem(record: dict[str, Any], plain: list[str] | None) -> str | None:
    try:
        examples_module._check_chat(record, plain)
    except examples_module._LineProblem as exc:
        return str(exc)
    return None


@settings(max_examples=300, deadline=None)
@given(_PLAIN_MESSAGES)
def test_plain_chat_lines_are_checked_as_any_other(messages: list[dict[str, object]]) -> None:
    """Given its plain contents, the chat check finds the same problem (or none)."""
    record = {"messages": messages}
    plain = examples_module._plain_contents(record)
    assert plain is not None
    assert _problem(record, plain) == _problem(record, None)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(_MESSAGE, min_size=1, max_size=4), min_size=1, max_size=6))
def test_decoded_layers_remembered_across_lines_change_nothing(
    lines: list[list[dict[str, object]]],
) -> None:
    """Texts repeated on many lines are decoded once: every line's texts stay the same."""
    hidden: dict[str, list[str]] = {}
    for messages in lines:
        record = {"messages": messages}
        plain = examples_module._plain_contents(record)
        assert examples_module._texts(record, plain, hidden) == examples_module._texts(record)


def test_reading_stops_at_a_thousand_bad_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    """A file of many thousands of bad lines is refused after the first thousand,
    saying so, without reading the rest."""
    read: list[str] = []
    record = examples_module._record

    def counted(line: str) -> Any:
        read.append(line)
        return record(line)

    monkeypatch.setattr(examples_module, "_record", counted)
    with pytest.raises(BadRequest) as refused:
        parse_examples(b"x\n" * 50_000)
    assert len(read) == examples_module.MAX_BAD_LINES
    assert "1000+ bad line(s)" in refused.value.message
    assert "reading stopped at 1000 bad lines" in refused.value.message


def test_decoded_layers_follow_all_strings_so_pieces_read_on() -> None:
    """Pieces of a passage in separate tool calls' JSON arguments: their decoded values
    come together after the raw strings, with no key or raw string between them."""
    calls = [
        {"id": f"c{n}", "type": "function", "function": {"name": "save", "arguments": args}}
        for n, args in enumerate(json.dumps({"part": p}) for p in ["a b c", "d e f", "g h i"])
    ]
    record = {
        "messages": [
            {"role": "user", "content": "Save the notes."},
            {"role": "assistant", "content": None, "tool_calls": calls},
        ]
    }
    (example,) = parse_examples(json.dumps(record).encode())
    assert example.texts[-3:] == ("a b c", "d e f", "g h i")


_VALUES: st.SearchStrategy[object] = st.sampled_from(
    [
        "user",
        "assistant",
        "boss",
        "a: 1",
        'say "a": 1',
        "\ud800 x",
        "",
        "aGVsbG8gd29ybGQgaGVsbG8gd29ybGQh",
    ]
) | st.sampled_from([0, 1.5, None, True, 10**30, []])
_PAIR = st.tuples(st.sampled_from(["role", "content", "weight", "name"]), _VALUES)
_WELL_FORMED = st.tuples(
    st.tuples(st.just("role"), st.sampled_from(["user", "assistant", "tool", "boss"])),
    st.tuples(st.just("content"), _CONTENT),
    st.lists(st.tuples(st.just("weight"), st.sampled_from([0, 1.5, None, True])), max_size=1),
).map(lambda parts: [parts[0], parts[1], *parts[2]])
_ANY_MESSAGE = (
    _WELL_FORMED
    | _WELL_FORMED
    | _WELL_FORMED.flatmap(
        lambda pairs: st.lists(_PAIR, max_size=1).map(lambda more: [*pairs, *more])
    )
    | st.lists(_PAIR, max_size=4)
)
_ANY_RECORD = st.lists(_ANY_MESSAGE, max_size=3).map(
    lambda messages: [("messages", messages)]
) | st.lists(
    st.tuples(st.sampled_from(["messages", "input"]), st.lists(_ANY_MESSAGE, max_size=3)),
    min_size=1,
    max_size=2,
)


@settings(max_examples=400, deadline=None)
@given(_ANY_RECORD, st.booleans())
def test_the_typed_fast_path_gives_the_general_path_s_examples_and_problems(
    records: list[tuple[str, list[list[tuple[str, object]]]]], chat: bool
) -> None:
    """Lines of the plain chat shape decoded straight into their contents give the same
    examples and the same problems as the general path, whatever keys repeat, roles or
    weights they hold."""
    text = "{" + ", ".join(f"{json.dumps(k)}: {_render(v)}" for k, v in records) + "}"
    fast = examples_module.parse_lines(text, chat=chat)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(examples_module, "_plain_line", lambda line: None)
        general = examples_module.parse_lines(text, chat=chat)
    assert fast == general


def test_ordinary_chat_lines_take_the_typed_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """A plain chat line never reaches the general parse; a weight that is text does."""

    def general(line: str) -> object:
        raise AssertionError("general path")

    monkeypatch.setattr(examples_module, "_record", general)
    weighted = json.dumps(
        {
            "messages": [
                {"role": "user", "content": "q", "weight": 0},
                {"role": "assistant", "content": "a"},
            ]
        }
    )
    assert [e.texts for e in parse_examples(f"{GOOD}\n{weighted}\n".encode())] == [
        ("hi", "hello"),
        ("q", "a"),
    ]
    with pytest.raises(AssertionError, match="general path"):
        parse_examples(
            json.dumps({"messages": [{"role": "user", "content": "q", "weight": "w"}]}).encode()
        )
