"""POST /v1/chat/completions: parse, run the pipeline (``gateway.pipeline``), render.

Each stage's duration goes to the ``Server-Timing`` header and the Prometheus histograms.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post
from litestar.di import NamedDependency
from litestar.response import Stream

from gateway.http.auth import authenticate
from gateway.http.model_calls import ports_of, render
from gateway.metrics import StageTimer
from gateway.pipeline import Caller, run
from gateway.pipeline.chat import CHAT, parse_chat
from gateway.services import Services


@post("/v1/chat/completions", status_code=200)
async def chat_completions(
    request: Request[Any, Any, Any], services: NamedDependency[Services]
) -> Response[Any] | Stream:
    caller = Caller(authenticate(request, services, CHAT.action), str(request.state.request_id))
    call = parse_chat(await request.body(), request.headers)
    answer = await run(ports_of(services), caller, call, StageTimer(services.metrics))
    return render(answer)
