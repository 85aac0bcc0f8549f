"""Which strings of a Responses API request body are content (see ``gateway.pii.walker``).

Everything is analysed except identifiers and enums a placeholder would break: the
model, item types, roles, ids and ``call_id``s, function names, content-part types and
image detail, file ids, include[] and the other option enums; inside JSON schemas (tool
parameters, ``text.format.schema``) the schema keywords. Item types the gateway does not
know are walked like any other JSON: every string in them is analysed.
"""

from __future__ import annotations

from gateway.pii.walker import ANY_INDEX as _I
from gateway.pii.walker import BodyShape

NON_CONTENT: tuple[tuple[str, ...], ...] = (
    ("model",),
    ("service_tier",),
    ("truncation",),
    ("include", _I),
    ("previous_response_id",),
    ("prompt_cache_retention",),
    ("prompt", "id"),
    ("prompt", "version"),
    ("reasoning", "effort"),
    ("reasoning", "summary"),
    ("reasoning", "generate_summary"),
    ("text", "format", "type"),
    ("text", "format", "name"),
    ("text", "verbosity"),
    ("tool_choice",),
    ("tool_choice", "type"),
    ("tool_choice", "name"),
    ("tool_choice", "mode"),
    ("tool_choice", "tools", _I, "type"),
    ("tool_choice", "tools", _I, "name"),
    ("input", _I, "type"),
    ("input", _I, "role"),
    ("input", _I, "id"),
    ("input", _I, "call_id"),
    ("input", _I, "status"),
    ("input", _I, "name"),
    ("input", _I, "content", _I, "type"),
    ("input", _I, "content", _I, "detail"),
    ("input", _I, "content", _I, "file_id"),
    ("input", _I, "content", _I, "format"),
    ("input", _I, "output", _I, "type"),
    ("input", _I, "output", _I, "detail"),
    ("input", _I, "output", _I, "file_id"),
    ("input", _I, "summary", _I, "type"),
    ("tools", _I, "type"),
    ("tools", _I, "name"),
)
"""Paths whose string values are identifiers or enums, never analysed."""

SCHEMA_ROOTS: tuple[tuple[str, ...], ...] = (
    ("tools", _I, "parameters"),
    ("text", "format", "schema"),
)

KNOWN_TOP_LEVEL = frozenset(
    {
        "background", "conversation", "include", "input", "instructions",
        "max_output_tokens", "max_tool_calls", "metadata", "model", "parallel_tool_calls",
        "previous_response_id", "prompt", "prompt_cache_key", "prompt_cache_retention",
        "reasoning", "safety_identifier", "service_tier", "store", "stream",
        "stream_options", "temperature", "text", "tool_choice", "tools", "top_logprobs",
        "top_p", "truncation", "user",
    }
)  # fmt: skip
"""The Responses request fields OpenAI defines; keys under any other are content."""

ENCODED_DATA: tuple[tuple[str, ...], ...] = (
    ("input", _I, "content", _I, "image_url"),
    ("input", _I, "content", _I, "file_data"),
    ("input", _I, "output", _I, "image_url"),
    ("input", _I, "output", _I, "file_data"),
)
"""Fields holding base64 data or a ``data:`` URL (a plain https URL there is text)."""

RESPONSES = BodyShape(NON_CONTENT, SCHEMA_ROOTS, KNOWN_TOP_LEVEL, ENCODED_DATA, "input")
