"""The Responses API on the pipeline (``gateway.pipeline``): parse and the endpoint.

Context goes into ``instructions``, before the caller's own (separated by a blank
line), not into an input item: OpenAI does not carry ``instructions`` over to a response
chained with ``previous_response_id``, so each turn holds only the context retrieved
for it, and the stored conversation (``input_items``) holds only the caller's items.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

from gateway.pipeline import ModelCall, gateway_options, note_facts, without_options
from gateway.pipeline.values import Body, Endpoint, Usage
from gateway.prompt import message_tokens
from gateway.redaction.placeholders import Placeholders
from gateway.responses.request import (
    ResponsesRequest,
    latest_user_text,
    parse_responses_request,
)
from gateway.responses.restore import ResponseEventRelay, restore_response_body
from gateway.responses.stream_end import ResponsesStreamEnd

ACTION = "responses.create"


def compose_responses(body: Body, context: dict[str, str] | None) -> Body:
    """The caller's (redacted) body with our context before its instructions."""
    body = without_options(body)
    if context is not None:
        own = body.get("instructions")
        body["instructions"] = f"{context['content']}\n\n{own}" if own else context["content"]
    return body


def chat_view(request: ResponsesRequest) -> list[dict[str, Any]]:
    """The input as chat-like messages, for token estimates (rate limits, the context
    budget): instructions and every item's text."""
    messages: list[dict[str, Any]] = []
    instructions = request.body.get("instructions")
    if isinstance(instructions, str):
        messages.append({"role": "system", "content": instructions})
    for item in request.items():
        texts: list[str] = []
        for key in ("content", "output", "arguments"):
            value = item.get(key)
            if isinstance(value, str):
                texts.append(value)
            elif isinstance(value, list):
                texts.extend(
                    p["text"]
                    for p in value
                    if isinstance(p, dict) and isinstance(p.get("text"), str)
                )
        messages.append({"role": str(item.get("role", "user")), "content": " ".join(texts)})
    return messages


def rate_limit_view(request: ResponsesRequest) -> dict[str, Any]:
    """What the per-caller limits estimate (``gateway.limits.estimate_tokens``: chat's
    shape): every item's text and ``max_output_tokens``."""
    view: dict[str, Any] = {"messages": chat_view(request)}
    budget = request.body.get("max_output_tokens")
    if isinstance(budget, int) and not isinstance(budget, bool):
        view["max_tokens"] = budget
    return view


def responses_prompt_tokens(body: Body) -> int:
    return message_tokens(chat_view(ResponsesRequest(body)))


def responses_summary(body: bytes) -> tuple[Usage | None, str | None]:
    """``(usage, status)``: a response's status stands in for chat's finish reason."""
    try:
        payload = json.loads(body)
    except ValueError:
        return None, None
    if not isinstance(payload, dict):
        return None, None
    usage, status = payload.get("usage"), payload.get("status")
    return (
        usage if isinstance(usage, dict) else None,
        status if isinstance(status, str) else None,
    )


def _restore_stream(
    chunks: AsyncIterator[bytes], placeholders: Placeholders
) -> AsyncIterator[bytes]:
    return ResponseEventRelay(placeholders, lambda _id: None).process(chunks)


RESPONSES = Endpoint(
    action=ACTION,
    upstream_path="responses",
    compose=compose_responses,
    prompt_tokens=responses_prompt_tokens,
    summarize=responses_summary,
    restore_body=restore_response_body,
    restore_stream=_restore_stream,
    stream_end=ResponsesStreamEnd,
)


def parse_responses(raw: bytes, headers: Mapping[str, str]) -> tuple[ModelCall, ResponsesRequest]:
    """A Responses body (400 for anything refused, see ``gateway.responses.request``)."""
    request = parse_responses_request(raw)
    note_facts(model=request.model, stream=request.stream)
    options = gateway_options(headers, request.body)
    call = ModelCall(
        endpoint=RESPONSES,
        model=request.model,
        body=request.body,
        stream=request.stream,
        query=latest_user_text(request) if options.retrieval else None,
        corpora=options.corpora,
    )
    return call, request
