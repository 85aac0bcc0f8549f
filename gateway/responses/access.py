"""Reads of stored responses: only the caller's own, checked, decided and audited.

The gateway records who each relayed response id belongs to (``ResponseOwners``).
Another caller's id, or one the gateway never relayed, is a 404 exactly like a missing
one (no existence oracle) and is audited as a denial; the caller's own is then put to
``gateway.responses`` and audited before the upstream is asked.
"""

from __future__ import annotations

from gateway.audit.records import RequestRecord
from gateway.errors import NotFound, PolicyDenied
from gateway.identity import Principal
from gateway.request_scope import current_request
from gateway.responses import policy
from gateway.services import Services


def not_found(response_id: str, param: str) -> NotFound:
    if param == "previous_response_id":
        return NotFound(
            f"Previous response with id '{response_id}' not found.",
            param=param,
            code="previous_response_not_found",
        )
    return NotFound(f"Response with id '{response_id}' not found.", param=param)


def read_record(principal: Principal, action: str, response_id: str) -> RequestRecord:
    scope = current_request()
    return {
        "request_id": scope.request_id if scope is not None else "",
        "endpoint": action,
        "subject": principal.subject,
        "groups": list(principal.groups),
        "key_id": principal.key_id,
        "policy_revision": scope.policy_revision if scope is not None else None,
        "allowed": False,
        "response_id": response_id,
    }


async def authorize_read(
    services: Services, principal: Principal, response_id: str, action: str
) -> str:
    """Owner check, policy and one audit record for a read, delete or cancel; the audit id.

    Not the caller's: 404, audited as ``refused: not_owner``."""
    record = read_record(principal, action, response_id)
    if not await services.response_owners.owns(principal.subject, response_id):
        record["refused"], record["status"] = "not_owner", 404
        await services.audit.append("request", dict(record))
        services.metrics.requests.labels(outcome="denied").inc()
        raise not_found(response_id, "response_id")
    decision = await policy.decide(services.policy, principal, action, {})
    record["allowed"] = decision.allow
    record["policy_decision_ids"] = [decision.decision_id] if decision.decision_id else []
    if not decision.allow:
        record["denial_reasons"] = list(decision.reasons)
    audit_id = await services.audit.append("request", dict(record))
    if not decision.allow:
        raise PolicyDenied.because(decision.reasons)
    return audit_id
