"""The retrieve -> redact -> compose stages of a chat request.

Presidio analysis of the caller's body runs concurrently with retrieval: every string
site the body walker yields (``gateway.pii.walker``: message content, names, tool-call
arguments, tool descriptions, user, metadata, stop, unknown keys...), each cached by
content hash. Then the caller's body is redacted, messages first (so placeholder
numbers follow the conversation's order), then the retrieved chunks from their
ingest-time spans. The result holds the body to send upstream and, for the audit
record, exactly which chunks went in (ids, versions, hashes of the original and the
injected text) and the redactions applied to each body site and chunk (site, types,
operators, counts; never values).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from gateway.analysis.offload import SPAN_WEIGHT, run_sized
from gateway.audit.records import ChunkEntry, Redaction
from gateway.decision_cache import CachedDecisions
from gateway.errors import DENIED_BY_POLICY, PolicyDenied
from gateway.hashing import sha256_hex
from gateway.identity import Principal
from gateway.message_pii import MessageAnalyzer
from gateway.metrics import StageTimer
from gateway.pii.walker import CHAT, BodyShape, Site, walk, write_back
from gateway.policy import Decision
from gateway.prompt import ContextChunk, compose
from gateway.redaction.apply import redact
from gateway.redaction.placeholders import Placeholders
from gateway.redaction.rules import RedactionRules
from gateway.retrieval.retriever import Retrieval, Retriever

# Room left for the answer when sizing the context against the model's window.
ANSWER_RESERVE_TOKENS = 1024
# metadata keys with this prefix are the gateway's own options, removed before upstream.
OPTION_PREFIX = "gateway_"


@dataclass(frozen=True)
class ScopedContext:
    """What the retrieve -> redact -> compose stages made of a request body."""

    body: dict[str, Any]
    """The caller's body with every site redacted."""
    message: dict[str, str] | None = None
    """The composed context (a system message of delimited, cited chunks), if any."""
    query: str | None = None
    chunks_audit: tuple[ChunkEntry, ...] = ()
    message_redactions: tuple[Redaction, ...] = ()
    restore_flags: tuple[bool, ...] = ()
    policy_revision: str | None = None

    @property
    def restore(self) -> bool:
        """Restore the answer's placeholders only if every source that made one allows it."""
        return bool(self.restore_flags) and all(self.restore_flags)


@dataclass(frozen=True)
class ContextStages:
    """What the context stages need from the running gateway."""

    retriever: Retriever
    decisions: CachedDecisions
    analyzer: MessageAnalyzer | None
    k: int
    budget_tokens: int
    shape: BodyShape = CHAT
    """Which strings of the body are content (the endpoint's API: chat by default)."""


def retrieval_query(messages: Sequence[dict[str, Any]]) -> str | None:
    """The text of the last user message (text parts of multi-part content)."""
    for message in reversed(messages):
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
    stages: ContextStages,
    *,
    principal: Principal,
    body: dict[str, Any],
    query: str | None,
    decision: Decision,
    requested_corpora: Sequence[str] | None,
    placeholders: Placeholders,
    timer: StageTimer,
    prompt_tokens: Callable[[dict[str, Any]], int],
) -> ScopedContext:
    """Redact every site of ``body``; retrieve for ``query`` (None: no retrieval) and
    compose what may enter the prompt within the budget left by ``prompt_tokens`` of
    the redacted body."""
    sites = body_sites(body, stages.shape)
    texts = [site for site in sites if site.kind != "binary"]
    analysis = (
        asyncio.create_task(stages.analyzer.spans_for([site.text for site in texts]))
        if stages.analyzer is not None and texts
        else None
    )
    retrieval: Retrieval | None = None
    try:
        if query is not None:
            with timer.stage("retrieve"):
                corpora = _narrow(decision.corpora, requested_corpora)
                retrieval = await stages.retriever.retrieve(
                    principal, query, k=stages.k, corpora=corpora
                )
        with timer.stage("redact"):
            spans = await analysis if analysis is not None else [[] for _ in texts]
    finally:
        if analysis is not None and not analysis.done():
            analysis.cancel()
    with timer.stage("redact"):
        binary = [site for site in sites if site.kind == "binary"]
        redacted, message_redactions, may_restore = await _redact_body(
            stages.decisions, principal, body, texts, spans, binary, placeholders
        )
        context = ScopedContext(
            body=redacted,
            query=query,
            message_redactions=tuple(message_redactions),
            restore_flags=(may_restore,) if message_redactions else (),
        )
        if retrieval is not None and retrieval.chunks:
            budget = decision.context_window - prompt_tokens(redacted) - ANSWER_RESERVE_TOKENS
            context = await _add_chunks(stages, principal, retrieval, budget, placeholders, context)
    return context


