"""POST /v1/embeddings: parse, run the pipeline (``gateway.pipeline``), render."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post
from litestar.di import NamedDependency
from litestar.response import Stream

from gateway.http.auth import authenticate
from gateway.http.model_calls import ports_of, render
from gateway.metrics import StageTimer
from gateway.pipeline import Caller, run
from gateway.pipeline.embeddings import EMBEDDINGS, parse_embeddings
from gateway.services import Services


@post("/v1/embeddings", status_code=200)
async def create_embeddings(
    request: Request[Any, Any, Any], services: NamedDependency[Services]
) -> Response[Any] | Stream:
    caller = Caller(
        authenticate(request, services, EMBEDDINGS.action), str(request.state.request_id)
    )
    call = parse_embeddings(await request.body(), request.headers)
    answer = await run(ports_of(services), caller, call, StageTimer(services.metrics))
    return render(answer)
