"""POST /v1/responses as a pipeline, like chat:

identify -> parse -> authorize (model: ``gateway.authz``; store, background, tools:
``gateway.responses``; ``previous_response_id``: the caller's own) -> retrieve/redact/
compose -> audit -> forward -> complete.

Nothing is sent upstream before its audit record is durable; every stage that cannot
answer raises a GatewayError and the request fails closed. The owner of the response id
is recorded before the caller sees the id.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog

from gateway.analysis.offload import run_sized
from gateway.chat_request import parse_corpora
from gateway.context import ScopedContext
from gateway.errors import BadRequest, GatewayError, NotFound, PolicyDenied
from gateway.http.admission import admit, settle
from gateway.identity import Principal
from gateway.metrics import StageTimer
from gateway.policy import Decision
from gateway.redaction.placeholders import Placeholders
from gateway.request_scope import current_request
from gateway.responses import policy
from gateway.responses.access import check_owner
from gateway.responses.compose import rate_limit_view, upstream_body
from gateway.responses.context import build_responses_context
from gateway.responses.request import ResponsesRequest
from gateway.responses.restore import restore_response_body
from gateway.services import Services
from gateway.upstream import UpstreamResponse, UpstreamStream

log = structlog.get_logger("gateway.responses")
ENDPOINT = "responses.create"
UPSTREAM_PATH = "responses"


@dataclass
class Prepared:
    """A request that passed every check, audited and ready to forward."""

    principal: Principal
    request: ResponsesRequest
    body: bytes
    audit_id: str
    restore: Placeholders | None
    timer: StageTimer
    started: float = field(default_factory=time.perf_counter)


async def prepare(
    services: Services,
    principal: Principal,
    request: ResponsesRequest,
    headers: Mapping[str, str],
    timer: StageTimer,
) -> Prepared:
    """Authorize, scope, redact and audit; raises (after auditing) if anything refuses."""
    scope = current_request()
    if scope is not None:
        scope.facts.update(model=request.model, stream=request.stream)
    retrieval_on, corpora = gateway_options(headers, request)
    with timer.stage("authorize"):
        decision = await services.decisions.authorize(principal, ENDPOINT, request.model)
        options = (
            await policy.decide(services.policy, principal, ENDPOINT, policy.create_facts(request))
            if decision.allow
            else None
        )
    base = _audit_base(principal, request, decision, options)
    if options is None or not options.allow:
        reasons = list((options or decision).reasons)
        await services.audit.append(
            "request", {**base, "allowed": False, "denial_reasons": reasons}
        )
        services.metrics.requests.labels(outcome="denied").inc()
        if options is None and not decision.model_offered:
            raise NotFound(
                f"The model '{request.model}' does not exist or you do not have access to it.",
                param="model",
                code="model_not_found",
            )
        raise PolicyDenied("Request denied by policy: " + "; ".join(reasons))
    if request.previous_response_id is not None:
        await check_owner(
            services, principal, request.previous_response_id, ENDPOINT, "previous_response_id"
        )
    await admit(services, principal, rate_limit_view(request))
    placeholders = Placeholders(services.redaction_hash_key)
    try:
        context = await build_responses_context(
            services.context_stages(),
            principal=principal,
            request=request,
            decision=decision,
            retrieval_on=retrieval_on,
            requested_corpora=corpora,
            placeholders=placeholders,
            timer=timer,
        )
    except Exception as exc:
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
    body = _encode(
        upstream_body(
            context.body,
            context.message["content"] if context.message else None,
            store_allowed=options.store,
        )
    )
    with timer.stage("audit"):
        audit_id = await services.audit.append(
            "request", _allowed_record(services, base, context, body)
        )
    services.metrics.requests.labels(outcome="forwarded").inc()
    services.metrics.chunks_injected.inc(len(context.chunks_audit))
    restore = (
        await run_sized(len(body), placeholders.restricted_to, body.decode())
        if context.restore and placeholders
        else None
    )
    return Prepared(principal, request, body, audit_id, restore, timer)


def gateway_options(
    headers: Mapping[str, str], request: ResponsesRequest
) -> tuple[bool, list[str] | None]:
    """Per-request switches, as for chat: ``x-gateway-retrieval: off``,
    ``x-gateway-corpora``, or ``metadata.gateway_retrieval`` / ``metadata.gateway_corpora``."""
    metadata = request.body.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    switch = headers.get("x-gateway-retrieval") or metadata.get("gateway_retrieval")
    if switch not in (None, "on", "off"):
        raise BadRequest(
            "gateway_retrieval must be 'on' or 'off'.", param="metadata", code="invalid_value"
        )
    header = headers.get("x-gateway-corpora")
    corpora = (
        parse_corpora(header, "x-gateway-corpora")
        if header
        else parse_corpora(metadata.get("gateway_corpora"), "metadata.gateway_corpora")
    )
    return switch != "off", corpora


def _encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def _audit_base(
    principal: Principal,
    request: ResponsesRequest,
    decision: Decision,
    options: policy.ResponsesDecision | None,
) -> dict[str, Any]:
    scope = current_request()
    ids = [d.decision_id for d in (decision, options) if d is not None and d.decision_id]
    return {
        **(scope.record_fields() if scope is not None else {}),
        "endpoint": ENDPOINT,
        "subject": principal.subject,
        "groups": list(principal.groups),
        "key_id": principal.key_id,
        "policy_revision": scope.policy_revision if scope is not None else None,
        "model": request.model,
        "stream": request.stream,
        "store": options.store if options is not None else None,
        "previous_response_id": request.previous_response_id,
        "policy_decision_ids": ids,
        "policy_decision_cached": decision.cached,
    }


def _allowed_record(
    services: Services, base: dict[str, Any], context: ScopedContext, body: bytes
) -> dict[str, Any]:
    record = {
        **base,
        "allowed": True,
        "policy_revision": context.policy_revision or base["policy_revision"],
        "retrieval": {
            "enabled": context.query is not None,
            "query_sha256": (
                hashlib.sha256(context.query.encode()).hexdigest() if context.query else None
            ),
        },
        "chunks": context.chunks_audit,
        "message_redactions": context.message_redactions,
        "upstream_body_sha256": hashlib.sha256(body).hexdigest(),
    }
    if services.prompt_cipher is not None:
        record["prompt_encrypted"] = services.prompt_cipher.encrypt(body)
    return record


async def forward(services: Services, prepared: Prepared) -> UpstreamResponse:
    """The upstream's answer (restored where allowed); its owner recorded first."""
    try:
        response = await services.upstream.post_json(UPSTREAM_PATH, prepared.body)
    except GatewayError as exc:
        await audit_outcome(services, prepared, status=exc.status_code, error=exc.code)
        exc.headers["x-gateway-audit-id"] = prepared.audit_id
        raise
    prepared.timer.record("upstream", time.perf_counter() - prepared.started)
    payload = _json(response.body)
    response_id = payload.get("id")
    if isinstance(response_id, str):
        services.response_owners.record(prepared.principal.subject, response_id)
    usage = payload.get("usage") if isinstance(payload.get("usage"), dict) else None
    settle(services, prepared.principal, usage)
    services.run_in_background(
        audit_outcome(
            services,
            prepared,
            status=response.status_code,
            usage=usage,
            response_id=response_id,
            response_status=payload.get("status"),
        )
    )
    if prepared.restore is not None:
        response.body = await run_sized(
            len(response.body), restore_response_body, response.body, prepared.restore
        )
    return response


async def open_stream(services: Services, prepared: Prepared) -> UpstreamStream:
    try:
        stream = await services.upstream.stream_json(UPSTREAM_PATH, prepared.body)
    except GatewayError as exc:
        await audit_outcome(services, prepared, status=exc.status_code, error=exc.code)
        exc.headers["x-gateway-audit-id"] = prepared.audit_id
        raise
    prepared.timer.record("upstream", time.perf_counter() - prepared.started)
    return stream


def _json(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


async def audit_outcome(services: Services, prepared: Prepared, **outcome: Any) -> None:
    try:
        await services.audit.append(
            "outcome",
            {
                "request_audit_id": prepared.audit_id,
                "upstream_latency_ms": round((time.perf_counter() - prepared.started) * 1000, 2),
                **{k: v for k, v in outcome.items() if v is not None},
            },
        )
    except GatewayError:
        log.exception("audit_outcome_lost", request_audit_id=prepared.audit_id)
