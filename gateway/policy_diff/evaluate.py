"""One policy version, evaluated for each principal: what it may retrieve and use.

Through the gateway's own code paths, so the preview sees what the gateway would
enforce: the retrieval filter is compiled by OPA and translated by the same strict
translator (``FilterCompiler.compile``, once per principal), and model access is
``gateway.authz.decision``, validated by the gateway's own parser. The authorization
decisions of many principals are asked in one ad-hoc OPA query per batch (``with input
as`` over a list), instead of one HTTP round trip per principal and model.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from gateway.errors import DependencyUnavailable, PolicyUntranslatable
from gateway.identity import Principal
from gateway.policy import PolicyEngine, parse_authz_decision
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


async def offered_models(opa_url: str, timeout_s: float = 30.0) -> list[str]:
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
    concurrency: int = 8,
    timeout_s: float = 60.0,
) -> list[Access]:
    """Every principal's access under the version OPA at ``opa_url`` serves.

    The OPA is the diff's own and each compile is CPU-bound there (~20-30 ms of CPU), so
    a few requests in flight keep it busy and the timeout is generous: on a loaded
    machine a 10 s timeout failed whole diffs while OPA was merely slow.
    """
    gate = asyncio.Semaphore(concurrency)
    async with PolicyEngine(opa_url, timeout_s) as policy:
        compiler = FilterCompiler(policy, PolicyRevision(policy, 3600.0))

        async def one(principal: Principal) -> tuple[dict[str, Any] | None, str | None]:
            async with gate:
                try:
                    return dict((await compiler.compile(principal, "preview")).es_filter), None
                except PolicyUntranslatable as exc:
                    return None, exc.message

        filters = await asyncio.gather(*(one(p) for p in principals))
    decisions = await _authz(opa_url, principals, models, timeout_s)
    return [
        Access(es_filter, auditor, access, error)
        for (es_filter, error), (auditor, access) in zip(filters, decisions, strict=True)
    ]


# Every principal's audit.read decision and per-model chat decision, in one evaluation.
_AUTHZ_QUERY = """x := [r |
  some s in input.subjects
  a := data.gateway.authz.decision with input as {"subject": s, "action": "audit.read"}
  ms := {m: d |
    some m in input.models
    d := data.gateway.authz.decision with input as {
      "subject": s, "action": "chat.completions", "model": m}
  }
  r := {"auditor": a, "models": ms}
]"""


async def _authz(
    opa_url: str,
    principals: Sequence[Principal],
    models: Sequence[str],
    timeout_s: float,
    batch: int = 100,
) -> list[tuple[bool, dict[str, ModelAccess]]]:
    found: list[tuple[bool, dict[str, ModelAccess]]] = []
    async with httpx.AsyncClient(base_url=opa_url, timeout=timeout_s * 6) as client:
        for start in range(0, len(principals), batch):
            subjects = [p.as_policy_input() for p in principals[start : start + batch]]
            payload = {
                "query": _AUTHZ_QUERY,
                "input": {"subjects": subjects, "models": list(models)},
            }
            try:
                response = await client.post("/v1/query", json=payload)
                rows = response.json()["result"][0]["x"]
            except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
                raise DependencyUnavailable("opa", "cannot evaluate gateway.authz") from exc
            if len(rows) != len(subjects):
                raise DependencyUnavailable("opa", "gateway.authz answered for the wrong count")
            for row in rows:
                auditor = parse_authz_decision({"result": row["auditor"]}).allow
                access = {}
                for model in models:
                    decision = parse_authz_decision({"result": row["models"][model]})
                    access[model] = ModelAccess(
                        decision.allow,
                        decision.allow and decision.retrieval_enabled,
                        decision.corpora if decision.allow else (),
                    )
                found.append((auditor, access))
    return found
