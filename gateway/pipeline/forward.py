"""The forward stage: send the audited body upstream, through the one upstream client.

Only an ``Audited`` value can be forwarded: no record, no prompt. An upstream that
cannot answer is recorded as the request's outcome and raised with the audit id.
"""

from __future__ import annotations

import time

from gateway.errors import GatewayError
from gateway.metrics import StageTimer
from gateway.pipeline.audit import record_outcome
from gateway.pipeline.ports import Ports
from gateway.pipeline.values import Audited, Forwarded
from gateway.upstream import UpstreamResponse, UpstreamStream


async def forward(ports: Ports, audited: Audited, timer: StageTimer) -> Forwarded:
    prepared = audited.prepared
    call = prepared.authorized.call
    ports.metrics.requests.labels(outcome="forwarded").inc()
    ports.metrics.chunks_injected.inc(len(prepared.chunks))
    started = time.perf_counter()
    path, body = call.endpoint.upstream_path, prepared.upstream_body
    reply: UpstreamResponse | UpstreamStream
    try:
        if call.stream:
            reply = await ports.upstream.stream_json(path, body)
        else:
            reply = await ports.upstream.post_json(path, body)
    except GatewayError as exc:
        await record_outcome(
            ports, audited.audit_id, ms_since(started), status=exc.status_code, error=exc.code
        )
        exc.headers["x-gateway-audit-id"] = audited.audit_id
        raise
    # Streams: the time to the response headers.
    timer.record("upstream", time.perf_counter() - started)
    return Forwarded(audited, reply, started)


def ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
