"""Every string of a JSON request body, for PII analysis, and a way to write them back.

Coverage is by construction: the walker visits every string value of the body (and the
keys of free-form maps) except those on an explicit list of non-content fields, so a
field OpenAI adds tomorrow, an unknown extra key or a nested tool argument is analysed
by default rather than forgotten.

Not analysed (``NON_CONTENT``): fields whose value is an identifier, an enum or a name
the API matches exactly, where a placeholder would break the request and a value cannot
carry a caller's data by design:

    model, service_tier, reasoning_effort, verbosity, modalities[], audio.voice/format,
    tool_choice ("auto"... or {type, function.name}), function_call ("auto"/{name}),
    response_format.type and .json_schema.name, prediction.type,
    web_search_options.search_context_size and .user_location.type,
    messages[].role, .tool_call_id, .audio.id, .tool_calls[].id/.type/.function.name,
    .function_call.name, .content[].type, .content[].image_url.detail,
    .content[].input_audio.format, .content[].file.file_id,
    tools[].type, tools[].function.name, functions[].name,
    and inside a JSON schema (tool parameters, response_format schema) the keywords
    type, format, $ref, $schema, $id, $anchor and the entries of required[] (property
    names, which must match the object's keys).

Numbers, booleans and null are not strings and pass untouched. Everything else is a
site: message content and text parts, names, tool-call arguments, tool and parameter
descriptions, user, metadata, stop, prediction content, schema descriptions, enum and
default values, file names, unknown keys.

Keys: object keys are field names of the API's schema and are not analysed, except in
free-form maps (``metadata`` and anything under a top-level key the API does not define),
where a key is as much the caller's data as its value.

Encoded data: ``data:`` URLs and base64 file/audio data are decoded; text (UTF-8) is a
site like any other and is re-encoded when written back; anything else (an image, a PDF,
audio) cannot be analysed and is reported as a ``binary`` site, for the caller to decide.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Path = tuple[str | int, ...]
SiteKind = Literal["value", "key", "encoded", "binary"]

# "[]" matches any list index, "*" any object key.
_ANY = "[]"
_ANY_KEY = "*"
NON_CONTENT: tuple[tuple[str, ...], ...] = (
    ("model",),
    ("service_tier",),
    ("reasoning_effort",),
    ("verbosity",),
    ("modalities", _ANY),
    ("audio", "voice"),
    ("audio", "format"),
    ("tool_choice",),
    ("tool_choice", "type"),
    ("tool_choice", "function", "name"),
    ("function_call",),
    ("function_call", "name"),
    ("response_format", "type"),
    ("response_format", "json_schema", "name"),
    ("prediction", "type"),
    ("web_search_options", "search_context_size"),
    ("web_search_options", "user_location", "type"),
    ("messages", _ANY, "role"),
    ("messages", _ANY, "tool_call_id"),
    ("messages", _ANY, "audio", "id"),
    ("messages", _ANY, "tool_calls", _ANY, "id"),
    ("messages", _ANY, "tool_calls", _ANY, "type"),
    ("messages", _ANY, "tool_calls", _ANY, "function", "name"),
    ("messages", _ANY, "function_call", "name"),
    ("messages", _ANY, "content", _ANY, "type"),
    ("messages", _ANY, "content", _ANY, "image_url", "detail"),
    ("messages", _ANY, "content", _ANY, "input_audio", "format"),
    ("messages", _ANY, "content", _ANY, "file", "file_id"),
    ("tools", _ANY, "type"),
    ("tools", _ANY, "function", "name"),
    ("functions", _ANY, "name"),
)
"""Paths whose string values are identifiers or enums, never analysed."""

SCHEMA_ROOTS: tuple[tuple[str, ...], ...] = (
    ("tools", _ANY, "function", "parameters"),
    ("functions", _ANY, "parameters"),
    ("response_format", "json_schema", "schema"),
)
"""JSON schemas: inside them only the keywords below are non-content."""
SCHEMA_KEYWORDS = frozenset({"type", "format", "$ref", "$schema", "$id", "$anchor"})

KNOWN_TOP_LEVEL = frozenset(
    {
        "messages", "model", "audio", "frequency_penalty", "function_call", "functions",
        "logit_bias", "logprobs", "max_completion_tokens", "max_tokens", "metadata",
        "modalities", "n", "parallel_tool_calls", "prediction", "presence_penalty",
        "prompt_cache_key", "reasoning_effort", "response_format", "safety_identifier",
        "seed", "service_tier", "stop", "store", "stream", "stream_options", "temperature",
        "tool_choice", "tools", "top_logprobs", "top_p", "user", "verbosity",
        "web_search_options",
    }
)  # fmt: skip
"""The chat-completions request fields OpenAI defines; keys under any other are content."""

ENCODED_DATA: tuple[tuple[str, ...], ...] = (
    ("messages", _ANY, "content", _ANY, "image_url", "url"),
    ("messages", _ANY, "content", _ANY, "input_audio", "data"),
    ("messages", _ANY, "content", _ANY, "file", "file_data"),
)
"""Fields holding base64 data or a ``data:`` URL (a plain https URL there is text)."""

_DATA_URL = re.compile(r"data:(?P<mime>[^;,]*)(?P<params>(?:;[^;,]*)*?);base64,", re.ASCII)
_BASE64 = re.compile(r"[A-Za-z0-9+/\s]+=*\s*", re.ASCII)


@dataclass(frozen=True, slots=True)
class BodyShape:
    """Which paths of one API's request body are not content, hold JSON schemas or
    encoded data, and which top-level fields the API defines (keys under any other are
    the caller's data). ``CHAT`` is the chat-completions body; other endpoints (the
    Responses API) bring their own."""

    non_content: tuple[tuple[str, ...], ...]
    schema_roots: tuple[tuple[str, ...], ...]
    known_top_level: frozenset[str]
    encoded_data: tuple[tuple[str, ...], ...]
    conversation: str
    """The field holding the conversation: its sites come first, so placeholder numbers
    follow the conversation's order."""


