"""The authorize stage: may this principal call this endpoint with this model (OPA)?"""

from __future__ import annotations

from gateway.errors import NotFound, PolicyDenied
from gateway.metrics import StageTimer
from gateway.pipeline.audit import record_denial
from gateway.pipeline.ports import Ports
from gateway.pipeline.values import Authorized, Caller, ModelCall


async def authorize(ports: Ports, caller: Caller, call: ModelCall, timer: StageTimer) -> Authorized:
    """The allowed call; a denial is audited, then raised: 404 ``model_not_found`` for a
    model the gateway does not offer (as OpenAI answers), 403 otherwise."""
    with timer.stage("authorize"):
        decision = await ports.decisions.authorize(
            caller.principal, call.endpoint.action, call.model
        )
    authorized = Authorized(caller, call, decision)
    if decision.allow:
        return authorized
    await record_denial(ports, authorized)
    ports.metrics.requests.labels(outcome="denied").inc()
    if not decision.model_offered:
        raise NotFound(
            f"The model '{call.model}' does not exist or you do not have access to it.",
            param="model",
            code="model_not_found",
        )
    raise PolicyDenied("Request denied by policy: " + "; ".join(decision.reasons))
