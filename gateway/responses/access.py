"""Reads of stored responses: only the caller's own, checked, decided and audited.

The gateway records who each relayed response id belongs to (``ResponseOwners``).
Another caller's id, or one the gateway never relayed, is a 404 exactly like a missing
one (no existence oracle) and is audited as a denial; the caller's own is then put to
``gateway.responses`` and audited before the upstream is asked.
"""

from __future__ import annotations

from typing import Any

from gateway.errors import NotFound, PolicyDenied
from gateway.identity import Principal
from gateway.request_scope import current_request
from gateway.responses import policy
from gateway.services import Services


def not_found(response_id: str, param: str) -> NotFound:
    code = "previous_response_not_found" if param == "previous_response_id" else None
    what = "Previous response" if param == "previous_response_id" else "Response"
    return NotFound(f"{what} with id '{response_id}' not found.", param=param, code=code)


def base_fields(principal: Principal, action: str) -> dict[str, Any]:
    scope = current_request()
    return {
        **(scope.record_fields() if scope is not None else {}),
        "endpoint": action,
        "subject": principal.subject,
        "groups": list(principal.groups),
        "key_id": principal.key_id,
    }


async def check_owner(
    services: Services, principal: Principal, response_id: str, action: str, param: str
) -> None:
    """404 (audited as a denial) unless ``response_id`` is the caller's."""
    if services.response_owners.owns(principal.subject, response_id):
        return
    missing = not_found(response_id, param)
    await services.audit.append(
        "request",
        {
            **base_fields(principal, action),
            "response_id": response_id,
            "allowed": False,
            "refused": "not_owner",
            "status": 404,
        },
    )
    services.metrics.requests.labels(outcome="denied").inc()
    raise missing


async def authorize_read(
    services: Services, principal: Principal, response_id: str, action: str
) -> str:
    """Owner check, policy and one audit record for a read, delete or cancel; the audit id."""
    await check_owner(services, principal, response_id, action, "response_id")
    decision = await policy.decide(services.policy, principal, action, {})
    audit_id = await services.audit.append(
        "request",
        {
            **base_fields(principal, action),
            "response_id": response_id,
            "allowed": decision.allow,
            "policy_decision_ids": [decision.decision_id] if decision.decision_id else [],
            **({} if decision.allow else {"denial_reasons": list(decision.reasons)}),
        },
    )
    if not decision.allow:
        raise PolicyDenied("Request denied by policy: " + "; ".join(decision.reasons))
    return audit_id
