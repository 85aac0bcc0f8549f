"""A Responses call through the pipeline's stages, with the one stage chat does not have.

    authorize          model (``gateway.authz``, the pipeline's stage)
    authorize options  ``gateway.responses``: store, background, tool types; and
                       ``previous_response_id`` must be the caller's own (404 otherwise)
    admit -> files     the pipeline's stages
    held files         the files the previous response's conversation holds, re-checked
                       as named ones are (``gateway.pipeline.files.recheck_held``)
    prepare -> audit -> forward -> complete   the pipeline's stages; the relayed
                       response id is recorded as the caller's, with the files its
                       conversation holds (``gateway.responses.upstream``)

Every refusal is audited before it is raised; nothing reaches the upstream unaudited.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from gateway.errors import PolicyDenied
from gateway.metrics import StageTimer
from gateway.pipeline import Answer, Authorized, Caller, ModelCall, Ports, StreamAnswer
from gateway.pipeline.audit import audit, record_denial, record_refusal, request_record
from gateway.pipeline.authorize import authorize
from gateway.pipeline.complete import complete
from gateway.pipeline.files import recheck_held, resolve_files
from gateway.pipeline.forward import forward
from gateway.pipeline.prepare import prepare
from gateway.policy import PolicyEngine
from gateway.responses import policy
from gateway.responses.access import not_found
from gateway.responses.endpoint import ACTION, rate_limit_view
from gateway.responses.owners import Owners
from gateway.responses.request import ResponsesRequest
from gateway.responses.upstream import OwnedUpstream


async def run_responses(
    ports: Ports,
    engine: PolicyEngine,
    owners: Owners,
    caller: Caller,
    call: ModelCall,
    request: ResponsesRequest,
    timer: StageTimer,
) -> Answer | StreamAnswer:
    authorized = await authorize(ports, caller, call, timer)
    authorized, held = await authorize_options(ports, engine, owners, authorized, request, timer)
    await ports.admit(caller.principal, rate_limit_view(request))
    authorized = await resolve_files(ports, authorized, timer)
    await recheck_held(ports, authorized, held, "previous_response_id", timer)
    files = chain_files([file["file_id"] for file in authorized.call.files], held)
    owned = OwnedUpstream(ports.upstream, owners, caller.principal.subject, files)
    ports = dataclasses.replace(ports, upstream=owned)
    try:
        prepared = await prepare(ports, authorized, timer)
    except Exception as exc:
        await record_refusal(ports, authorized, exc)
        ports.metrics.requests.labels(outcome="refused").inc()
        raise
    audited = await audit(ports, prepared, timer)
    forwarded = await forward(ports, audited, timer)
    return await complete(ports, forwarded, timer)


async def authorize_options(
    ports: Ports,
    engine: PolicyEngine,
    owners: Owners,
    authorized: Authorized,
    request: ResponsesRequest,
    timer: StageTimer,
) -> tuple[Authorized, tuple[str, ...]]:
    """The call as it may go on (``store: false`` where policy says so) with the files
    the previous response's conversation holds, or an audited refusal: 403 with the
    policy's reasons; 404 for another caller's previous response."""
    principal = authorized.caller.principal
    with timer.stage("authorize"):
        options = await policy.decide(engine, principal, ACTION, policy.create_facts(request))
    if not options.allow:
        decision = dataclasses.replace(
            authorized.decision,
            allow=False,
            reasons=options.reasons,
            decision_id=options.decision_id,
            cached=False,
        )
        await record_denial(ports, dataclasses.replace(authorized, decision=decision))
        ports.metrics.requests.labels(outcome="denied").inc()
        raise PolicyDenied.because(options.reasons)
    previous = request.previous_response_id
    held = None if previous is None else await owners.held(principal.subject, previous)
    if previous is not None and held is None:
        record = request_record(authorized, allowed=False)
        record["refused"], record["status"], record["response_id"] = "not_owner", 404, previous
        await ports.audit.append("request", dict(record))
        ports.metrics.requests.labels(outcome="denied").inc()
        raise not_found(previous, "previous_response_id")
    held = held or ()
    if options.store or request.store is False:
        return authorized, held
    call = dataclasses.replace(authorized.call, body={**authorized.call.body, "store": False})
    return dataclasses.replace(authorized, call=call), held


def chain_files(named: Sequence[str], held: Sequence[str]) -> tuple[str, ...]:
    """The files a response's conversation holds: this request's, then those held before
    (each once, in first-seen order)."""
    return tuple(dict.fromkeys([*named, *held]))