def body_sites(body: dict[str, Any], shape: BodyShape = CHAT) -> list[Site]:
    """The body's sites, the conversation first (placeholder numbers follow it), without
    the gateway's own options (they never reach the upstream)."""
    sites = [site for site in walk(body, shape) if not _gateway_option(site)]
    return sorted(sites, key=lambda site: site.path[0] != shape.conversation)


def _gateway_option(site: Site) -> bool:
    path = site.path
    return (
        len(path) == 2
        and path[0] == "metadata"
        and isinstance(path[1], str)
        and path[1].startswith(OPTION_PREFIX)
    )


async def _redact_body(
    decisions: CachedDecisions,
    principal: Principal,
    body: dict[str, Any],
    sites: list[Site],
    spans: list[Any],
    binary: list[Site],
    placeholders: Placeholders,
) -> tuple[dict[str, Any], list[Redaction], bool]:
    if not any(spans) and not binary:
        return body, [], False
    (rules,) = await decisions.redaction_rules(principal, [{"source": "message"}])
    _check_binary(binary, rules)
    # Span resolution grows with the spans as much as with the text: weigh both.
    size = sum(len(site.text) for site in sites) + SPAN_WEIGHT * sum(map(len, spans))
    redacted, redactions = await run_sized(
        size, _apply_site_spans, body, sites, spans, rules, placeholders
    )
    return redacted, redactions, rules.restore


def _apply_site_spans(
    body: dict[str, Any],
    sites: list[Site],
    spans: list[Any],
    rules: RedactionRules,
    placeholders: Placeholders,
) -> tuple[dict[str, Any], list[Redaction]]:
    """Redact every site's spans (CPU-bound: off the event loop when the body is large)."""
    summary: dict[tuple[str, str, str], int] = {}
    replacements: dict[Site, str] = {}
    for site, site_spans in zip(sites, spans, strict=True):
        if not site_spans:
            continue
        result = redact(site.text, site_spans, rules, placeholders)
        if result.text != site.text:
            replacements[site] = result.text
        for (entity, operator), count in result.applied.items():
            key = (site.label, entity, operator)
            summary[key] = summary.get(key, 0) + count
    redactions: list[Redaction] = [
        {"site": label, "entity_type": entity, "operator": operator, "count": count}
        for (label, entity, operator), count in sorted(summary.items())
    ]
    return write_back(body, replacements), redactions


def _check_binary(binary: list[Site], rules: RedactionRules) -> None:
    """Data the analyzer cannot read (images, PDFs, audio) passes only if policy says so."""
    if binary and not rules.allow_binary:
        where = ", ".join(site.label for site in binary[:5])
        raise PolicyDenied(
            f"{DENIED_BY_POLICY}: content the gateway cannot inspect for personal data "
            f"(binary data at {where}) is not allowed."
        )


async def _add_chunks(
    stages: ContextStages,
    principal: Principal,
    retrieval: Retrieval,
    window: int,
    placeholders: Placeholders,
    context: ScopedContext,
) -> ScopedContext:
    classifications = sorted({str(c.get("classification")) for c in retrieval.chunks})
    rules = await stages.decisions.redaction_rules(
        principal, [{"source": "document", "classification": c} for c in classifications]
    )
    rules_by_class = dict(zip(classifications, rules, strict=True))
    prepared: list[tuple[ContextChunk, list[Redaction], bool]] = []
    for chunk in retrieval.chunks:
        chunk_rules = rules_by_class[str(chunk.get("classification"))]
        redacted = redact(
            str(chunk.get("text", "")), chunk.get("pii") or [], chunk_rules, placeholders
        )
        prepared.append(
            (ContextChunk(chunk, redacted.text), redacted.summary(), chunk_rules.restore)
        )
    composed = compose([p[0] for p in prepared], min(stages.budget_tokens, window))
    included = {id(item) for item in composed.included}
    restore_flags = list(context.restore_flags)
    chunks_audit: list[ChunkEntry] = []
    for item, redactions, may_restore in prepared:
        if id(item) not in included:
            continue
        if redactions:
            restore_flags.append(may_restore)
        chunk = item.chunk
        chunks_audit.append(
            {
                "doc_id": chunk.get("doc_id"),
                "doc_version": chunk.get("doc_version"),
                "chunk_id": chunk.get("chunk_id"),
                "corpus": chunk.get("corpus"),
                "classification": chunk.get("classification"),
                "sha256_original": sha256_hex(str(chunk.get("text", ""))),
                "sha256_injected": sha256_hex(item.text),
                "redactions": redactions,
            }
        )
    return dataclasses.replace(
        context,
        message=composed.message,
        chunks_audit=tuple(chunks_audit),
        restore_flags=tuple(restore_flags),
        policy_revision=retrieval.compiled.revision,
    )


def _narrow(allowed: Sequence[str] | None, requested: Sequence[str] | None) -> Sequence[str] | None:
    """A request may narrow the policy's corpora, never widen them."""
    if requested is None:
        return allowed
    if allowed is None:
        return list(requested)
    return [c for c in requested if c in allowed]
