"""POST /v1/chat/completions: identify -> authorize -> audit -> forward -> complete.

Retrieval, redaction and context composition join this pipeline between authorize and
audit (see DESIGN.md); the order of the remaining stages is fixed: nothing is sent
upstream before its audit record is durable.
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

from gateway.chat_request import ChatRequest, parse_chat_request
from gateway.errors import GatewayError, PolicyDenied
from gateway.identity import Principal
from gateway.services import Services

log = structlog.get_logger("gateway.chat")
CHAT_PATH = "chat/completions"


@post("/v1/chat/completions", status_code=200)
async def chat_completions(
    request: Request[Any, Any, Any], services: NamedDependency[Services]
) -> Response[Any] | Stream:
    request_id = str(request.state.request_id)
    principal = services.keys.authenticate(request.headers.get("authorization"))
    chat = parse_chat_request(await request.body())
    decision = await services.policy.authorize(principal, "chat.completions", chat.model)
    base = _audit_base(request, request_id, principal, chat, decision.decision_id)
    if not decision.allow:
        await services.audit.append(
            "request", {**base, "allowed": False, "denial_reasons": list(decision.reasons)}
        )
        raise PolicyDenied("Request denied by policy: " + "; ".join(decision.reasons))

    upstream_body = json.dumps(chat.body, ensure_ascii=False, separators=(",", ":")).encode()
    audit_id = await services.audit.append(
        "request",
        {
            **base,
            "allowed": True,
            "upstream_body_sha256": hashlib.sha256(upstream_body).hexdigest(),
            "chunks": [],
        },
    )
    headers = {"x-gateway-audit-id": audit_id}
    started = time.perf_counter()
    if chat.stream:
        try:
            stream = await services.upstream.stream_json(CHAT_PATH, upstream_body)
        except GatewayError as exc:
            await _audit_outcome(
                services, audit_id, started, status=exc.status_code, error=exc.code
            )
            raise
        return Stream(
            _relay(stream.chunks, services, audit_id, started),
            status_code=stream.status_code,
            media_type="text/event-stream",
            headers={**headers, "cache-control": "no-cache"},
        )
    try:
        response = await services.upstream.post_json(CHAT_PATH, upstream_body)
    except GatewayError as exc:
        await _audit_outcome(services, audit_id, started, status=exc.status_code, error=exc.code)
        raise
    usage, finish = _summary(response.body)
    await _audit_outcome(
        services, audit_id, started, status=response.status_code, usage=usage, finish_reason=finish
    )
    return Response(
        content=response.body,
        status_code=response.status_code,
        media_type=response.headers.get("content-type", "application/json"),
        headers=headers,
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
                services, audit_id, started, status=200, stream_completed=completed, error=error
            )
        )


async def _audit_outcome(services: Services, audit_id: str, started: float, **outcome: Any) -> None:
    try:
        await services.audit.append(
            "outcome",
            {
                "request_audit_id": audit_id,
                "upstream_latency_ms": round((time.perf_counter() - started) * 1000, 2),
                **{k: v for k, v in outcome.items() if v is not None},
            },
        )
    except GatewayError:
        log.exception("audit_outcome_lost", request_audit_id=audit_id)


def _audit_base(
    request: Request[Any, Any, Any],
    request_id: str,
    principal: Principal,
    chat: ChatRequest,
    decision_id: str | None,
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
        "policy_decision_ids": [decision_id] if decision_id else [],
    }


def _summary(body: bytes) -> tuple[dict[str, Any] | None, str | None]:
    try:
        payload = json.loads(body)
        usage = payload.get("usage")
        finish = payload["choices"][0].get("finish_reason") if payload.get("choices") else None
    except (ValueError, AttributeError, KeyError, IndexError, TypeError):
        return None, None
    return usage, finish
