"""POST /v1/embeddings: parse, run the pipeline (``gateway.pipeline``), render."""

from __future__ import annotations

import re
from typing import Any

from litestar import Request, Response, post
from litestar.di import NamedDependency
from litestar.response import Stream

from gateway.http.auth import authenticate
from gateway.http.model_calls import ports_of, render
from gateway.metrics import StageTimer
from gateway.pipeline import Caller, run
from gateway.pipeline.embeddings import EMBEDDINGS, TOKEN_ENCODING, parse_embeddings
from gateway.services import Services
from gateway.tokens import load_off_loop

# An input that starts like an array of token ids: its encoding loads off the event loop.
_TOKEN_INPUT = re.compile(rb'"input"\s*:\s*\[\s*(?:\[\s*)?\d')


@post("/v1/embeddings", status_code=200)
async def create_embeddings(
    request: Request[Any, Any, Any], services: NamedDependency[Services]
) -> Response[Any] | Stream:
    caller = Caller(
        authenticate(request, services, EMBEDDINGS.action), str(request.state.request_id)
    )
    body = await request.body()
    if _TOKEN_INPUT.search(body):
        await load_off_loop(TOKEN_ENCODING)
    call = parse_embeddings(body, request.headers)
    answer = await run(ports_of(services), caller, call, StageTimer(services.metrics))
    return render(answer)
