"""Parse and validate an OpenAI chat-completions request body.

Only what the gateway acts on is checked; every other field passes through untouched.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from gateway.errors import BadRequest

VALID_ROLES = {"system", "developer", "user", "assistant", "tool", "function"}
# Only a \uD800-\uDFFF escape can put a surrogate into the parsed body.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


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


def parse_chat_request(raw: bytes) -> ChatRequest:
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("The request body is not valid JSON.", code="invalid_json") from None
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.", code="invalid_json")
    if _SURROGATE_ESCAPE.search(raw):
        _refuse_lone_surrogates(body)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest(
            "'model' is required and must be a non-empty string.",
            param="model",
            code="missing_required_parameter" if model is None else "invalid_type",
        )
    messages = body.get("messages")
    if messages is None:
        raise BadRequest(
            "'messages' is required.", param="messages", code="missing_required_parameter"
        )
    if not isinstance(messages, list) or not messages:
        raise BadRequest(
            "'messages' must be a non-empty array.", param="messages", code="invalid_type"
        )
    for index, message in enumerate(messages):
        param = f"messages[{index}]"
        if not isinstance(message, dict):
            raise BadRequest(f"{param} must be an object.", param=param, code="invalid_type")
        if message.get("role") not in VALID_ROLES:
            raise BadRequest(
                f"{param}.role must be one of {sorted(VALID_ROLES)}.",
                param=f"{param}.role",
                code="invalid_value",
            )
    if "stream" in body and not isinstance(body["stream"], bool):
        raise BadRequest("'stream' must be a boolean.", param="stream", code="invalid_type")
    return ChatRequest(body)


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
