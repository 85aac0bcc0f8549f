import base64
import copy
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.pii.walker import Site, is_non_content, walk, write_back

BODY: dict[str, Any] = {
    "model": "gpt-4o-mini",
    "user": "LewisAbbott@teleworm.us",
    "stop": ["SSN 536-22-8170"],
    "metadata": {"ticket-of-jane@x.example": "call 415 555 0134"},
    "messages": [
        {"role": "system", "content": "Be brief."},
        {
            "role": "user",
            "name": "Jane_Doe",
            "content": [
                {"type": "text", "text": "Card 4193-7394-3055-4701"},
                {"type": "image_url", "image_url": {"url": "https://x.example/a.png"}},
                {
                    "type": "file",
                    "file": {
                        "filename": "jane-doe-cv.txt",
                        "file_data": "data:text/plain;base64,"
                        + base64.b64encode(b"IBAN DE89370400440532013000").decode(),
                    },
                },
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "refusal": "no",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "lookup", "arguments": '{"email": "a@b.example"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "found"},
    ],
    "tools": [
        {
            "type": "function",
            "function": {
                "name": "lookup",
                "description": "Look up a customer",
                "parameters": {
                    "type": "object",
                    "properties": {"email": {"type": "string", "description": "their mail"}},
                    "required": ["email"],
                },
            },
        }
    ],
    "tool_choice": "auto",
    "response_format": {"type": "json_object"},
    "prediction": {"type": "content", "content": "draft"},
    "temperature": 0.2,
    "stream": True,
    "x_vendor": {"note-key": ["free text"]},
}


def labels(body: Any) -> set[str]:
    return {site.label for site in walk(body)}


def test_every_content_field_is_a_site() -> None:
    """Content, names, tool arguments, descriptions, user, stop, metadata, prediction,
    refusal, file names and unknown extra keys are all visited."""
    found = labels(BODY)
    assert {
        "user",
        "stop[0]",
        "metadata.ticket-of-jane@x.example{key}",
        "metadata.ticket-of-jane@x.example",
        "messages[0].content",
        "messages[1].name",
        "messages[1].content[0].text",
        "messages[1].content[1].image_url.url",
        "messages[1].content[2].file.filename",
        "messages[1].content[2].file.file_data",
        "messages[2].refusal",
        "messages[2].tool_calls[0].function.arguments",
        "messages[3].content",
        "tools[0].function.description",
        "tools[0].function.parameters.properties.email.description",
        "prediction.content",
        "x_vendor.note-key{key}",
        "x_vendor.note-key[0]",
    } <= found


def test_identifiers_and_enums_are_not_sites() -> None:
    """model, roles, ids, types, function names, schema keywords and required[] stay."""
    found = labels(BODY)
    for label in [
        "model",
        "messages[0].role",
        "messages[1].content[0].type",
        "messages[2].tool_calls[0].id",
        "messages[2].tool_calls[0].type",
        "messages[2].tool_calls[0].function.name",
        "messages[3].tool_call_id",
        "tools[0].type",
        "tools[0].function.name",
        "tools[0].function.parameters.type",
        "tools[0].function.parameters.required[0]",
        "tool_choice",
        "response_format.type",
        "prediction.type",
    ]:
        assert label not in found


def test_text_data_url_is_decoded_and_re_encoded() -> None:
    """A base64 text file is analysed as text and written back encoded, prefix kept."""
    site = next(s for s in walk(BODY) if s.label.endswith("file_data"))
    assert site.kind == "encoded"
    assert site.text == "IBAN DE89370400440532013000"
    out = write_back(BODY, {site: "IBAN <IBAN_CODE_1>"})
    value = out["messages"][1]["content"][2]["file"]["file_data"]
    assert value.startswith("data:text/plain;base64,")
    assert base64.b64decode(value.split(",", 1)[1]) == b"IBAN <IBAN_CODE_1>"


def test_binary_data_is_a_binary_site() -> None:
    """An image's bytes cannot be analysed: the site says so instead of passing as text."""
    png = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n\x00\x00").decode()
    body = {
        "messages": [
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": png}}]}
        ]
    }
    (site,) = list(walk(body))
    assert site.kind == "binary"
    assert site.text == ""


def test_write_back_copies_and_leaves_the_original() -> None:
    """The input body is never mutated; untouched branches are shared, not copied."""
    before = copy.deepcopy(BODY)
    sites = {s.label: s for s in walk(BODY)}
    out = write_back(
        BODY,
        {
            sites["messages[1].name"]: "<PERSON_1>",
            sites["metadata.ticket-of-jane@x.example{key}"]: "ticket-of-<EMAIL_ADDRESS_1>",
        },
    )
    assert before == BODY
    assert out["messages"][1]["name"] == "<PERSON_1>"
    assert out["metadata"] == {"ticket-of-<EMAIL_ADDRESS_1>": "call 415 555 0134"}
    assert out["tools"] is BODY["tools"]


def test_key_and_value_of_the_same_entry_both_rewritten() -> None:
    """A free-form key and its value may both be redacted in one write."""
    body = {"metadata": {"k@x.example": "v@x.example"}}
    key, value = list(walk(body))
    out = write_back(body, {key: "K", value: "V"})
    assert out == {"metadata": {"K": "V"}}


# A random chat body: known fields with random nesting, unknown extras, random strings.
_text = st.text(min_size=0, max_size=8)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | _text,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["a", "type", "name", "text", "id", "role"]) | _text, inner, max_size=3
        )
    ),
    max_leaves=12,
)
_part = st.fixed_dictionaries(
    {"type": st.sampled_from(["text", "image_url", "file"])},
    optional={
        "text": _text,
        "image_url": st.fixed_dictionaries({"url": _text}, optional={"detail": _text}),
        "file": st.fixed_dictionaries(
            {}, optional={"filename": _text, "file_data": _text, "file_id": _text}
        ),
        "extra": _json,
    },
)
_message = st.fixed_dictionaries(
    {"role": st.sampled_from(["system", "user", "assistant", "tool"])},
    optional={
        "content": _text | st.lists(_part, max_size=3) | st.none(),
        "name": _text,
        "refusal": _text,
        "tool_call_id": _text,
        "tool_calls": st.lists(
            st.fixed_dictionaries(
                {"id": _text, "type": st.just("function")},
                optional={"function": st.fixed_dictionaries({"name": _text, "arguments": _text})},
            ),
            max_size=2,
        ),
        "function_call": st.fixed_dictionaries({"name": _text, "arguments": _text}),
        "whatever": _json,
    },
)
_body = st.fixed_dictionaries(
    {"model": _text, "messages": st.lists(_message, min_size=1, max_size=4)},
    optional={
        "user": _text,
        "stop": _text | st.lists(_text, max_size=3),
        "metadata": st.dictionaries(_text, _text, max_size=3),
        "tools": st.lists(
            st.fixed_dictionaries(
                {
                    "type": st.just("function"),
                    "function": st.fixed_dictionaries(
                        {"name": _text}, optional={"description": _text, "parameters": _json}
                    ),
                }
            ),
            max_size=2,
        ),
        "tool_choice": _text | _json,
        "response_format": _json,
        "prediction": _json,
        "temperature": st.floats(allow_nan=False),
        "extra_field": _json,
        "another": _json,
    },
)

