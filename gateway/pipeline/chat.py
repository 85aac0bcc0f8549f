"""Chat completions on the pipeline: parse and the endpoint's compose/restore."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping

from gateway.answer_restore import SseRestorer, restore_completion
from gateway.chat_request import parse_chat_request
from gateway.context import retrieval_query
from gateway.pipeline.parse import gateway_options, note_facts, without_options
from gateway.pipeline.values import Body, Endpoint, ModelCall, Usage
from gateway.prompt import message_tokens
from gateway.redaction.placeholders import Placeholders


def compose_chat(body: Body, context: dict[str, str] | None) -> Body:
    """The caller's (redacted) body with our context first, our own options removed."""
    body = without_options(body)
    messages = list(body["messages"])
    body["messages"] = [context, *messages] if context is not None else messages
    return body


def chat_prompt_tokens(body: Body) -> int:
    return message_tokens(body["messages"])


def chat_summary(body: bytes) -> tuple[Usage | None, str | None]:
    try:
        payload = json.loads(body)
        usage = payload.get("usage")
        finish = payload["choices"][0].get("finish_reason") if payload.get("choices") else None
    except (ValueError, AttributeError, KeyError, IndexError, TypeError):
        return None, None
    return usage, finish


def _restore_stream(
    chunks: AsyncIterator[bytes], placeholders: Placeholders
) -> AsyncIterator[bytes]:
    return SseRestorer(placeholders).process(chunks)


CHAT = Endpoint(
    action="chat.completions",
    upstream_path="chat/completions",
    compose=compose_chat,
    prompt_tokens=chat_prompt_tokens,
    summarize=chat_summary,
    restore_body=restore_completion,
    restore_stream=_restore_stream,
)


def parse_chat(raw: bytes, headers: Mapping[str, str]) -> ModelCall:
    """A chat-completions body (400 for anything OpenAI would refuse) as a ModelCall."""
    chat = parse_chat_request(raw)
    note_facts(model=chat.model, stream=chat.stream)
    options = gateway_options(headers, chat.body)
    return ModelCall(
        endpoint=CHAT,
        model=chat.model,
        body=chat.body,
        stream=chat.stream,
        query=retrieval_query(chat.messages) if options.retrieval else None,
        corpora=options.corpora,
    )
