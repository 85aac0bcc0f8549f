"""The OpenAI Responses API: POST /v1/responses (governed like chat, see
``gateway.responses.run``), GET/DELETE /v1/responses/{id}, GET .../input_items and
POST .../cancel (the caller's own stored responses only).

A stored response is returned as the upstream keeps it: its text holds the placeholders
the model saw; originals are never kept by the gateway, so they are not restored there.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

from litestar import Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Stream

from gateway.context import build_context
from gateway.finetune.upstream import FinetuneUpstream
from gateway.http.auth import authenticate
from gateway.http.model_calls import ports_of, render
from gateway.metrics import StageTimer
from gateway.pipeline import Caller
from gateway.responses.access import authorize_read
from gateway.responses.endpoint import ACTION, parse_responses
from gateway.responses.run import run_responses
from gateway.responses.shape import RESPONSES
from gateway.services import Services

_LIST_PARAMS = ("after", "before", "limit", "order", "include")


@post("/v1/responses", status_code=200)
async def create_response(
    request: Request[Any, Any, Any], services: NamedDependency[Services]
) -> Response[Any] | Stream:
    principal = authenticate(request, services, ACTION)
    caller = Caller(principal, str(request.state.request_id))
    call, parsed = parse_responses(await request.body(), request.headers)
    ports = dataclasses.replace(
        ports_of(services),
        build_context=functools.partial(
            build_context, dataclasses.replace(services.context_stages(), shape=RESPONSES)
        ),
    )
    answer = await run_responses(
        ports,
        services.policy,
        services.response_owners,
        caller,
        call,
        parsed,
        StageTimer(services.metrics),
    )
    return render(answer)


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
    await services.response_owners.forget(principal.subject, response_id)
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
    return FinetuneUpstream(services.upstream)


RESPONSE_HANDLERS = [
    create_response,
    retrieve_response,
    response_input_items,
    delete_response,
    cancel_response,
]
