import json
import typing
from collections.abc import Iterable
from typing import Any, get_args

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openai.types.chat import ChatCompletionMessageParam

from gateway.chat_request import MAX_DEPTH, MAX_MESSAGE_CHARS, parse_chat_request
from gateway.chat_schema import ROLES
from gateway.errors import BadRequest


def _body(*messages: Any, **extra: Any) -> bytes:
    return json.dumps({"model": "m", "messages": list(messages), **extra}).encode()


def _refusal(raw: bytes) -> BadRequest:
    with pytest.raises(BadRequest) as info:
        parse_chat_request(raw)
    assert info.value.status_code == 400
    return info.value


@pytest.mark.parametrize(
    ("message", "param", "code"),
    [
        ({"role": "user", "content": {"text": "hi"}}, "messages[1].content", "invalid_type"),
        ({"role": "user", "content": 3}, "messages[1].content", "invalid_type"),
        ({"role": "user", "content": None}, "messages[1].content", "invalid_type"),
        ({"role": "user"}, "messages[1].content", "missing_required_parameter"),
        ({"role": {"x": 1}, "content": "hi"}, "messages[1].role", "invalid_value"),
        ({"role": ["user"], "content": "hi"}, "messages[1].role", "invalid_value"),
        ({"content": "hi"}, "messages[1].role", "missing_required_parameter"),
        (
            {"role": "user", "content": [{"type": "text", "text": None}]},
            "messages[1].content[0].text",
            "invalid_type",
        ),
        (
            {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "video"}]},
            "messages[1].content[1].type",
            "invalid_value",
        ),
        (
            {"role": "user", "content": [{"type": "image_url", "image_url": "http://x"}]},
            "messages[1].content[0].image_url",
            "invalid_type",
        ),
        (
            {"role": "system", "content": [{"type": "image_url", "image_url": {"url": "u"}}]},
            "messages[1].content[0].type",
            "invalid_value",
        ),
        ({"role": "user", "content": "hi", "name": 5}, "messages[1].name", "invalid_type"),
        (
            {"role": "tool", "content": "x"},
            "messages[1].tool_call_id",
            "missing_required_parameter",
        ),
        ({"role": "function", "content": "x"}, "messages[1].name", "missing_required_parameter"),
        (
            {"role": "assistant", "tool_calls": [{"id": "c", "type": "function", "function": {}}]},
            "messages[1].tool_calls[0].function.name",
            "missing_required_parameter",
        ),
        (
            {
                "role": "assistant",
                "tool_calls": [
                    {"id": "c", "type": "function", "function": {"name": "f", "arguments": {}}}
                ],
            },
            "messages[1].tool_calls[0].function.arguments",
            "invalid_type",
        ),
        (
            {"role": "assistant", "tool_calls": {"id": "c"}},
            "messages[1].tool_calls",
            "invalid_type",
        ),
        (
            {"role": "user", "content": "1", "extra": 1, "name": True},
            "messages[1].name",
            "invalid_type",
        ),
    ],
)
def test_ill_typed_messages_are_400_naming_the_param(
    message: dict[str, Any], param: str, code: str
) -> None:
    """Each message OpenAI's schema refuses is a 400 naming where, with OpenAI's code."""
    error = _refusal(_body({"role": "system", "content": "ok"}, message))
    assert (error.param, error.code) == (param, code)


def test_refusals_never_echo_the_input() -> None:
    """A refused value (it may be PII) is not quoted back in the message."""
    error = _refusal(_body({"role": "alice@example.com", "content": "hi"}))
    assert "alice" not in error.message


@pytest.mark.parametrize(
    "message",
    [
        {"role": "user", "content": "hi", "name": "bob"},
        {"role": "user", "content": ""},
        {"role": "user", "content": []},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "look"},
                {
                    "type": "image_url",
                    "image_url": {"url": "data:image/png;base64,AA", "detail": "low"},
                },
                {"type": "input_audio", "input_audio": {"data": "AA", "format": "wav"}},
                {"type": "file", "file": {"file_id": "file-1"}},
            ],
        },
        {"role": "developer", "content": [{"type": "text", "text": "rules"}]},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ],
        },
        {"role": "assistant", "content": [{"type": "refusal", "refusal": "no"}]},
        {"role": "assistant", "function_call": {"name": "f", "arguments": "{}"}},
        {"role": "tool", "content": "42", "tool_call_id": "c"},
        {"role": "function", "content": None, "name": "f"},
        {"role": "user", "content": "hi", "vendor_field": {"anything": [1, 2]}},
    ],
)
def test_messages_openai_accepts_pass_untouched(message: dict[str, Any]) -> None:
    """Valid messages (extra keys included) pass, and the body is kept as it came."""
    chat = parse_chat_request(_body(message, temperature=0.2, vendor_option={"x": 1}))
    assert chat.messages == [message]
    assert chat.body["vendor_option"] == {"x": 1}


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_non_finite_numbers_are_invalid_json(constant: bytes) -> None:
    """NaN and +-Infinity are not JSON: 400 invalid_json, never a 500 downstream."""
    raw = b'{"model": "m", "messages": [{"role": "user", "content": "a"}], "temperature": '
    assert _refusal(raw + constant + b"}").code == "invalid_json"


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 1_000, 100_000])
def test_deep_nesting_is_refused(depth: int) -> None:
    """Arrays nested deeper than the limit are a 400, however deep (no RecursionError)."""
    raw = _body({"role": "user", "content": "a"})[:-1] + b', "x": ' + b"[" * depth
    raw += b"]" * depth + b"}"
    assert _refusal(raw).code == "invalid_json"


def test_nesting_up_to_the_limit_passes() -> None:
    """A deep but allowed tool schema is accepted."""
    nested: Any = {}
    for _ in range(MAX_DEPTH - 3):
        nested = {"a": nested}
    parse_chat_request(_body({"role": "user", "content": "a"}, tools=nested))


def test_a_message_over_the_limit_is_refused() -> None:
    """More text in one message than can be analysed: 400 string_above_max_length."""
    big = "a" * (MAX_MESSAGE_CHARS + 1)
    error = _refusal(_body({"role": "user", "content": "ok"}, {"role": "user", "content": big}))
    assert (error.param, error.code) == ("messages[1].content", "string_above_max_length")
    parts = [{"type": "text", "text": big[:600_000]}, {"type": "text", "text": big[600_000:]}]
    assert _refusal(_body({"role": "user", "content": parts})).param == "messages[0].content"


def test_roles_are_openais() -> None:
    """The accepted roles are exactly those of the SDK's message types."""
    sdk_roles = {
        get_args(typing.get_type_hints(member)["role"])[0]
        for member in get_args(ChatCompletionMessageParam)
    }
    assert sdk_roles == set(ROLES)


def _sdk_message_strategy() -> st.SearchStrategy[Any]:
    # The SDK types content as Iterable[...]: generate lists, as JSON carries them.
    st.register_type_strategy(
        Iterable, lambda t: st.lists(st.from_type(get_args(t)[0]), max_size=3)
    )
    return st.from_type(ChatCompletionMessageParam)  # type: ignore[arg-type]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(message=st.deferred(_sdk_message_strategy))
def test_every_message_the_sdk_types_allow_is_accepted(message: Any) -> None:
    """Never stricter than OpenAI: any message the openai package's own types describe
    (as JSON) passes validation."""
    as_json = json.loads(json.dumps(message, default=list))
    raw = json.dumps({"model": "m", "messages": [as_json]}, ensure_ascii=False).encode()
    parse_chat_request(raw)