CHAT = BodyShape(NON_CONTENT, SCHEMA_ROOTS, KNOWN_TOP_LEVEL, ENCODED_DATA, "messages")
ANY_INDEX = _ANY
"""In a shape's path patterns: any list index."""


@dataclass(frozen=True, slots=True)
class Site:
    """One string of the body: where it is, what it says, and how it is stored."""

    path: Path
    text: str
    """For ``encoded`` sites the decoded text; for ``binary`` sites empty."""
    kind: SiteKind = "value"

    @property
    def label(self) -> str:
        """``messages[2].content[0].text``; a key site ends in ``{key}``."""
        return site_label(self.path) + ("{key}" if self.kind == "key" else "")


def site_label(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _matches(path: Path, pattern: tuple[str, ...]) -> bool:
    if len(path) != len(pattern):
        return False
    return all(_part_matches(got, want) for got, want in zip(path, pattern, strict=True))


def _part_matches(got: str | int, want: str) -> bool:
    # A wildcard never matches a key spelled like it ({"[]": ...} is not a list).
    if want == _ANY:
        return isinstance(got, int)
    if want == _ANY_KEY:
        return isinstance(got, str)
    return got == want


def _has_prefix(path: Path, pattern: tuple[str, ...]) -> bool:
    return len(path) > len(pattern) and _matches(path[: len(pattern)], pattern)


def is_non_content(path: Path, shape: BodyShape = CHAT) -> bool:
    """True if the string at ``path`` is an identifier or enum (see the module docstring)."""
    if any(_matches(path, pattern) for pattern in shape.non_content):
        return True
    if any(_has_prefix(path, root) for root in shape.schema_roots):
        last = path[-1]
        if isinstance(last, str) and last in SCHEMA_KEYWORDS:
            return True
        if isinstance(last, int) and len(path) >= 2 and path[-2] == "required":
            return True
    return False


def _keys_are_content(path: Path, shape: BodyShape) -> bool:
    """Free-form maps: ``metadata`` and everything under an unknown top-level key."""
    if not path:
        return False
    head = path[0]
    return head == "metadata" or (isinstance(head, str) and head not in shape.known_top_level)


def walk(body: Any, shape: BodyShape = CHAT) -> Iterator[Site]:
    """Every analysable string of ``body``, depth first, in document order."""
    yield from _walk(body, (), shape)


def _walk(node: Any, path: Path, shape: BodyShape) -> Iterator[Site]:
    if isinstance(node, str):
        if not node or is_non_content(path, shape):
            return
        if any(_matches(path, pattern) for pattern in shape.encoded_data):
            yield _encoded_site(path, node)
        else:
            yield Site(path, node)
    elif isinstance(node, Mapping):
        free_form = _keys_are_content(path, shape)
        for key, value in node.items():
            if free_form and isinstance(key, str) and key:
                yield Site((*path, key), key, "key")
            yield from _walk(value, (*path, key), shape)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, (*path, index), shape)


