"""POST /v1/chat/completions, as a pipeline:

identify -> parse -> authorize -> retrieve/redact/compose -> audit -> forward -> complete.

Each stage's duration goes to the ``Server-Timing`` header and the Prometheus histograms.

Nothing is sent upstream before its audit record is durable; every stage that cannot
answer raises a GatewayError and the request fails closed.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import structlog
from litestar import Request, Response, post
from litestar.di import NamedDependency
from litestar.response import Stream

from gateway.answer_restore import SseRestorer, restore_completion
from gateway.chat_request import ChatRequest, parse_chat_request, parse_corpora
from gateway.context import ScopedContext, build_context
from gateway.errors import BadRequest, GatewayError, NotFound, PolicyDenied
from gateway.identity import Principal
from gateway.metrics import StageTimer
from gateway.policy import Decision
from gateway.redaction.placeholders import Placeholders
from gateway.services import Services

log = structlog.get_logger("gateway.chat")
CHAT_PATH = "chat/completions"
OPTION_PREFIX = "gateway_"


@post("/v1/chat/completions", status_code=200)
async def chat_completions(
    request: Request[Any, Any, Any], services: NamedDependency[Services]
) -> Response[Any] | Stream:
    request_id = str(request.state.request_id)
    timer = StageTimer(services.metrics)
    principal = services.keys.authenticate(request.headers.get("authorization"))
    chat = parse_chat_request(await request.body())
    retrieval_on, corpora = _gateway_options(request, chat)
    with timer.stage("authorize"):
        decision = await services.decisions.authorize(principal, "chat.completions", chat.model)
    base = _audit_base(request, request_id, principal, chat, decision)
    if not decision.allow:
        await services.audit.append(
            "request", {**base, "allowed": False, "denial_reasons": list(decision.reasons)}
        )
        services.metrics.requests.labels(outcome="denied").inc()
        if not decision.model_offered:
            raise NotFound(
                f"The model '{chat.model}' does not exist or you do not have access to it.",
                param="model",
                code="model_not_found",
            )
        raise PolicyDenied("Request denied by policy: " + "; ".join(decision.reasons))

    placeholders = Placeholders(services.redaction_hash_key)
    try:
        context = await build_context(
            services.context_stages(),
            principal=principal,
            chat=chat,
            decision=decision,
            retrieval_on=retrieval_on,
            requested_corpora=corpora,
            placeholders=placeholders,
            timer=timer,
        )
    except Exception as exc:
        # Refused after authorization (Elasticsearch down, untranslatable policy, or a
        # bug): still one audit record for the request, nothing sent upstream.
        code, status = (
            (exc.code, exc.status_code)
            if isinstance(exc, GatewayError)
            else ("internal_error", 500)
        )
        await services.audit.append(
            "request", {**base, "allowed": False, "refused": code, "status": status}
        )
        services.metrics.requests.labels(outcome="refused").inc()
        raise
    body = _upstream_body(chat, context)
    upstream_body = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    with timer.stage("audit"):
        audit_id = await services.audit.append(
            "request",
            {
                **base,
                "allowed": True,
                "policy_revision": context.policy_revision,
                "retrieval": {
                    "enabled": context.query is not None,
                    "query_sha256": _sha(context.query) if context.query else None,
                },
                "chunks": context.chunks_audit,
                "message_redactions": context.message_redactions,
                "upstream_body_sha256": hashlib.sha256(upstream_body).hexdigest(),
                **_stored_prompt(services, upstream_body),
            },
        )
    services.metrics.requests.labels(outcome="forwarded").inc()
    services.metrics.chunks_injected.inc(len(context.chunks_audit))
    restore = (
        placeholders.restricted_to(upstream_body.decode())
        if context.restore and placeholders
        else None
    )
    started = time.perf_counter()
    if chat.stream:
        return await _stream(services, upstream_body, audit_id, started, timer, restore)
    try:
        response = await services.upstream.post_json(CHAT_PATH, upstream_body)
    except GatewayError as exc:
        await _audit_outcome(
            services, audit_id, _ms_since(started), status=exc.status_code, error=exc.code
        )
        raise
    timer.record("upstream", time.perf_counter() - started)
    usage, finish = _summary(response.body)
    # The prompt's record is already durable; the outcome need not delay the answer.
    services.run_in_background(
        _audit_outcome(
            services,
            audit_id,
            _ms_since(started),
            status=response.status_code,
            usage=usage,
            finish_reason=finish,
        )
    )
    content = restore_completion(response.body, restore) if restore else response.body
    return Response(
        content=content,
        status_code=response.status_code,
        media_type=response.headers.get("content-type", "application/json"),
        headers=_headers(audit_id, timer),
    )


def _stored_prompt(services: Services, upstream_body: bytes) -> dict[str, str]:
    """The exact prompt, encrypted, when the deployment chose to keep prompts."""
    if services.prompt_cipher is None:
        return {}
    return {"prompt_encrypted": services.prompt_cipher.encrypt(upstream_body)}


def _headers(audit_id: str, timer: StageTimer) -> dict[str, str]:
    return {"x-gateway-audit-id": audit_id, "server-timing": timer.server_timing()}


def _gateway_options(
    request: Request[Any, Any, Any], chat: ChatRequest
) -> tuple[bool, list[str] | None]:
    """Per-request switches: header ``x-gateway-retrieval: off``, ``x-gateway-corpora``,
    or ``metadata.gateway_retrieval`` / ``metadata.gateway_corpora``."""
    metadata = chat.body.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    switch = request.headers.get("x-gateway-retrieval") or metadata.get("gateway_retrieval")
    if switch not in (None, "on", "off"):
        raise BadRequest(
            "gateway_retrieval must be 'on' or 'off'.", param="metadata", code="invalid_value"
        )
    header = request.headers.get("x-gateway-corpora")
    corpora = (
        parse_corpora(header, "x-gateway-corpora")
        if header
        else parse_corpora(metadata.get("gateway_corpora"), "metadata.gateway_corpora")
    )
    return switch != "off", corpora


def _upstream_body(chat: ChatRequest, context: ScopedContext) -> dict[str, Any]:
    """The caller's body with our context prepended and our own options removed."""
    body = dict(context.body)
    metadata = body.get("metadata")
    if isinstance(metadata, dict):
        kept = {k: v for k, v in metadata.items() if not k.startswith(OPTION_PREFIX)}
        if kept:
            body["metadata"] = kept
        else:
            body.pop("metadata")
    body["messages"] = context.messages
    if context.message is not None:
        body["messages"] = [context.message, *context.messages]
    return body


