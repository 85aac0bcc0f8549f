"""Which embeddings bodies load the token-id encoding off the event loop first."""

from __future__ import annotations

import json

import pytest

from gateway.http.embeddings import _TOKEN_INPUT


@pytest.mark.parametrize(
    "body",
    [
        {"model": "m", "input": [15339, 1917]},
        {"input": [[15339], [1917]], "model": "m"},
    ],
)
def test_token_arrays_are_recognised(body: dict[str, object]) -> None:
    """An input of token ids, flat or nested, compact or spaced, is recognised."""
    assert _TOKEN_INPUT.search(json.dumps(body).encode())
    assert _TOKEN_INPUT.search(json.dumps(body, separators=(",", ":")).encode())


@pytest.mark.parametrize(
    "body", [{"model": "m", "input": "12 monkeys"}, {"model": "m", "input": ["1", "2"]}]
)
def test_text_inputs_are_not(body: dict[str, object]) -> None:
    """Text inputs (digits included) do not load the token-id encoding."""
    assert not _TOKEN_INPUT.search(json.dumps(body).encode())
