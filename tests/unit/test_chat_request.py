import json

import pytest

from gateway.chat_request import parse_chat_request, parse_corpora
from gateway.errors import BadRequest


def test_valid_request_passes_unknown_fields_through() -> None:
    """Fields the gateway does not act on are kept untouched."""
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "seed": 3,
        "tools": [{"type": "function"}],
        "stream": True,
    }
    chat = parse_chat_request(json.dumps(body).encode())
    assert chat.body == body
    assert chat.stream is True
    assert chat.model == "m"


@pytest.mark.parametrize(
    ("raw", "param", "code"),
    [
        (b"{not json", None, "invalid_json"),
        (b"\xff\xfe", None, "invalid_json"),
        (b"[1, 2]", None, "invalid_json"),
        (
            b'{"model": "m", "messages": [{"role": "user", "content": "a\\ud800b"}]}',
            None,
            "invalid_json",
        ),
        (b'{"messages": [{"role": "user"}]}', "model", "missing_required_parameter"),
        (b'{"model": 3, "messages": [{"role": "user"}]}', "model", "invalid_type"),
        (b'{"model": "a model, said in prose", "messages": []}', "model", "invalid_value"),
        (b'{"model": "' + b"m" * 257 + b'", "messages": []}', "model", "invalid_value"),
        (b'{"model": "m"}', "messages", "missing_required_parameter"),
        (b'{"model": "m", "messages": []}', "messages", "invalid_type"),
        (b'{"model": "m", "messages": ["hi"]}', "messages[0]", "invalid_type"),
        (b'{"model": "m", "messages": [{"role": "wizard"}]}', "messages[0].role", "invalid_value"),
        (
            b'{"model": "m", "messages": [{"role": "user", "content": "a"}], "stream": "yes"}',
            "stream",
            "invalid_type",
        ),
    ],
)
def test_bad_bodies_name_the_parameter(raw: bytes, param: str | None, code: str) -> None:
    """Each malformed body is a 400 naming the offending parameter."""
    with pytest.raises(BadRequest) as info:
        parse_chat_request(raw)
    assert info.value.status_code == 400
    assert info.value.param == param
    assert info.value.code == code


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, None),
        ("", None),
        ("handbook", ["handbook"]),
        (" handbook , pricing ,", ["handbook", "pricing"]),
        (["handbook", " pricing "], ["handbook", "pricing"]),
        ([], []),
    ],
)
def test_corpora_from_string_or_array(raw: object, expected: list[str] | None) -> None:
    """Requested corpora come as a comma-separated string or a JSON array of strings."""
    assert parse_corpora(raw, "metadata.gateway_corpora") == expected


@pytest.mark.parametrize("raw", [5, ["handbook", 3], {"corpus": "handbook"}, True])
def test_corpora_of_another_shape_are_refused(raw: object) -> None:
    """Anything else is a 400 naming the parameter, never a stringified guess."""
    with pytest.raises(BadRequest) as info:
        parse_corpora(raw, "metadata.gateway_corpora")
    assert info.value.param == "metadata.gateway_corpora"
    assert info.value.code == "invalid_type"


def test_surrogate_pairs_are_fine() -> None:
    """An escaped surrogate *pair* is one character (an emoji) and passes."""
    chat = parse_chat_request(
        b'{"model": "m", "messages": [{"role": "user", "content": "hi \\ud83d\\ude00"}]}'
    )
    assert chat.messages[0]["content"] == "hi \U0001f600"
