"""Parsing POST /v1/embeddings bodies (no services)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import BadRequest
from gateway.pipeline.embeddings import EMBEDDINGS, MAX_INPUTS, embeddings_summary, parse_embeddings
from gateway.tokens import encoding


def _parse(body: Any) -> Any:
    return parse_embeddings(json.dumps(body).encode(), {})


def test_string_and_list_inputs_keep_their_shape() -> None:
    """A string stays a string, a list a list; the call names the embeddings endpoint."""
    one = _parse({"model": "e", "input": "hello"})
    many = _parse({"model": "e", "input": ["a", "b"], "user": "u"})
    assert one.body["input"] == "hello"
    assert many.body["input"] == ["a", "b"]
    assert many.body["user"] == "u"
    assert one.endpoint is EMBEDDINGS
    assert one.stream is False
    assert one.query is None


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=50), min_size=1, max_size=5))
def test_every_input_is_hashed(texts: list[str]) -> None:
    """The record's hashes are those of the inputs, in order, for any texts."""
    call = _parse({"model": "e", "input": texts})
    assert call.input_sha256 == tuple(hashlib.sha256(t.encode()).hexdigest() for t in texts)


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=80))
def test_token_arrays_become_their_text(text: str) -> None:
    """cl100k_base token ids are forwarded as the text they encode, whatever the text
    (special-token strings such as ``<|endoftext|>`` included: Hypothesis draws the
    code's own string constants, and ``encode`` would raise on them)."""
    tokens = encoding("cl100k_base").encode_ordinary(text)
    assert _parse({"model": "e", "input": tokens}).body["input"] == text
    assert _parse({"model": "e", "input": [tokens]}).body["input"] == [text]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": "x"}, "model"),
        ({"model": "", "input": "x"}, "model"),
        ({"model": "e"}, "input"),
        ({"model": "e", "input": None}, "input"),
        ({"model": "e", "input": ""}, "input"),
        ({"model": "e", "input": []}, "input"),
        ({"model": "e", "input": ["a", ""]}, "input[1]"),
        ({"model": "e", "input": ["a", [1, 2], None]}, "input[2]"),
        ({"model": "e", "input": [[1], []]}, "input[1]"),
        ({"model": "e", "input": [-1]}, "input"),
        ({"model": "e", "input": [True]}, "input[0]"),
        ({"model": "e", "input": [10**12]}, "input"),
        ({"model": "e", "input": ["x"] * (MAX_INPUTS + 1)}, "input"),
        ({"model": "e", "input": "x", "encoding_format": "int8"}, "encoding_format"),
        ({"model": "e", "input": "x", "dimensions": -3}, "dimensions"),
        ({"model": "e", "input": "x", "dimensions": True}, "dimensions"),
    ],
)
def test_refused_inputs_name_their_param(body: dict[str, Any], param: str) -> None:
    """What OpenAI would refuse is a 400 naming the offending param."""
    with pytest.raises(BadRequest) as caught:
        _parse(body)
    assert caught.value.param == param


def test_body_must_be_a_json_object() -> None:
    """Not JSON or not an object: 400 invalid_json, as for chat."""
    for raw in (b"{", b"[]", b'{"model": NaN}'):
        with pytest.raises(BadRequest) as caught:
            parse_embeddings(raw, {})
        assert caught.value.code == "invalid_json"


def test_summary_reads_usage() -> None:
    """The outcome record gets the upstream's usage; no finish reason for embeddings."""
    assert embeddings_summary(b'{"usage": {"total_tokens": 3}}') == ({"total_tokens": 3}, None)
    assert embeddings_summary(b"not json") == (None, None)


def test_embeddings_never_restore() -> None:
    """Vectors carry no placeholders: the endpoint has no restorer."""
    assert EMBEDDINGS.restore_body is None
    assert EMBEDDINGS.restore_stream is None
