"""GET/DELETE /v1/responses/{id}, GET /v1/responses/{id}/input_items,
POST /v1/responses/{id}/cancel: the caller's own stored responses only.

A stored response is returned as the upstream keeps it: its text holds the placeholders
the model saw; originals are never kept by the gateway, so they are not restored here.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from gateway.finetune.upstream import FinetuneUpstream
from gateway.http.auth import authenticate
from gateway.responses.access import authorize_read
from gateway.services import Services

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
    retrieve_response,
    response_input_items,
    delete_response,
    cancel_response,
]
