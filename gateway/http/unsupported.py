"""Anything under ``/v1/`` the gateway does not serve: OpenAI's 404, never forwarded.

``/v1/completions``, ``/v1/moderations``, audio, images, realtime, batches... would reach
the model API ungoverned if passed through, so the router's 404 for a path under
``/v1/`` becomes OpenAI's error with the code ``unsupported_endpoint`` and a message
naming what the gateway does serve (read from the application's own routes, so a new
endpoint is listed without editing this module). It is an exception handler for the
router's ``NotFoundException`` rather than a catch-all route: the router does not fall
back from a partly matched path (``/v1/fine_tuning/jobs/{id}/checkpoints``) to a
catch-all, and every method (HEAD, OPTIONS included) gets the same answer.

An authenticated caller's refusal is audited (the middleware writes the request record
with the status and code); a request without credentials gets the same 404, unrecorded,
and a wrong credential the usual 401. Served paths with a wrong method keep the router's
405, and paths outside ``/v1/`` its plain 404.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.exceptions import NotFoundException

from gateway.errors import GatewayError, NotFound
from gateway.http.auth import authenticate
from gateway.http.errors import gateway_error_handler, http_exception_handler
from gateway.services import Services

PREFIX = "/v1/"


def not_found_handler(request: Request[Any, Any, Any], exc: NotFoundException) -> Response[Any]:
    if not request.url.path.startswith(PREFIX):
        return http_exception_handler(request, exc)
    error: GatewayError
    try:
        error = unsupported(request)
    except GatewayError as refused:  # a wrong credential
        error = refused
    return gateway_error_handler(request, error)


def unsupported(request: Request[Any, Any, Any]) -> NotFound:
    """The 404 for an unserved /v1/ endpoint, the caller authenticated first (so that the
    refusal is audited) if it sent a credential."""
    services: Services | None = getattr(request.app.state, "services", None)
    if services is not None and request.headers.get("authorization"):
        authenticate(request, services)
    served = ", ".join(supported_endpoints(request))
    return NotFound(
        f"The gateway does not serve {request.method} {request.url.path}. "
        f"Supported endpoints: {served}.",
        code="unsupported_endpoint",
    )


def supported_endpoints(request: Request[Any, Any, Any]) -> list[str]:
    """``METHOD /v1/path`` of every route the application serves under /v1/."""
    served: set[str] = set()
    for app_route in request.app.routes:
        if not app_route.path.startswith(PREFIX):
            continue
        methods = set(getattr(app_route, "methods", ())) - {"HEAD", "OPTIONS"}
        served.update(f"{method} {_plain(app_route.path)}" for method in methods)
    return sorted(served, key=lambda entry: (entry.split(" ", 1)[1], entry))


def _plain(path: str) -> str:
    """``/v1/files/{file_id:str}`` -> ``/v1/files/{file_id}``."""
    return "/".join(
        part.split(":", 1)[0] + "}" if part.startswith("{") else part for part in path.split("/")
    )
