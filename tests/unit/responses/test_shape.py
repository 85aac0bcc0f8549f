"""Which strings of a Responses body the PII walker analyses."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from gateway.pii.walker import walk
from gateway.responses.shape import RESPONSES

BODY: dict[str, Any] = {
    "model": "gpt-4o-mini",
    "instructions": "Be brief, Alice.",
    "input": [
        {"type": "message", "role": "user", "content": "I am Bob"},
        {
            "role": "user",
            "content": [
                {"type": "input_text", "text": "mail bob@x.org"},
                {"type": "input_image", "image_url": "https://x/y.png", "detail": "auto"},
            ],
        },
        {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "lookup",
         "arguments": "{\"who\": \"Carol\"}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "Carol lives in Oslo"},
        {"type": "some_future_item", "id": "x_1", "payload": {"note": "Dave"}},
    ],
    "tools": [{"type": "function", "name": "lookup", "description": "find Erin",
               "parameters": {"type": "object", "properties": {"who": {"type": "string",
               "description": "a name like Frank"}}, "required": ["who"]}}],
    "metadata": {"ticket": "Gina"},
    "previous_response_id": "resp_1",
    "tool_choice": "auto",
    "user": "Hank",
}  # fmt: skip


def labels(body: Any) -> list[str]:
    return [site.label for site in walk(body, RESPONSES)]


def test_every_caller_string_is_a_site_and_identifiers_are_not() -> None:
    """Content strings are sites; ids, types, roles, names and schema keywords are not."""
    assert labels(BODY) == [
        "instructions",
        "input[0].content",
        "input[1].content[0].text",
        "input[1].content[1].image_url",
        "input[2].arguments",
        "input[3].output",
        "input[4].payload.note",
        "tools[0].description",
        "tools[0].parameters.properties.who.description",
        "metadata.ticket{key}",
        "metadata.ticket",
        "user",
    ]


def test_string_input_is_a_site() -> None:
    """A plain string input is analysed."""
    assert labels({"model": "m", "input": "I am Bob"}) == ["input"]


def test_unknown_top_level_keys_are_content() -> None:
    """Keys under a field OpenAI does not define are the caller's data too."""
    assert labels({"model": "m", "extra": {"Ivan": "x"}}) == ["extra.Ivan{key}", "extra.Ivan"]


@given(st.text(min_size=1), st.sampled_from(["reasoning", "mcp_call", "x_new", "computer_call"]))
def test_any_string_in_an_unknown_item_is_analysed(text: str, kind: str) -> None:
    """Whatever an unknown item type holds under any field, the walker yields it."""
    body = {"model": "m", "input": [{"type": kind, "deep": {"list": [text]}}]}
    assert [site.text for site in walk(body, RESPONSES)] == [text]