async def _stream(
    services: Services,
    upstream_body: bytes,
    audit_id: str,
    started: float,
    timer: StageTimer,
    restore: Placeholders | None,
) -> Stream:
    try:
        stream = await services.upstream.stream_json(CHAT_PATH, upstream_body)
    except GatewayError as exc:
        await _audit_outcome(
            services, audit_id, _ms_since(started), status=exc.status_code, error=exc.code
        )
        raise
    timer.record("upstream", time.perf_counter() - started)  # time to the response headers
    chunks = SseRestorer(restore).process(stream.chunks) if restore else stream.chunks
    return Stream(
        _relay(chunks, services, audit_id, started),
        status_code=stream.status_code,
        media_type="text/event-stream",
        headers={**_headers(audit_id, timer), "cache-control": "no-cache"},
    )


async def _relay(
    chunks: AsyncIterator[bytes], services: Services, audit_id: str, started: float
) -> AsyncIterator[bytes]:
    """Pass upstream bytes through; an upstream failure mid-stream becomes an error event."""
    completed = False
    error: str | None = None
    try:
        async for chunk in chunks:
            yield chunk
        completed = True
    except GatewayError as exc:
        error = exc.code
        yield f"data: {json.dumps(exc.to_openai())}\n\n".encode()
    finally:
        # Runs on normal end, upstream error and client disconnect alike.
        services.run_in_background(
            _audit_outcome(
                services,
                audit_id,
                _ms_since(started),
                status=200,
                stream_completed=completed,
                error=error,
            )
        )


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


async def _audit_outcome(
    services: Services, audit_id: str, latency_ms: float, **outcome: Any
) -> None:
    try:
        await services.audit.append(
            "outcome",
            {
                "request_audit_id": audit_id,
                "upstream_latency_ms": latency_ms,
                **{k: v for k, v in outcome.items() if v is not None},
            },
        )
    except GatewayError:
        log.exception("audit_outcome_lost", request_audit_id=audit_id)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _audit_base(
    request: Request[Any, Any, Any],
    request_id: str,
    principal: Principal,
    chat: ChatRequest,
    decision: Decision,
) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "endpoint": "chat.completions",
        "subject": principal.subject,
        "groups": list(principal.groups),
        "key_id": principal.key_id,
        "client_address": request.client.host if request.client else None,
        "user_agent": request.headers.get("user-agent"),
        "model": chat.model,
        "stream": chat.stream,
        "policy_decision_ids": [decision.decision_id] if decision.decision_id else [],
        "policy_decision_cached": decision.cached,
    }


def _summary(body: bytes) -> tuple[dict[str, Any] | None, str | None]:
    try:
        payload = json.loads(body)
        usage = payload.get("usage")
        finish = payload["choices"][0].get("finish_reason") if payload.get("choices") else None
    except (ValueError, AttributeError, KeyError, IndexError, TypeError):
        return None, None
    return usage, finish
