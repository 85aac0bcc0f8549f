"""Admit a chat request under its caller's limits (``gateway.limits``), or refuse it (429).

The concurrency slot is given back when the response is over, streams included (the
request scope's ``on_finish``, run by the middleware); the token budget is corrected by
the usage the upstream reports.
"""

from __future__ import annotations

from typing import Any

from gateway.identity import Principal
from gateway.limits import CallerLimits, RateLimited, estimate_tokens
from gateway.request_scope import current_request
from gateway.services import Services

_NONE = CallerLimits()


async def admit(services: Services, principal: Principal, body: dict[str, Any]) -> None:
    """Raise RateLimited (with ``retry-after`` on the response) past a limit."""
    if not services.settings.rate_limits:
        return
    limits = await services.limits.for_principal(principal)
    if limits == _NONE:
        return
    tokens = estimate_tokens(body) if limits.tokens_per_minute is not None else 0
    scope = current_request()
    try:
        release = services.limiter.admit(principal.subject, limits, tokens)
    except RateLimited as exc:
        services.metrics.rate_limited.labels(limit=exc.error_type).inc()
        if scope is not None:
            scope.response_headers.update(exc.headers)
        raise
    if scope is None:
        release()
        return
    scope.on_finish.append(release)
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
