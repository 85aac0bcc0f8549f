"""The retrieve -> redact -> compose stage: the exact bytes that may go upstream.

The work is ``gateway.context.build_context`` (behind ``Ports.build_context``); this
stage adds what the endpoint decides: where the context goes (``Endpoint.compose``),
and whether the answer's placeholders may be restored.
"""

from __future__ import annotations

import json

from gateway.analysis.offload import run_sized
from gateway.metrics import StageTimer
from gateway.pipeline.ports import Ports
from gateway.pipeline.values import Authorized, Prepared
from gateway.redaction.placeholders import Placeholders


async def prepare(ports: Ports, authorized: Authorized, timer: StageTimer) -> Prepared:
    call = authorized.call
    placeholders = Placeholders(ports.redaction_hash_key)
    context = await ports.build_context(
        principal=authorized.caller.principal,
        body=call.body,
        query=call.query if authorized.decision.retrieval_enabled else None,
        decision=authorized.decision,
        requested_corpora=call.corpora,
        placeholders=placeholders,
        timer=timer,
        prompt_tokens=call.endpoint.prompt_tokens,
    )
    body = call.endpoint.compose(context.body, context.message)
    upstream_body = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    restorable = call.endpoint.restore_body is not None
    restore = (
        await run_sized(len(upstream_body), placeholders.restricted_to, upstream_body.decode())
        if restorable and context.restore and placeholders
        else None
    )
    return Prepared(
        authorized=authorized,
        upstream_body=upstream_body,
        query=context.query,
        chunks=context.chunks_audit,
        redactions=context.message_redactions,
        policy_revision=context.policy_revision,
        restore=restore,
    )
