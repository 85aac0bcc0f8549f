"""A model call through every shared stage, in order."""

from __future__ import annotations

from gateway.metrics import StageTimer
from gateway.pipeline.audit import audit, record_refusal
from gateway.pipeline.authorize import authorize
from gateway.pipeline.complete import complete
from gateway.pipeline.files import resolve_files
from gateway.pipeline.forward import forward
from gateway.pipeline.ports import Ports
from gateway.pipeline.prepare import prepare
from gateway.pipeline.values import Answer, Caller, ModelCall, StreamAnswer


async def run(
    ports: Ports, caller: Caller, call: ModelCall, timer: StageTimer
) -> Answer | StreamAnswer:
    """authorize -> admit -> files -> retrieve/redact/compose -> audit -> forward -> complete."""
    authorized = await authorize(ports, caller, call, timer)
    await ports.admit(caller.principal, call.body)
    authorized = await resolve_files(ports, authorized, timer)
    try:
        prepared = await prepare(ports, authorized, timer)
    except Exception as exc:
        # Refused after authorization: still one record, nothing sent upstream.
        await record_refusal(ports, authorized, exc)
        ports.metrics.requests.labels(outcome="refused").inc()
        raise
    audited = await audit(ports, prepared, timer)
    forwarded = await forward(ports, audited, timer)
    return await complete(ports, forwarded, timer)
