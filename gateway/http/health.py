"""Liveness and readiness."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Response, get
from litestar.di import NamedDependency

from gateway.errors import DependencyUnavailable
from gateway.services import Services

READY_CHECK_TIMEOUT_S = 3.0


@get("/healthz", sync_to_thread=False)
def healthz() -> dict[str, str]:
    """The process is alive and serving; says nothing about dependencies."""
    return {"status": "ok"}


@get("/metrics", media_type="text/plain; version=0.0.4")
async def metrics(services: NamedDependency[Services]) -> bytes:
    """Prometheus exposition: per-stage latency histograms and request counters."""
    return services.metrics.render()


@get("/readyz")
async def readyz(services: NamedDependency[Services]) -> Response[dict[str, Any]]:
    """Elasticsearch, OPA, the audit sink and the PII workers can serve; 503 names each one
    that cannot."""
    elastic, opa, audit = await asyncio.gather(
        _check_elasticsearch(services), _check_opa(services), _check_audit(services)
    )
    checks = {
        "elasticsearch": elastic,
        "opa": opa,
        "audit": audit,
        "pii_analysis": _check_analysis(services),
    }
    ready = all(check["ok"] for check in checks.values())
    body = {
        "status": "ready" if ready else "not_ready",
        "failing": [name for name, check in checks.items() if not check["ok"]],
        "checks": checks,
    }
    return Response(body, status_code=200 if ready else 503)


async def _check_elasticsearch(services: Services) -> dict[str, Any]:
    try:
        status = await asyncio.wait_for(services.index.health(), READY_CHECK_TIMEOUT_S)
    except (DependencyUnavailable, TimeoutError) as exc:
        return {"ok": False, "detail": str(exc) or "timed out"}
    return {"ok": status in {"green", "yellow"}, "detail": f"cluster status {status}"}


async def _check_audit(services: Services) -> dict[str, Any]:
    """The audit log can append durably now: a bounded write-and-sync probe beside it.

    The detail never names the file (this endpoint needs no key)."""
    problem = await services.audit.probe(READY_CHECK_TIMEOUT_S)
    return {"ok": problem is None, "detail": problem or "appends are durable"}


async def _check_opa(services: Services) -> dict[str, Any]:
    try:
        healthy = await asyncio.wait_for(services.policy.healthy(), READY_CHECK_TIMEOUT_S)
    except TimeoutError:
        healthy = False
    return {"ok": healthy, "detail": "healthy" if healthy else "unreachable or policies not loaded"}


def _check_analysis(services: Services) -> dict[str, Any]:
    """Ready while at least one PII worker has its models loaded and is alive."""
    pool = services.analysis
    if pool is None:
        return {"ok": True, "detail": "disabled"}
    status = pool.status()
    ready, total = status["ready_workers"], len(status["workers"])
    return {
        "ok": ready > 0,
        "detail": f"{ready}/{total} workers ready",
        "workers": status["workers"],
    }
