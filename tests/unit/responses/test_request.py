"""Parsing and validation of POST /v1/responses bodies."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway.errors import BadRequest
from gateway.responses.request import latest_user_text, parse_responses_request


def parse(body: dict[str, Any]) -> Any:
    return parse_responses_request(json.dumps(body).encode())


def refusal(body: dict[str, Any]) -> BadRequest:
    with pytest.raises(BadRequest) as caught:
        parse(body)
    return caught.value


def test_string_input_is_one_user_message() -> None:
    """A string input is read as one user message and is the retrieval query."""
    request = parse({"model": "m", "input": "How many vacation days?"})
    assert request.items() == [
        {"type": "message", "role": "user", "content": "How many vacation days?"}
    ]
    assert latest_user_text(request) == "How many vacation days?"


def test_latest_user_text_skips_tool_outputs_and_joins_parts() -> None:
    """The query is the last user message's text parts, not a later tool output."""
    request = parse(
        {
            "model": "m",
            "input": [
                {"role": "user", "content": "old"},
                {
                    "type": "message",
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": "vacation"},
                        {"type": "input_image", "image_url": "https://x/y.png"},
                        {"type": "input_text", "text": "days"},
                    ],
                },
                {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "c", "output": "tool says"},
            ],
        }
    )
    assert latest_user_text(request) == "vacation days"


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"input": "x"}, "model", "missing_required_parameter"),
        ({"model": 3, "input": "x"}, "model", "invalid_type"),
        ({"model": "m"}, "input", "missing_required_parameter"),
        ({"model": "m", "input": 5}, "input", "invalid_type"),
        (
            {"model": "m", "input": [{"content": "x"}]},
            "input[0].type",
            "missing_required_parameter",
        ),
        (
            {"model": "m", "input": [{"role": "boss", "content": "x"}]},
            "input[0].role",
            "invalid_value",
        ),
        (
            {"model": "m", "input": [{"role": "user"}]},
            "input[0].content",
            "missing_required_parameter",
        ),
        (
            {"model": "m", "input": [{"role": "user", "content": 1}]},
            "input[0].content",
            "invalid_type",
        ),
        (
            {"model": "m", "input": [{"role": "user", "content": [{"type": "input_text"}]}]},
            "input[0].content[0].text",
            "missing_required_parameter",
        ),
        (
            {
                "model": "m",
                "input": [{"role": "user", "content": [{"type": "output_text", "text": "x"}]}],
            },
            "input[0].content[0].type",
            "invalid_value",
        ),
        (
            {"model": "m", "input": [{"type": "function_call", "call_id": "c", "name": "f"}]},
            "input[0].arguments",
            "missing_required_parameter",
        ),
        (
            {
                "model": "m",
                "input": [{"type": "function_call_output", "call_id": "c", "output": 3}],
            },
            "input[0].output",
            "invalid_type",
        ),
        (
            {"model": "m", "input": [{"type": "item_reference", "id": "msg_1"}]},
            "input[0]",
            "unsupported_value",
        ),
        (
            {"model": "m", "input": "x", "conversation": "conv_1"},
            "conversation",
            "unsupported_parameter",
        ),
        ({"model": "m", "input": "x", "stream": "yes"}, "stream", "invalid_type"),
        ({"model": "m", "input": "x", "store": 1}, "store", "invalid_type"),
        ({"model": "m", "input": "x", "instructions": ["a"]}, "instructions", "invalid_type"),
        ({"model": "m", "input": "x", "metadata": []}, "metadata", "invalid_type"),
        (
            {"model": "m", "input": "x", "tools": [{"type": "function"}]},
            "tools[0].name",
            "missing_required_parameter",
        ),
    ],
)
def test_bad_bodies_name_their_param(body: dict[str, Any], param: str, code: str) -> None:
    """Each malformed field is a 400 naming it, with OpenAI's code."""
    error = refusal(body)
    assert (error.status_code, error.param, error.code) == (400, param, code)


def test_unknown_item_types_pass() -> None:
    """Item types the gateway does not know pass (their strings are analysed later)."""
    item = {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "t"}]}
    assert parse({"model": "m", "input": [item]}).items() == [item]


def test_previous_response_id_alone_needs_no_input() -> None:
    """A turn chained with previous_response_id may omit input, as OpenAI allows."""
    request = parse({"model": "m", "previous_response_id": "resp_1"})
    assert request.previous_response_id == "resp_1"
    assert request.items() == []


@pytest.mark.parametrize(
    "raw", [b"{", b"[]", b'{"model": NaN}', b'{"model": "\\ud800"}', b"[" * 70 + b"]" * 70]
)
def test_bodies_that_are_not_json_objects_are_refused(raw: bytes) -> None:
    """Not JSON, not an object, NaN, a lone surrogate or deep nesting: invalid_json."""
    with pytest.raises(BadRequest) as caught:
        parse_responses_request(raw)
    assert caught.value.code == "invalid_json"


def test_tool_types_are_distinct_in_order() -> None:
    """tool_types lists each type once, for the policy."""
    tools = [
        {"type": "function", "name": "a"},
        {"type": "web_search"},
        {"type": "function", "name": "b"},
    ]
    assert parse({"model": "m", "input": "x", "tools": tools}).tool_types == [
        "function",
        "web_search",
    ]
