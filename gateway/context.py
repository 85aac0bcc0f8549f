"""The retrieve -> redact -> compose stages of a chat request.

Produces the system message to inject and, for the audit record, exactly which chunks
went in: ids, versions, hashes of the original and the injected text, and the redactions
applied (types, operators, counts; never values).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from gateway.chat_request import ChatRequest
from gateway.identity import Principal
from gateway.policy import Decision, PolicyEngine
from gateway.prompt import ContextChunk, compose, message_tokens
from gateway.redaction.apply import redact
from gateway.redaction.placeholders import Placeholders
from gateway.retrieval.retriever import Retriever

# Room left for the answer when sizing the context against the model's window.
ANSWER_RESERVE_TOKENS = 1024


@dataclass
class ScopedContext:
    message: dict[str, str] | None = None
    query: str | None = None
    chunks_audit: list[dict[str, Any]] = field(default_factory=list)
    placeholders: Placeholders | None = None
    restore: bool = False
    policy_revision: str | None = None


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def retrieval_query(chat: ChatRequest) -> str | None:
    """The text of the last user message (text parts of multi-part content)."""
    for message in reversed(chat.messages):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content.strip() or None
        if isinstance(content, list):
            texts = [p.get("text", "") for p in content if isinstance(p, dict)]
            return " ".join(t for t in texts if isinstance(t, str)).strip() or None
    return None


async def build_context(
    *,
    retriever: Retriever,
    policy: PolicyEngine,
    principal: Principal,
    chat: ChatRequest,
    decision: Decision,
    requested_corpora: Sequence[str] | None,
    placeholders: Placeholders,
    k: int,
    budget_tokens: int,
) -> ScopedContext:
    query = retrieval_query(chat)
    if query is None:
        return ScopedContext(placeholders=placeholders)
    corpora = _narrow(decision.corpora, requested_corpora)
    retrieval = await retriever.retrieve(principal, query, k=k, corpora=corpora)
    classifications = sorted({str(c.get("classification")) for c in retrieval.chunks})
    rules = await policy.redaction_rules(
        principal, [{"source": "document", "classification": c} for c in classifications]
    )
    rules_by_class = dict(zip(classifications, rules, strict=True))
    prepared: list[tuple[ContextChunk, list[dict[str, Any]], bool]] = []
    for chunk in retrieval.chunks:
        text = str(chunk.get("text", ""))
        chunk_rules = rules_by_class[str(chunk.get("classification"))]
        redacted = redact(text, chunk.get("pii") or [], chunk_rules, placeholders)
        prepared.append(
            (ContextChunk(chunk, redacted.text), redacted.summary(), chunk_rules.restore)
        )
    window = decision.context_window - message_tokens(chat.messages) - ANSWER_RESERVE_TOKENS
    context = compose([p[0] for p in prepared], min(budget_tokens, window))
    included = {id(item) for item in context.included}
    audit = []
    restore = True
    for item, redactions, may_restore in prepared:
        if id(item) not in included:
            continue
        restore = restore and may_restore
        chunk = item.chunk
        audit.append(
            {
                "doc_id": chunk.get("doc_id"),
                "doc_version": chunk.get("doc_version"),
                "chunk_id": chunk.get("chunk_id"),
                "corpus": chunk.get("corpus"),
                "classification": chunk.get("classification"),
                "sha256_original": sha256(str(chunk.get("text", ""))),
                "sha256_injected": sha256(item.text),
                "redactions": redactions,
            }
        )
    return ScopedContext(
        message=context.message,
        query=query,
        chunks_audit=audit,
        placeholders=placeholders,
        restore=restore and bool(audit),
        policy_revision=retrieval.compiled.revision,
    )


def _narrow(allowed: Sequence[str] | None, requested: Sequence[str] | None) -> Sequence[str] | None:
    """A request may narrow the policy's corpora, never widen them."""
    if requested is None:
        return allowed
    if allowed is None:
        return list(requested)
    return [c for c in requested if c in allowed]
