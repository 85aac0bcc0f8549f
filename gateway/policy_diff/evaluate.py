"""One policy version, evaluated for each principal: what it may retrieve and use.

Through the gateway's own code paths, so the preview sees what the gateway would
enforce: the retrieval filter is compiled by OPA and translated by the same strict
translator and simplifier (``filters.VersionFilters``: one compile per principal, or per
shape of principals where the policy provably allows it), and model access is
``gateway.authz.decision``, validated by the gateway's own parser. The authorization
decisions of many principals are asked in one ad-hoc OPA query per batch (``with input
as`` over a list), instead of one HTTP round trip per principal and model. Every OPA
call goes through ``PolicyEngine``, whose one error map makes any failure
DependencyUnavailable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from gateway.errors import DependencyUnavailable
from gateway.identity import Principal
from gateway.policy import PolicyEngine, parse_authz_decision
from gateway.policy_diff.filters import CompileStats, VersionFilters


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
    stats: CompileStats | None = None,
) -> list[Access]:
    """Every principal's access under the version OPA at ``opa_url`` serves.

    The OPA is the diff's own and each compile is CPU-bound there, so a few requests in
    flight keep it busy and the timeout is generous: on a loaded machine a 10 s timeout
    failed whole diffs while OPA was merely slow. A batch of authorization decisions
    gets six times that.
    """
    async with (
        PolicyEngine(opa_url, timeout_s) as policy,
        PolicyEngine(opa_url, timeout_s * 6) as batch_policy,
    ):
        compiler = VersionFilters(policy, concurrency=concurrency, stats=stats)
        filters = await compiler.filters(principals)
        decisions = await _authz(batch_policy, principals, models)
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
    policy: PolicyEngine,
    principals: Sequence[Principal],
    models: Sequence[str],
    batch: int = 100,
) -> list[tuple[bool, dict[str, ModelAccess]]]:
    what = "cannot evaluate gateway.authz"
    found: list[tuple[bool, dict[str, ModelAccess]]] = []
    for start in range(0, len(principals), batch):
        subjects = [p.as_policy_input() for p in principals[start : start + batch]]
        rows = await policy.ad_hoc_query(
            _AUTHZ_QUERY, {"subjects": subjects, "models": list(models)}, what
        )
        try:
            found.extend(_access(row, models) for row in rows[0]["x"])
        except (KeyError, IndexError, TypeError) as exc:
            raise DependencyUnavailable("opa", what) from exc
        if len(found) != start + len(subjects):
            raise DependencyUnavailable("opa", "gateway.authz answered for the wrong count")
    return found


def _access(row: Any, models: Sequence[str]) -> tuple[bool, dict[str, ModelAccess]]:
    auditor = parse_authz_decision({"result": row["auditor"]}).allow
    access = {}
    for model in models:
        decision = parse_authz_decision({"result": row["models"][model]})
        access[model] = ModelAccess(
            decision.allow,
            decision.allow and decision.retrieval_enabled,
            decision.corpora if decision.allow else (),
        )
    return auditor, access
