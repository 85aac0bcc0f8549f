"""OpenAI's fine-tuning jobs endpoints, for the caller's own jobs only."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from gateway.chat_request import parse_json_object
from gateway.errors import GatewayError
from gateway.http.files import caller
from gateway.services import Services

_LIST_PARAMS = ("after", "limit")


@post("/v1/fine_tuning/jobs", status_code=200)
async def create_job(
    request: Request[Any, Any, Any], services: NamedDependency[Services]
) -> dict[str, Any]:
    who = caller(request, services)
    try:
        # Parsed as chat parses a body: no NaN or Infinity, no lone surrogates, bounded depth.
        body = parse_json_object(await request.body())
    except GatewayError as exc:
        await services.finetune.refused(who, {"action": "fine_tuning.jobs.create"}, exc)
        raise
    return await services.finetune.create_job(who, body)


@get("/v1/fine_tuning/jobs")
async def list_jobs(
    request: Request[Any, Any, Any], services: NamedDependency[Services]
) -> dict[str, Any]:
    params = {k: str(request.query_params[k]) for k in _LIST_PARAMS if k in request.query_params}
    return await services.finetune.list_jobs(caller(request, services), params)


@get("/v1/fine_tuning/jobs/{job_id:str}")
async def retrieve_job(
    request: Request[Any, Any, Any], job_id: FromPath[str], services: NamedDependency[Services]
) -> dict[str, Any]:
    return await services.finetune.job_call(caller(request, services), job_id, "retrieve")


@post("/v1/fine_tuning/jobs/{job_id:str}/cancel", status_code=200)
async def cancel_job(
    request: Request[Any, Any, Any], job_id: FromPath[str], services: NamedDependency[Services]
) -> dict[str, Any]:
    return await services.finetune.job_call(caller(request, services), job_id, "cancel")


@get("/v1/fine_tuning/jobs/{job_id:str}/events")
async def job_events(
    request: Request[Any, Any, Any], job_id: FromPath[str], services: NamedDependency[Services]
) -> dict[str, Any]:
    return await services.finetune.job_call(caller(request, services), job_id, "events")


JOB_HANDLERS = [create_job, list_jobs, retrieve_job, cancel_job, job_events]
