"""One policy version, evaluated for each principal: what it may retrieve and use.

Through the gateway's own code paths, so the preview sees what the gateway would
enforce: the retrieval filter is compiled by OPA and translated by the same strict
translator (``FilterCompiler.compile``), and model access is ``gateway.authz.decision``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from gateway.errors import PolicyUntranslatable
from gateway.identity import Principal
from gateway.policy import PolicyEngine
from gateway.policy_revision import PolicyRevision
from gateway.retrieval.filters import FilterCompiler


@dataclass(frozen=True)
class ModelAccess:
    allowed: bool
    retrieval: bool
    corpora: tuple[str, ...] | None
    """None: every corpus the retrieval policy allows."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "allowed": self.allowed,
            "retrieval": self.retrieval,
            "corpora": list(self.corpora) if self.corpora is not None else None,
        }


@dataclass(frozen=True)
class Access:
    """One principal under one version."""

    es_filter: dict[str, Any] | None
    """The Elasticsearch filter; None when the policy cannot be compiled for them (the
    gateway refuses their retrieval: no access)."""
    auditor: bool
    models: dict[str, ModelAccess] = field(default_factory=dict)
    error: str | None = None


async def offered_models(opa_url: str, timeout_s: float = 5.0) -> list[str]:
    """The models a version's ``data.gateway.config.models`` offers."""
    async with PolicyEngine(opa_url, timeout_s) as policy:
        response = await policy.query("gateway.config", "models", {})
    result = response.get("result")
    return sorted(result) if isinstance(result, dict) else []


async def evaluate(
    opa_url: str,
    principals: Sequence[Principal],
    models: Sequence[str],
    *,
    concurrency: int = 16,
    timeout_s: float = 10.0,
) -> list[Access]:
    """Every principal's access under the version OPA at ``opa_url`` serves."""
    gate = asyncio.Semaphore(concurrency)
    async with PolicyEngine(opa_url, timeout_s) as policy:
        compiler = FilterCompiler(policy, PolicyRevision(policy, 3600.0))

        async def one(principal: Principal) -> Access:
            async with gate:
                return await _access(policy, compiler, principal, models)

        return list(await asyncio.gather(*(one(p) for p in principals)))


async def _access(
    policy: PolicyEngine, compiler: FilterCompiler, principal: Principal, models: Sequence[str]
) -> Access:
    es_filter: dict[str, Any] | None
    error = None
    try:
        es_filter = dict((await compiler.compile(principal, "preview")).es_filter)
    except PolicyUntranslatable as exc:
        es_filter, error = None, exc.message
    auditor = (await policy.authorize(principal, "audit.read")).allow
    access: dict[str, ModelAccess] = {}
    for model in models:
        decision = await policy.authorize(principal, "chat.completions", model)
        access[model] = ModelAccess(
            decision.allow,
            decision.allow and decision.retrieval_enabled,
            decision.corpora if decision.allow else (),
        )
    return Access(es_filter, auditor, access, error)
