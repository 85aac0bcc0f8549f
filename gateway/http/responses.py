"""The OpenAI Responses API: POST /v1/responses (governed like chat, see
``gateway.responses.create``), GET/DELETE /v1/responses/{id}, GET .../input_items and
POST .../cancel (the caller's own stored responses only).

A stored response is returned as the upstream keeps it: its text holds the placeholders
the model saw; originals are never kept by the gateway, so they are not restored there.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from litestar import Request, Response, delete, get, post
from litestar.background_tasks import BackgroundTask
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Stream

from gateway.errors import GatewayError
from gateway.finetune.upstream import FinetuneUpstream
from gateway.http.auth import authenticate
from gateway.metrics import StageTimer
from gateway.responses.access import authorize_read
from gateway.responses.create import (
    ENDPOINT,
    Prepared,
    audit_outcome,
    forward,
    open_stream,
    prepare,
)
from gateway.responses.request import parse_responses_request
from gateway.responses.restore import ResponseEventRelay
from gateway.services import Services
from gateway.upstream import UpstreamStream


@post("/v1/responses", status_code=200)
async def create_response(
    request: Request[Any, Any, Any], services: NamedDependency[Services]
) -> Response[Any] | Stream:
    timer = StageTimer(services.metrics)
    principal = authenticate(request, services, ENDPOINT)
    parsed = parse_responses_request(await request.body())
    prepared = await prepare(services, principal, parsed, request.headers, timer)
    if parsed.stream:
        return await _stream(services, prepared)
    response = await forward(services, prepared)
    return Response(
        content=response.body,
        status_code=response.status_code,
        media_type=response.headers.get("content-type", "application/json"),
        headers={**_relayed(response.headers), **_headers(prepared)},
    )


def _relayed(upstream_headers: dict[str, str]) -> dict[str, str]:
    """The upstream's rate-limit and processing headers (not its content type)."""
    return {k: v for k, v in upstream_headers.items() if k != "content-type"}


def _headers(prepared: Prepared) -> dict[str, str]:
    return {
        "x-gateway-audit-id": prepared.audit_id,
        "server-timing": prepared.timer.server_timing(),
    }


async def _stream(services: Services, prepared: Prepared) -> Stream:
    stream = await open_stream(services, prepared)
    owner = prepared.principal.subject
    events = ResponseEventRelay(
        prepared.restore, lambda rid: services.response_owners.record(owner, rid)
    )
    relay = _relay(events, stream, services, prepared)
    return Stream(
        relay,
        # Runs once the response is over, also when a client disconnect cancelled it
        # while the relay was suspended at a yield: closing it then cancels the upstream.
        background=BackgroundTask(relay.aclose),
        status_code=stream.status_code,
        media_type="text/event-stream",
        headers={**_relayed(stream.headers), **_headers(prepared), "cache-control": "no-cache"},
    )


async def _relay(
    events: ResponseEventRelay,
    stream: UpstreamStream,
    services: Services,
    prepared: Prepared,
) -> AsyncGenerator[bytes, None]:
    """Pass events through; an upstream failure mid-stream becomes an ``error`` event.

    A client that goes away cancels the upstream call and is recorded as
    ``stream_completed: false``.
    """
    completed = False
    error: str | None = None
    chunks: AsyncIterator[bytes] = events.process(stream.chunks)
    try:
        async for chunk in chunks:
            yield chunk
            # A turn for the event loop: the disconnect notice reaches Litestar (which
            # cancels this relay) even when the rest of the answer is already buffered.
            await asyncio.sleep(0)
        completed = True
    except GatewayError as exc:
        error = exc.code
        yield _error_event(exc, events.facts.last_sequence)
    finally:
        if not completed:
            stream.close()
        facts = events.facts
        services.run_in_background(
            audit_outcome(
                services,
                prepared,
                status=200,
                stream_completed=completed,
                error=error,
                response_id=facts.response_id,
                response_status=facts.status,
                usage=facts.usage,
            )
        )


def _error_event(exc: GatewayError, last_sequence: int | None) -> bytes:
    """OpenAI's ``error`` stream event, with the error object SDKs raise from."""
    body = exc.to_openai()
    event = {
        "type": "error",
        "code": exc.code,
        "message": exc.message,
        "param": exc.param,
        "sequence_number": (last_sequence or 0) + 1,
        **body,
    }
    return f"event: error\ndata: {json.dumps(event)}\n\n".encode()


_LIST_PARAMS = ("after", "before", "limit", "order", "include")


@get("/v1/responses/{response_id:str}")
async def retrieve_response(
    request: Request[Any, Any, Any],
    response_id: FromPath[str],
    services: NamedDependency[Services],
) -> dict[str, Any]:
    principal = authenticate(request, services, "responses.retrieve")
    await authorize_read(services, principal, response_id, "responses.retrieve")
    return await _upstream(services).get(f"responses/{response_id}")


@get("/v1/responses/{response_id:str}/input_items")
async def response_input_items(
    request: Request[Any, Any, Any],
    response_id: FromPath[str],
    services: NamedDependency[Services],
) -> dict[str, Any]:
    principal = authenticate(request, services, "responses.input_items")
    await authorize_read(services, principal, response_id, "responses.input_items")
    params = {k: str(request.query_params[k]) for k in _LIST_PARAMS if k in request.query_params}
    return await _upstream(services).get(f"responses/{response_id}/input_items", params)


@delete("/v1/responses/{response_id:str}", status_code=200)
async def delete_response(
    request: Request[Any, Any, Any],
    response_id: FromPath[str],
    services: NamedDependency[Services],
) -> dict[str, Any]:
    principal = authenticate(request, services, "responses.delete")
    await authorize_read(services, principal, response_id, "responses.delete")
    deleted = await _upstream(services).delete(f"responses/{response_id}")
    services.response_owners.forget(principal.subject, response_id)
    return deleted


@post("/v1/responses/{response_id:str}/cancel", status_code=200)
async def cancel_response(
    request: Request[Any, Any, Any],
    response_id: FromPath[str],
    services: NamedDependency[Services],
) -> dict[str, Any]:
    principal = authenticate(request, services, "responses.cancel")
    await authorize_read(services, principal, response_id, "responses.cancel")
    return await _upstream(services).post(f"responses/{response_id}/cancel")


def _upstream(services: Services) -> FinetuneUpstream:
    """The JSON adapter over the upstream's pooled httpx client (translates its errors)."""
    return FinetuneUpstream(services.upstream.http)


RESPONSE_HANDLERS = [
    create_response,
    retrieve_response,
    response_input_items,
    delete_response,
    cancel_response,
]
