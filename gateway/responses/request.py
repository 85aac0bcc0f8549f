"""Parse and validate a ``POST /v1/responses`` body.

``input`` is a string or a list of items. Items the gateway knows are checked for the
fields it relies on, and the first problem is a 400 naming its ``param``
(``input[2].content[0].text``), as OpenAI does: messages (role, string or content-part
content), ``function_call`` and ``function_call_output``. Item types it does not know
(reasoning, tool calls of hosted tools, those OpenAI adds later) pass, and every string
in them is analysed for PII like any other (``gateway.responses.shape``): refusing them
would break clients replaying a conversation's output, and nothing in them escapes the
walker. Two inputs are refused because the gateway cannot govern what they pull in:
``item_reference`` (an item stored upstream, whose owner the gateway does not know) and
``conversation`` (a conversation object held upstream). Every other field passes
through; ``store``, ``background`` and tool types are then decided by policy.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from gateway.chat_request import required_model
from gateway.errors import BadRequest

# Only a \uD800-\uDFFF escape can put a surrogate into the parsed body.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
MAX_DEPTH = 64
"""Deepest nesting of arrays and objects accepted (as for chat)."""
MAX_ITEM_CHARS = 1_000_000
"""Most characters of text in one input item (as for a chat message)."""

MESSAGE_ROLES = ("user", "assistant", "system", "developer")
INPUT_PARTS = ("input_text", "input_image", "input_file", "input_audio")
OUTPUT_PARTS = ("output_text", "refusal")
REFUSED_ITEMS = {
    "item_reference": (
        "'item_reference' items are not supported by this gateway: it cannot tell whose "
        "item is referenced. Send the item itself, or use 'previous_response_id'."
    ),
}


@dataclass(frozen=True)
class ResponsesRequest:
    body: dict[str, Any]

    @property
    def model(self) -> str:
        return str(self.body["model"])

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))

    @property
    def store(self) -> bool | None:
        """What the caller asked for; None: not said (OpenAI stores by default)."""
        value = self.body.get("store")
        return value if isinstance(value, bool) else None

    @property
    def background(self) -> bool:
        return bool(self.body.get("background"))

    @property
    def previous_response_id(self) -> str | None:
        value = self.body.get("previous_response_id")
        return value if isinstance(value, str) else None

    @property
    def tool_types(self) -> list[str]:
        """The distinct tool types offered to the model, in order."""
        types: list[str] = []
        for tool in self.body.get("tools") or []:
            kind = str(tool.get("type"))
            if kind not in types:
                types.append(kind)
        return types

    def items(self) -> list[dict[str, Any]]:
        """``input`` as a list of items (a string is one user message)."""
        raw = self.body.get("input")
        if isinstance(raw, str):
            return [{"type": "message", "role": "user", "content": raw}]
        return list(raw or [])


def latest_user_text(request: ResponsesRequest) -> str | None:
    """The text of the last user message of ``input`` (its text parts joined)."""
    for item in reversed(request.items()):
        if item.get("role") != "user" or item.get("type", "message") != "message":
            continue
        content = item.get("content")
        if isinstance(content, str):
            return content.strip() or None
        texts = [p.get("text") for p in content or [] if isinstance(p, dict)]
        return " ".join(t for t in texts if isinstance(t, str)).strip() or None
    return None


def parse_responses_request(raw: bytes) -> ResponsesRequest:
    body = _load(raw)
    required_model(body)
    if body.get("conversation") is not None:
        raise BadRequest(
            "'conversation' is not supported by this gateway: conversations are held "
            "upstream where it cannot govern them. Use 'previous_response_id'.",
            param="conversation",
            code="unsupported_parameter",
        )
    _check_input(body)
    for name in ("stream", "store", "background", "parallel_tool_calls"):
        _optional(body, name, bool, "a boolean")
    for name in ("instructions", "previous_response_id"):
        _optional(body, name, str, "a string")
    _optional(body, "metadata", dict, "an object")
    _check_tools(body)
    return ResponsesRequest(body)


def _load(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw, parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("The request body is not valid JSON.", code="invalid_json") from None
    except RecursionError:
        raise _too_deep() from None
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.", code="invalid_json")
    if _SURROGATE_ESCAPE.search(raw):
        try:
            json.dumps(body, ensure_ascii=False).encode()
        except UnicodeEncodeError:
            raise BadRequest(
                "The request body contains an unpaired UTF-16 surrogate.", code="invalid_json"
            ) from None
    if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH:
        stack: list[tuple[Any, int]] = [(body, 1)]
        while stack:
            value, depth = stack.pop()
            if depth > MAX_DEPTH:
                raise _too_deep()
            children = value.values() if isinstance(value, dict) else value
            stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return body


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _too_deep() -> BadRequest:
    return BadRequest(
        f"The request body nests arrays and objects deeper than {MAX_DEPTH} levels.",
        code="invalid_json",
    )


def _optional(body: dict[str, Any], name: str, kind: type, what: str) -> None:
    value = body.get(name)
    if value is not None and not isinstance(value, kind):
        raise BadRequest(f"'{name}' must be {what}.", param=name, code="invalid_type")


def _missing(param: str) -> BadRequest:
    return BadRequest(
        f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter"
    )


def _wrong_type(param: str, what: str) -> BadRequest:
    return BadRequest(
        f"Invalid type for '{param}': expected {what}.", param=param, code="invalid_type"
    )


def _bad_value(param: str, allowed: tuple[str, ...]) -> BadRequest:
    return BadRequest(
        f"Invalid value for '{param}'. Supported values are: {', '.join(allowed)}.",
        param=param,
        code="invalid_value",
    )


def _check_input(body: dict[str, Any]) -> None:
    raw = body.get("input")
    if raw is None:
        if body.get("prompt") is None and body.get("previous_response_id") is None:
            raise _missing("input")
        return
    if isinstance(raw, str):
        _check_size("input", len(raw))
        return
    if not isinstance(raw, list):
        raise _wrong_type("input", "a string or an array of input items")
    for index, item in enumerate(raw):
        _check_item(f"input[{index}]", item)


def _check_item(param: str, item: Any) -> None:
    if not isinstance(item, dict):
        raise _wrong_type(param, "an object")
    kind = item.get("type", "message" if "role" in item else None)
    if kind is None:
        raise _missing(f"{param}.type")
    if not isinstance(kind, str):
        raise _wrong_type(f"{param}.type", "a string")
    if kind in REFUSED_ITEMS:
        raise BadRequest(REFUSED_ITEMS[kind], param=param, code="unsupported_value")
    if kind == "message":
        _check_message(param, item)
    elif kind == "function_call":
        for field in ("call_id", "name", "arguments"):
            _required_string(item, param, field)
        _check_size(param, len(item["arguments"]))
    elif kind == "function_call_output":
        _check_tool_output(param, item)


def _check_tool_output(param: str, item: dict[str, Any]) -> None:
    _required_string(item, param, "call_id")
    output = item.get("output")
    if output is None:
        raise _missing(f"{param}.output")
    if isinstance(output, list):
        _check_parts(f"{param}.output", output, INPUT_PARTS, None)
    elif not isinstance(output, str):
        raise _wrong_type(f"{param}.output", "a string or an array of content parts")
    else:
        _check_size(param, len(output))


def _required_string(item: dict[str, Any], param: str, field: str) -> None:
    value = item.get(field)
    if value is None:
        raise _missing(f"{param}.{field}")
    if not isinstance(value, str):
        raise _wrong_type(f"{param}.{field}", "a string")


def _check_message(param: str, item: dict[str, Any]) -> None:
    role = item.get("role")
    if role is None:
        raise _missing(f"{param}.role")
    if role not in MESSAGE_ROLES:
        raise _bad_value(f"{param}.role", MESSAGE_ROLES)
    content = item.get("content")
    if content is None:
        raise _missing(f"{param}.content")
    if isinstance(content, str):
        _check_size(param, len(content))
        return
    if not isinstance(content, list):
        raise _wrong_type(f"{param}.content", "a string or an array of content parts")
    allowed = (*OUTPUT_PARTS, *INPUT_PARTS) if role == "assistant" else INPUT_PARTS
    _check_parts(f"{param}.content", content, allowed, param)


def _check_parts(
    param: str, parts: list[Any], allowed: tuple[str, ...], item_param: str | None
) -> None:
    size = 0
    for index, part in enumerate(parts):
        where = f"{param}[{index}]"
        if not isinstance(part, dict):
            raise _wrong_type(where, "an object")
        kind = part.get("type")
        if kind is None:
            raise _missing(f"{where}.type")
        if kind not in allowed:
            raise _bad_value(f"{where}.type", allowed)
        if kind in ("input_text", "output_text"):
            _required_string(part, where, "text")
            size += len(part["text"])
        elif kind == "refusal":
            _required_string(part, where, "refusal")
            size += len(part["refusal"])
    _check_size(item_param or param, size)


def _check_size(param: str, size: int) -> None:
    if size > MAX_ITEM_CHARS:
        raise BadRequest(
            f"'{param}' holds {size} characters; at most {MAX_ITEM_CHARS} are accepted.",
            param=param,
            code="string_above_max_length",
        )


def _check_tools(body: dict[str, Any]) -> None:
    tools = body.get("tools")
    if tools is None:
        return
    if not isinstance(tools, list):
        raise _wrong_type("tools", "an array of tools")
    for index, tool in enumerate(tools):
        where = f"tools[{index}]"
        if not isinstance(tool, dict):
            raise _wrong_type(where, "an object")
        _required_string(tool, where, "type")
        if tool["type"] == "function":
            _required_string(tool, where, "name")
