"""The Responses body the upstream receives, and the views of it other stages need.

Context goes into ``instructions``, before the caller's own (separated by a blank
line), not into an input item: OpenAI does not carry ``instructions`` over to a
response chained with ``previous_response_id``, so each turn holds only the context
retrieved for it, and the stored conversation (``input_items``) holds only the caller's
items. The gateway's own ``metadata.gateway_*`` options are removed; ``store`` is set to
false when policy does not let this caller store (OpenAI stores by default).
"""

from __future__ import annotations

from typing import Any

from gateway.responses.request import ResponsesRequest

OPTION_PREFIX = "gateway_"


def upstream_body(
    redacted: dict[str, Any], context: str | None, *, store_allowed: bool
) -> dict[str, Any]:
    """``redacted`` (the caller's body, every site redacted) with context and policy applied."""
    body = dict(redacted)
    metadata = body.get("metadata")
    if isinstance(metadata, dict):
        kept = {k: v for k, v in metadata.items() if not str(k).startswith(OPTION_PREFIX)}
        if kept:
            body["metadata"] = kept
        else:
            body.pop("metadata")
    if context:
        own = body.get("instructions")
        body["instructions"] = f"{context}\n\n{own}" if own else context
    if not store_allowed:
        body["store"] = False
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
                    str(p.get("text"))
                    for p in value
                    if isinstance(p, dict) and isinstance(p.get("text"), str)
                )
        messages.append({"role": str(item.get("role", "user")), "content": " ".join(texts)})
    return messages


def rate_limit_view(request: ResponsesRequest) -> dict[str, Any]:
    """What ``gateway.limits.estimate_tokens`` reads (chat's shape)."""
    view: dict[str, Any] = {"messages": chat_view(request)}
    budget = request.body.get("max_output_tokens")
    if isinstance(budget, int) and not isinstance(budget, bool):
        view["max_tokens"] = budget
    return view