MARK = "«seen»"


def _leaves(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], str]]:
    if isinstance(node, str):
        return [(path, node)]
    if isinstance(node, dict):
        return [leaf for k, v in node.items() for leaf in _leaves(v, (*path, k))]
    if isinstance(node, list):
        return [leaf for i, v in enumerate(node) for leaf in _leaves(v, (*path, i))]
    return []


def _objects(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    found: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    if isinstance(node, dict):
        found.append((path, node))
        for k, v in node.items():
            found += _objects(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            found += _objects(v, (*path, i))
    return found


def test_a_key_spelled_like_a_wildcard_is_not_exempt() -> None:
    """{"modalities": {"[]": ...}} is not the list the allowlist means: it is analysed."""
    assert labels({"modalities": {"[]": "secret"}, "tool_choice": {"x": "y"}}) == {
        "modalities.[]",
        "tool_choice.x",
    }


@settings(max_examples=300)
@given(_body)
def test_every_string_site_of_a_random_chat_body_is_visited(body: dict[str, Any]) -> None:
    """After rewriting every visited site, every string left in the body is empty, a
    rewritten one, or on the non-content list: nothing else escapes the walker."""
    sites = list(walk(body))
    out = write_back(body, {s: MARK for s in sites if s.kind != "binary"})
    binary = {s.path for s in sites if s.kind == "binary"}
    for path, value in _leaves(out):
        if value in ("", MARK) or path in binary or is_non_content(path):
            continue
        decoded = [s for s in walk(out) if s.path == path and s.kind == "encoded"]
        assert decoded, (path, value)
        assert decoded[0].text == MARK, (path, value)
    for path, node in _objects(out):
        if path and (path[0] == "metadata" or path[0] in ("extra_field", "another")):
            assert all(key in ("", MARK) for key in node), (path, list(node))
    json.dumps(out)  # still a JSON body


@settings(max_examples=100)
@given(_body)
def test_walking_is_pure(body: dict[str, Any]) -> None:
    """Walking and writing nothing back returns the same body and never mutates it."""
    before = copy.deepcopy(body)
    sites = list(walk(body))
    assert write_back(body, {}) is body
    assert body == before
    assert all(isinstance(s, Site) for s in sites)
