"""The complete stage: the answer for the caller, and the outcome for the audit trail.

A whole answer: usage settles the caller's token budget, the outcome record is written
in the background (the request record is already durable), placeholders are restored
where policy allows. A stream: relayed as it comes (restored on the fly), its outcome
recorded when it ends, also when the client goes away or the upstream fails mid-stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Mapping

from gateway.analysis.offload import run_sized
from gateway.errors import GatewayError
from gateway.metrics import StageTimer
from gateway.pipeline.audit import record_outcome
from gateway.pipeline.forward import ms_since
from gateway.pipeline.ports import Ports
from gateway.pipeline.stream_end import WholeEvents
from gateway.pipeline.values import Answer, Forwarded, StreamAnswer
from gateway.upstream import UpstreamStream


async def complete(ports: Ports, forwarded: Forwarded, timer: StageTimer) -> Answer | StreamAnswer:
    reply = forwarded.reply
    if isinstance(reply, UpstreamStream):
        return _stream(ports, forwarded, reply, timer)
    prepared = forwarded.audited.prepared
    endpoint = prepared.authorized.call.endpoint
    usage, finish = endpoint.summarize(reply.body)
    ports.settle(prepared.authorized.caller.principal, usage)
    # The prompt's record is already durable; the outcome need not delay the answer.
    ports.background(
        record_outcome(
            ports,
            forwarded.audited.audit_id,
            ms_since(forwarded.started),
            status=reply.status_code,
            usage=usage,
            finish_reason=finish,
        )
    )
    restore, restore_body = prepared.restore, endpoint.restore_body
    content = (
        await run_sized(len(reply.body), restore_body, reply.body, restore)
        if restore is not None and restore_body is not None
        else reply.body
    )
    return Answer(
        status_code=reply.status_code,
        media_type=reply.headers.get("content-type", "application/json"),
        body=content,
        headers={**relayed(reply.headers), **gateway_headers(forwarded.audited.audit_id, timer)},
    )


def relayed(upstream_headers: Mapping[str, str]) -> dict[str, str]:
    """The upstream's rate-limit and processing headers, for the caller (not its type)."""
    return {k: v for k, v in upstream_headers.items() if k != "content-type"}


def gateway_headers(audit_id: str, timer: StageTimer) -> dict[str, str]:
    return {"x-gateway-audit-id": audit_id, "server-timing": timer.server_timing()}


def _stream(
    ports: Ports, forwarded: Forwarded, stream: UpstreamStream, timer: StageTimer
) -> StreamAnswer:
    prepared = forwarded.audited.prepared
    restore, restore_stream = prepared.restore, prepared.authorized.call.endpoint.restore_stream
    chunks = (
        restore_stream(stream.chunks, restore)
        if restore is not None and restore_stream is not None
        else stream.chunks
    )
    return StreamAnswer(
        status_code=stream.status_code,
        headers={
            **relayed(stream.headers),
            **gateway_headers(forwarded.audited.audit_id, timer),
            "cache-control": "no-cache",
        },
        chunks=_relay(ports, chunks, stream, forwarded),
    )


async def _relay(
    ports: Ports, chunks: AsyncIterator[bytes], stream: UpstreamStream, forwarded: Forwarded
) -> AsyncGenerator[bytes, None]:
    """Pass upstream events through whole; an upstream failure mid-stream drops the
    broken event and ends the stream with the endpoint's failure event(s).

    A client that goes away cancels the upstream call and is recorded as
    ``stream_completed: false``, however far ahead of the client the relay is; so is a
    stream the upstream broke off or ended with its own error event.
    """
    framer = WholeEvents()
    end = forwarded.audited.prepared.authorized.call.endpoint.stream_end()
    finished = False
    error: str | None = None
    try:
        async for chunk in chunks:
            events = framer.feed(chunk)
            if events:
                end.observe(events)
                yield events
            # A turn for the event loop after each chunk: the server's disconnect notice
            # reaches Litestar (which cancels this relay) even when the rest of the
            # upstream's answer is already buffered and writes to a gone client return
            # at once; without it the relay would read the upstream to its end.
            await asyncio.sleep(0)
        finished = True
        rest = framer.rest()
        if rest:
            end.observe(rest)
            yield rest
        error = end.upstream_error
    except GatewayError as exc:
        error = exc.code
        yield end.failure(exc)
    finally:
        # Runs on normal end, upstream error and client disconnect alike.
        if not finished:
            stream.close()
        ports.background(
            record_outcome(
                ports,
                forwarded.audited.audit_id,
                ms_since(forwarded.started),
                status=200,
                stream_completed=finished and error is None,
                error=error,
            )
        )