def _split_data(value: str) -> tuple[str, str] | None:
    """(prefix, base64 payload) of a data URL or bare base64, else None (e.g. https URL)."""
    match = _DATA_URL.match(value)
    if match is not None:
        return value[: match.end()], value[match.end() :]
    if _BASE64.fullmatch(value) and len(value.strip()) % 4 == 0:
        return "", value
    return None


def _encoded_site(path: Path, value: str) -> Site:
    parts = _split_data(value)
    if parts is None:
        return Site(path, value)
    try:
        text = base64.b64decode(parts[1], validate=False).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return Site(path, "", "binary")
    if not text or any(ord(c) < 32 and c not in "\t\r\n" for c in text):
        return Site(path, "", "binary")
    return Site(path, text, "encoded")


def _encode_like(original: str, text: str) -> str:
    parts = _split_data(original)
    prefix = parts[0] if parts is not None else ""
    return prefix + base64.b64encode(text.encode("utf-8")).decode("ascii")


def write_back(body: Any, replacements: Mapping[Site, str]) -> Any:
    """A copy of ``body`` with each site's text replaced; ``body`` itself is unchanged.

    Only the containers on a replaced path are copied. ``encoded`` sites are re-encoded
    the way they came (data URL prefix kept); ``binary`` sites cannot be replaced.
    """
    if not replacements:
        return body
    copies: dict[int, Any] = {}

    def copy_of(node: Any) -> Any:
        existing = copies.get(id(node))
        if existing is None:
            existing = dict(node) if isinstance(node, Mapping) else list(node)
            copies[id(node)] = existing
            copies[id(existing)] = existing
        return existing

    root = copy_of(body) if isinstance(body, Mapping | list) else body
    renames: list[tuple[Any, str, str]] = []
    for site, text in replacements.items():
        if site.kind == "binary":
            raise ValueError(f"a binary site cannot be rewritten: {site.label}")
        if not site.path:
            return text if site.kind == "value" else body
        parent = root
        for part in site.path[:-1]:
            child = copy_of(parent[part])
            parent[part] = child
            parent = child
        last = site.path[-1]
        if site.kind == "key":
            renames.append((parent, str(last), text))
        elif site.kind == "encoded":
            parent[last] = _encode_like(parent[last], text)
        else:
            parent[last] = text
    _rename_keys(renames)
    return root


def _rename_keys(renames: list[tuple[Any, str, str]]) -> None:
    """Rename keys in place, keeping each object's key order (after values are written,
    so a value below a renamed key is found under its old name first)."""
    for parent, old, new in renames:
        if old != new and old in parent:
            items = list(parent.items())
            parent.clear()
            parent.update((new if k == old else k, v) for k, v in items)
