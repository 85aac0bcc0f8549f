"""The retrieve -> redact -> compose stages for a Responses request.

The same stages as chat (``gateway.context``), over the Responses body: every string
site of the body (``gateway.responses.shape``) analysed concurrently with retrieval on
the latest user input, the body redacted (input items first, so placeholder numbers
follow the conversation), then the retrieved chunks from their ingest-time spans,
composed into the context text that goes into ``instructions``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from gateway.context import (
    ContextStages,
    ScopedContext,
    _add_chunks,
    _narrow,
    _redact_body,
)
from gateway.identity import Principal
from gateway.metrics import StageTimer
from gateway.pii.walker import Site, walk
from gateway.policy import Decision
from gateway.redaction.placeholders import Placeholders
from gateway.responses.compose import OPTION_PREFIX, chat_view
from gateway.responses.request import ResponsesRequest, latest_user_text
from gateway.responses.shape import RESPONSES
from gateway.retrieval.retriever import Retrieval

_ORDER = {"input": 0, "instructions": 1}


def body_sites(request: ResponsesRequest) -> list[Site]:
    """The body's sites, input first, without the gateway's own options."""
    sites = [site for site in walk(request.body, RESPONSES) if not _gateway_option(site)]
    return sorted(sites, key=lambda site: _ORDER.get(str(site.path[0]), 2))


def _gateway_option(site: Site) -> bool:
    path = site.path
    return (
        len(path) == 2
        and path[0] == "metadata"
        and isinstance(path[1], str)
        and path[1].startswith(OPTION_PREFIX)
    )


async def build_responses_context(
    stages: ContextStages,
    *,
    principal: Principal,
    request: ResponsesRequest,
    decision: Decision,
    retrieval_on: bool,
    requested_corpora: Sequence[str] | None,
    placeholders: Placeholders,
    timer: StageTimer,
) -> ScopedContext:
    """``body`` is the redacted caller body; ``message`` the composed context (or None)."""
    sites = body_sites(request)
    texts = [site for site in sites if site.kind != "binary"]
    analysis = (
        asyncio.create_task(stages.analyzer.spans_for([site.text for site in texts]))
        if stages.analyzer is not None and texts
        else None
    )
    query = latest_user_text(request) if retrieval_on and decision.retrieval_enabled else None
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
        body, redactions, may_restore = await _redact_body(
            stages.decisions, principal, request.body, texts, spans, binary, placeholders
        )
        context = ScopedContext(
            messages=chat_view(ResponsesRequest(body)),
            body=body,
            query=query,
            message_redactions=redactions,
        )
        if redactions:
            context.restore_flags.append(may_restore)
        if retrieval is not None and retrieval.chunks:
            await _add_chunks(
                stages, principal, retrieval, context.messages, decision, placeholders, context
            )
    return context
