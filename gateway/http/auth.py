"""Authenticate the caller of an HTTP request and remember who it is for the audit.

Every endpoint authenticates through ``authenticate``: a failure is counted
(``gateway_auth_failures_total``) and logged with the client address (never the
credential); a success puts the principal on the request scope, which is what makes the
request one that must leave an audit record (``gateway.request_scope``). The guard of
the authenticated routes (``gateway.http.admission``) authenticates first; the
handler's own call then returns the principal already on the scope.
"""

from __future__ import annotations

from typing import Any

import structlog
from litestar.connection import ASGIConnection

from gateway.errors import AuthenticationFailed
from gateway.identity import Principal
from gateway.request_scope import current_request
from gateway.services import Services

log = structlog.get_logger("gateway.auth")


def authenticate(
    request: ASGIConnection[Any, Any, Any, Any], services: Services, endpoint: str | None = None
) -> Principal:
    """The principal behind the request's ``Authorization`` header, or AuthenticationFailed."""
    scope = current_request()
    if scope is not None and endpoint is not None:
        scope.endpoint = endpoint
    if scope is not None and scope.principal is not None:
        return scope.principal
    try:
        principal = services.keys.authenticate(request.headers.get("authorization"))
    except AuthenticationFailed as exc:
        services.metrics.auth_failures.labels(reason=exc.code or "invalid").inc()
        log.warning(
            "authentication_failed",
            code=exc.code,
            client_address=scope.client_address if scope else None,
            path=request.url.path,
        )
        raise
    if scope is not None:
        scope.principal = principal
    return principal
