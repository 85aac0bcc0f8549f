"""The Litestar application: routes, dependencies, lifespan, error handlers."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import NotFoundException

from gateway.http.admission import caller_limits
from gateway.http.audit_api import audit_exposure, audit_search, audit_show, audit_verify
from gateway.http.chat import chat_completions
from gateway.http.embeddings import create_embeddings
from gateway.http.errors import EXCEPTION_HANDLERS
from gateway.http.files import FILE_HANDLERS
from gateway.http.fine_tuning import JOB_HANDLERS
from gateway.http.health import healthz, metrics, readyz
from gateway.http.middleware import wrap_app
from gateway.http.models import list_models, retrieve_model
from gateway.http.openapi import openapi_config
from gateway.http.unsupported import not_found_handler
from gateway.review import review_router
from gateway.services import Services, open_services
from gateway.settings import Settings
from gateway.version import gateway_version


def _services(state: State) -> Services:
    services: Services = state.services
    return services


def create_app(
    settings: Settings, spawned_workers: Sequence[subprocess.Popen[bytes]] = ()
) -> Litestar:
    """The application; ``spawned_workers``: PII workers ``gateway serve`` started before
    importing it (``gateway.analysis.startup.spawn_early``), adopted by the lifespan."""

    early = list(spawned_workers)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        adopt, early[:] = list(early), []  # a process can be adopted once
        async with open_services(settings, adopt) as services:
            app.state.services = services
            yield

    # Every endpoint a caller authenticates for goes into this router: its guard
    # authenticates and applies the caller's rate and concurrency limits before the
    # handler runs. Only the public routes below (health, metrics, the OpenAPI document,
    # the review pages with their own sign-in) stay outside.
    authenticated = Router(
        path="/",
        guards=[caller_limits],
        route_handlers=[
            chat_completions,
            create_embeddings,
            list_models,
            retrieve_model,
            audit_search,
            audit_show,
            audit_exposure,
            audit_verify,
            # Uploads may exceed the chat body limit, up to the fine-tune upload limit
            # plus room for the multipart envelope (the exact limit is checked on the file).
            Router(
                path="/",
                route_handlers=[*FILE_HANDLERS, *JOB_HANDLERS],
                request_max_body_size=max(
                    settings.max_request_bytes, settings.finetune_max_upload_bytes + 65_536
                ),
            ),
        ],
    )
    app = Litestar(
        route_handlers=[healthz, readyz, metrics, review_router(), authenticated],
        dependencies={"services": Provide(_services, sync_to_thread=False)},
        lifespan=[lifespan],
        # Anything else under /v1/ is refused as unsupported, never forwarded.
        exception_handlers={**EXCEPTION_HANDLERS, NotFoundException: not_found_handler},
        request_max_body_size=settings.max_request_bytes,
        openapi_config=openapi_config(gateway_version()),
        logging_config=None,
    )
    return wrap_app(app)
