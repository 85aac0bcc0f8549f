"""The audit stage: the request record (before anything leaves) and the outcome record.

Every model request leaves one request record: denied, refused after authorization,
or allowed with exactly what entered the prompt. The outcome record completes an allowed
one once the upstream answered (or failed, or the client went away).
"""

from __future__ import annotations

from typing import Any

import structlog

from gateway.audit.records import OutcomeRecord, RequestRecord
from gateway.errors import GatewayError
from gateway.hashing import sha256_hex
from gateway.metrics import StageTimer
from gateway.pipeline.ports import Ports
from gateway.pipeline.values import Audited, Authorized, Prepared
from gateway.request_scope import current_request

log = structlog.get_logger("gateway.pipeline")


def request_record(authorized: Authorized, *, allowed: bool) -> RequestRecord:
    """The fields every request record of this call starts with."""
    caller, call, decision = authorized.caller, authorized.call, authorized.decision
    principal = caller.principal
    scope = current_request()
    return {
        "request_id": caller.request_id,
        "client_request_id": scope.client_request_id if scope else None,
        "endpoint": call.endpoint.action,
        "subject": principal.subject,
        "groups": list(principal.groups),
        "key_id": principal.key_id,
        "client_address": scope.client_address if scope else None,
        "user_agent": scope.user_agent if scope else None,
        "policy_revision": scope.policy_revision if scope else None,
        "model": call.model,
        "stream": call.stream,
        "policy_decision_ids": [decision.decision_id] if decision.decision_id else [],
        "policy_decision_cached": decision.cached,
        "allowed": allowed,
    }


async def record_denial(ports: Ports, authorized: Authorized) -> str:
    """The record of a call the policy refused."""
    record = request_record(authorized, allowed=False)
    record["denial_reasons"] = list(authorized.decision.reasons)
    return await ports.audit.append("request", dict(record))


async def record_refusal(ports: Ports, authorized: Authorized, exc: BaseException) -> str:
    """The record of an allowed call refused before forwarding (Elasticsearch down, an
    untranslatable policy, a bug): nothing was sent upstream."""
    record = request_record(authorized, allowed=False)
    if isinstance(exc, GatewayError):
        record["refused"], record["status"] = exc.code, exc.status_code
    else:
        record["refused"], record["status"] = "internal_error", 500
    return await ports.audit.append("request", dict(record))


async def audit(ports: Ports, prepared: Prepared, timer: StageTimer) -> Audited:
    """Append the request record durably; its audit id lets the prompt leave."""
    record = request_record(prepared.authorized, allowed=True)
    if prepared.policy_revision:
        record["policy_revision"] = prepared.policy_revision
    record["retrieval"] = {
        "enabled": prepared.query is not None,
        "query_sha256": sha256_hex(prepared.query) if prepared.query else None,
    }
    record["chunks"] = list(prepared.chunks)
    record["message_redactions"] = list(prepared.redactions)
    if prepared.authorized.call.files:
        record["files"] = list(prepared.authorized.call.files)
    input_sha256 = prepared.authorized.call.input_sha256
    if input_sha256 is not None:
        record["input_sha256"] = list(input_sha256)
    record["upstream_body_sha256"] = sha256_hex(prepared.upstream_body)
    if ports.prompt_cipher is not None:
        record["prompt_encrypted"] = ports.prompt_cipher.encrypt(prepared.upstream_body)
    with timer.stage("audit"):
        audit_id = await ports.audit.append("request", dict(record))
    return Audited(prepared, audit_id)


async def record_outcome(
    ports: Ports,
    audit_id: str,
    latency_ms: float,
    *,
    status: int,
    usage: dict[str, Any] | None = None,
    finish_reason: str | None = None,
    stream_completed: bool | None = None,
    error: str | None = None,
) -> None:
    """The outcome record; a lost one is logged, never raised (the answer is out)."""
    record: OutcomeRecord = {
        "request_audit_id": audit_id,
        "upstream_latency_ms": latency_ms,
        "status": status,
    }
    if usage is not None:
        record["usage"] = usage
    if finish_reason is not None:
        record["finish_reason"] = finish_reason
    if stream_completed is not None:
        record["stream_completed"] = stream_completed
    if error is not None:
        record["error"] = error
    try:
        await ports.audit.append("outcome", dict(record))
    except GatewayError:
        log.exception("audit_outcome_lost", request_audit_id=audit_id)
