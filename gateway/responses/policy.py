"""``gateway.responses.decision``: what a Responses API call may use beyond its model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.errors import DependencyUnavailable
from gateway.identity import Principal
from gateway.policy import PolicyEngine
from gateway.responses.request import ResponsesRequest

PACKAGE = "gateway.responses"


@dataclass(frozen=True)
class ResponsesDecision:
    allow: bool
    reasons: tuple[str, ...]
    store: bool
    """Whether the response may be stored upstream (sent as ``store``)."""
    decision_id: str | None


def create_facts(request: ResponsesRequest) -> dict[str, Any]:
    """The policy input for ``responses.create`` (documented in policies/responses.rego)."""
    return {
        "model": request.model,
        "store": request.store,
        "background": request.background,
        "tool_types": request.tool_types,
        "previous_response": request.previous_response_id is not None,
    }


async def decide(
    policy: PolicyEngine, principal: Principal, action: str, facts: dict[str, Any]
) -> ResponsesDecision:
    input_data = {"subject": principal.as_policy_input(), "action": action, **facts}
    response = await policy.query(PACKAGE, "decision", input_data)
    result = response["result"]
    if (
        not isinstance(result, dict)
        or not isinstance(result.get("allow"), bool)
        or not isinstance(result.get("store"), bool)
    ):
        raise DependencyUnavailable("opa", f"{PACKAGE}.decision has the wrong shape")
    return ResponsesDecision(
        allow=result["allow"],
        reasons=tuple(sorted(str(r) for r in result.get("reasons") or ())),
        store=result["store"],
        decision_id=response.get("decision_id"),
    )
