"""GET /v1/models: only the models policy lets this caller use."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from gateway.errors import NotFound, PolicyDenied
from gateway.http.auth import authenticate
from gateway.services import Services


def _model(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": 0, "owned_by": "gateway"}


async def _allowed(request: Request[Any, Any, Any], services: Services) -> list[str]:
    principal = authenticate(request, services, "models.list")
    decision = await services.policy.authorize(principal, "models.list")
    if not decision.allow:
        raise PolicyDenied.because(decision.reasons)
    return await services.policy.allowed_models(principal)


@get("/v1/models")
async def list_models(
    request: Request[Any, Any, Any], services: NamedDependency[Services]
) -> dict[str, Any]:
    return {"object": "list", "data": [_model(m) for m in await _allowed(request, services)]}


@get("/v1/models/{model_id:str}")
async def retrieve_model(
    request: Request[Any, Any, Any],
    model_id: FromPath[str],
    services: NamedDependency[Services],
) -> dict[str, Any]:
    if model_id not in await _allowed(request, services):
        raise NotFound(
            f"The model '{model_id}' does not exist or you do not have access to it.",
            param="model",
            code="model_not_found",
        )
    return _model(model_id)
