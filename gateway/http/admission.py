"""Admit a request under its caller's limits (``gateway.limits``), or refuse it (429).

``caller_limits`` is a Litestar guard on the router that holds every authenticated
endpoint (``gateway.app``): it authenticates the caller and takes one request (requests
per minute, a concurrency slot) before the handler runs or the body is read, so an
endpoint added to that router is limited without doing anything. Chat then charges its
tokens (``admit``). The concurrency slot is given back when the response is over,
streams included (the request scope's ``on_finish``, run by the middleware); the token
budget is corrected by the usage the upstream reports. A refusal is a 429 in OpenAI's
shape with ``retry-after``, and the middleware records it like any other refusal.

Per-minute counts are shared by all workers and replicas (``gateway.limit_sync``);
admission itself reads local numbers, except that a caller's first request on a replica
waits for one sync (bounded) so a replica does not start blind.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler

from gateway.http.auth import authenticate
from gateway.identity import Principal
from gateway.limits import CallerLimits, RateLimited, estimate_tokens
from gateway.request_scope import current_request
from gateway.services import Services

_NONE = CallerLimits()


async def caller_limits(
    connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler
) -> None:
    """Guard: authenticate (401) and admit one request of the caller (429)."""
    services: Services = connection.app.state.services
    principal = authenticate(connection, services)
    await admit(services, principal, None)


async def admit(services: Services, principal: Principal, body: dict[str, Any] | None) -> None:
    """Raise RateLimited (with ``retry-after`` on the response) past a limit.

    Without ``body``: one request (requests per minute, concurrency). With a chat body:
    its tokens too, and the request as well unless the guard already admitted it."""
    if not services.settings.rate_limits:
        return
    limits = await services.limits.for_principal(principal)
    if limits == _NONE:
        return
    tokens = estimate_tokens(body) if body is not None and limits.tokens_per_minute else 0
    sync = services.limit_sync
    if sync is not None and services.limiter.needs_sync(principal.subject, limits, tokens):
        # The even share of an unsynced caller would refuse this request (or no sync ran
        # yet): read what the other replicas counted first. Otherwise admit at once.
        await sync.wait_synced()
    scope = current_request()
    try:
        if scope is not None and scope.admitted:
            services.limiter.admit_tokens(principal.subject, limits, tokens)
            release = None
        else:
            release = services.limiter.admit(principal.subject, limits, tokens)
    except RateLimited as exc:
        services.metrics.rate_limited.labels(limit=exc.error_type).inc()
        if scope is not None:
            scope.response_headers.update(exc.headers)
        raise
    if scope is None:
        if release is not None:
            release()
        return
    if release is not None:
        scope.on_finish.append(release)
        scope.admitted = True
    if tokens:
        scope.facts["rate_limit_tokens_charged"] = tokens


def settle(services: Services, principal: Principal, usage: dict[str, Any] | None) -> None:
    """Correct the caller's token budget by what the upstream says the request used."""
    scope = current_request()
    if scope is None or not isinstance(usage, dict):
        return
    charged = scope.facts.pop("rate_limit_tokens_charged", None)
    used = usage.get("total_tokens")
    if isinstance(charged, int) and isinstance(used, int) and not isinstance(used, bool):
        services.limiter.charge(principal.subject, used - charged)
