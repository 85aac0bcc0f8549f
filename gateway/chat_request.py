"""Parse and validate an OpenAI chat-completions request body.

``messages`` is checked against OpenAI's schema (``gateway.chat_schema``): roles, content
types, parts, names, tool calls; the first problem is a 400 naming its ``param``
(``messages[2].content``), as OpenAI does. The body as a whole must be JSON OpenAI would
parse: no NaN or Infinity, no lone surrogates, no nesting deeper than ``MAX_DEPTH``.
Every other field passes through untouched.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from gateway.chat_schema import ROLES, messages_adapter
from gateway.errors import BadRequest

VALID_ROLES = set(ROLES)
# Only a \uD800-\uDFFF escape can put a surrogate into the parsed body.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
# Deepest nesting of arrays and objects accepted (tool schemas need ~20).
MAX_DEPTH = 64
# Most characters of text in one message: the request-time PII analysis (spaCy) cannot
# take more, and no model's context holds more.
MAX_MESSAGE_CHARS = 1_000_000


@dataclass(frozen=True)
class ChatRequest:
    body: dict[str, Any]

    @property
    def model(self) -> str:
        return str(self.body["model"])

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream", False))

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body["messages"])


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """A request body as a JSON object OpenAI would parse, or BadRequest (any endpoint)."""
    try:
        body = json.loads(raw, parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("The request body is not valid JSON.", code="invalid_json") from None
    except RecursionError:
        raise _too_deep() from None
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.", code="invalid_json")
    if _SURROGATE_ESCAPE.search(raw):
        _refuse_lone_surrogates(body)
    if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH:
        _check_depth(body)
    return body


_MODEL_ID = re.compile(r"[A-Za-z0-9._:/@+-]{1,256}")


def required_model(body: dict[str, Any]) -> str:
    """``body["model"]``, a non-empty string, or the 400 OpenAI gives (every endpoint)."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest(
            "'model' is required and must be a non-empty string.",
            param="model",
            code="missing_required_parameter" if model is None else "invalid_type",
        )
    if not _MODEL_ID.fullmatch(model):
        # Not echoed: the id goes into policy reasons, logs and the audit chain, so
        # arbitrary text (or a megabyte of it) is refused before it gets there.
        raise BadRequest(
            "'model' must be a model id: at most 256 letters, digits and . _ : / @ + -",
            param="model",
            code="invalid_value",
        )
    return model


def parse_chat_request(raw: bytes) -> ChatRequest:
    body = parse_json_object(raw)
    required_model(body)
    messages = body.get("messages")
    if messages is None:
        raise BadRequest(
            "'messages' is required.", param="messages", code="missing_required_parameter"
        )
    if not isinstance(messages, list) or not messages:
        raise BadRequest(
            "'messages' must be a non-empty array.", param="messages", code="invalid_type"
        )
    _check_messages(messages)
    if "stream" in body and not isinstance(body["stream"], bool):
        raise BadRequest("'stream' must be a boolean.", param="stream", code="invalid_type")
    return ChatRequest(body)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _too_deep() -> BadRequest:
    return BadRequest(
        f"The request body nests arrays and objects deeper than {MAX_DEPTH} levels.",
        code="invalid_json",
    )


def _check_depth(body: dict[str, Any]) -> None:
    """Iteratively, so a deep body cannot exhaust the stack here or later."""
    stack: list[tuple[Any, int]] = [(body, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _too_deep()
        children = value.values() if isinstance(value, dict) else value
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))


def _check_messages(messages: list[Any]) -> None:
    try:
        messages_adapter().validate_python(messages)
    except ValidationError as exc:
        raise _schema_error(messages, exc) from None
    for index, message in enumerate(messages):
        content = message.get("content")
        if isinstance(content, list):
            size = sum(len(p.get("text") or p.get("refusal") or "") for p in content)
        else:
            size = len(content or "")
        if size > MAX_MESSAGE_CHARS:
            raise BadRequest(
                f"'messages[{index}].content' holds {size} characters; at most "
                f"{MAX_MESSAGE_CHARS} are accepted.",
                param=f"messages[{index}].content",
                code="string_above_max_length",
            )


def _schema_error(messages: list[Any], exc: ValidationError) -> BadRequest:
    """OpenAI's 400 for the deepest problem pydantic found (the union member the input
    was meant as), naming its param; never echoing the input (it may hold PII)."""
    details = exc.errors(include_input=False, include_url=False)
    paths = [_param_path(messages, e) for e in details]
    param, error = max(zip(paths, details, strict=True), key=lambda pe: len(pe[0]))
    kind, ctx = error["type"], error.get("ctx") or {}
    name = "messages" + "".join(param)
    if kind in {"union_tag_invalid", "union_tag_not_found"}:
        name += "." + str(ctx.get("discriminator", "type")).strip("'")
    if kind in {"missing", "union_tag_not_found"}:
        return BadRequest(
            f"Missing required parameter: '{name}'.",
            param=name,
            code="missing_required_parameter",
        )
    if kind in {"union_tag_invalid", "literal_error"}:
        expected = ctx.get("expected_tags") or ctx.get("expected") or ""
        return BadRequest(
            f"Invalid value for '{name}'. Supported values are: {expected}.",
            param=name,
            code="invalid_value",
        )
    return BadRequest(
        f"Invalid type for '{name}': {error['msg'].lower()}.", param=name, code="invalid_type"
    )


def _param_path(messages: list[Any], error: ErrorDetails) -> list[str]:
    """``[2]``, ``.content``... along the input; pydantic's union-member tags are skipped."""
    path: list[str] = []
    value: Any = messages
    loc = error["loc"]
    for position, step in enumerate(loc):
        if isinstance(value, list) and isinstance(step, int) and 0 <= step < len(value):
            path.append(f"[{step}]")
            value = value[step]
        elif isinstance(value, dict) and isinstance(step, str) and step in value:
            path.append(f".{step}")
            value = value[step]
        elif error["type"] == "missing" and position == len(loc) - 1:
            path.append(f".{step}")
    return path


def _refuse_lone_surrogates(body: dict[str, Any]) -> None:
    """A lone UTF-16 surrogate ("\ud800") parses, but no UTF-8 body can carry it on."""
    try:
        json.dumps(body, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise BadRequest(
            "The request body contains an unpaired UTF-16 surrogate.", code="invalid_json"
        ) from None


def parse_corpora(raw: object, param: str) -> list[str] | None:
    """Corpora a request narrows retrieval to: ``"a,b"`` or ``["a", "b"]``; None: no say."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, str):
        values = raw.split(",")
    elif isinstance(raw, list) and all(isinstance(v, str) for v in raw):
        values = raw
    else:
        raise BadRequest(
            f"{param} must be a comma-separated string or an array of strings.",
            param=param,
            code="invalid_type",
        )
    return [v.strip() for v in values if v.strip()]
