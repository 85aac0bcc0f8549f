"""Explain a retrieval for security teams: the filter, what it lets through, what it stops.

Shows metadata only (ids, titles, classification, governance fields, scores), never chunk
text: the person debugging a policy need not see the data it protects. When the policy
cannot be compiled into an exact filter for the subject, says why (what callers are not
told) and still lists the best matches with the policy's reasons.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.elastic import ChunkIndex
from gateway.identity import Principal
from gateway.policy import PolicyEngine
from gateway.retrieval.filters import CompiledFilter, FilterCompiler, Refusal
from gateway.retrieval.retriever import Retriever, policy_view
from gateway.retrieval.translator import MATCH_ALL

SUMMARY_FIELDS = ("chunk_id", "doc_id", "title", "corpus", "classification", "tenant", "_score")
_LIST_SHOWN = 10


@dataclass(frozen=True)
class Excluded:
    chunk: dict[str, Any]
    reasons: list[str]


@dataclass(frozen=True)
class Explanation:
    principal: Principal
    query: str
    compiled: CompiledFilter | Refusal
    retrieved: list[dict[str, Any]]
    excluded: list[Excluded]
    dropped_by_recheck: list[str]
    index: ChunkIndex | None = None

    def as_dict(self) -> dict[str, Any]:
        compiled = self.compiled
        refusal = compiled if isinstance(compiled, Refusal) else None
        built = compiled if isinstance(compiled, CompiledFilter) else None
        return {
            "subject": self.principal.as_policy_input(),
            "query": self.query,
            "policy_revision": built.revision if built else None,
            "untranslatable": refusal.reason if refusal else None,
            "ucast": compiled.ucast,
            "elasticsearch_filter": built.es_filter if built else None,
            "retrieved": [self._summary(c) for c in self.retrieved],
            "excluded": [{**self._summary(e.chunk), "reasons": e.reasons} for e in self.excluded],
            "dropped_by_recheck": self.dropped_by_recheck,
        }

    def _summary(self, chunk: dict[str, Any]) -> dict[str, Any]:
        summary = {name: chunk.get(name) for name in SUMMARY_FIELDS}
        if self.index is not None:
            summary["governance"] = {
                name: _shorten(value)
                for name, value in policy_view(chunk, self.index.schema).items()
            }
        return summary


def _shorten(value: Any) -> Any:
    """Access lists can hold thousands of names: the first few and how many."""
    if isinstance(value, list) and len(value) > _LIST_SHOWN:
        return [*value[:_LIST_SHOWN], f"... {len(value) - _LIST_SHOWN} more"]
    return value


async def explain(
    index: ChunkIndex,
    policy: PolicyEngine,
    filters: FilterCompiler,
    principal: Principal,
    query: str,
    k: int = 5,
    excluded_limit: int = 5,
    revision: str = "",
) -> Explanation:
    outcome = await filters.compile_or_refusal(principal, revision)
    retrieved: list[dict[str, Any]] = []
    dropped: list[str] = []
    if isinstance(outcome, CompiledFilter):
        retrieval = await Retriever(index, policy, filters).retrieve(principal, query, k=k)
        outcome, retrieved, dropped = (
            retrieval.compiled,
            retrieval.chunks,
            retrieval.dropped_chunk_ids,
        )
    allowed_ids = {c["chunk_id"] for c in retrieved}
    # Unfiltered on purpose: this is the security team's view of what the filter stopped.
    best = await index.search(query, authorization_filter=MATCH_ALL, k=k + excluded_limit * 4)
    excluded: list[Excluded] = []
    for chunk in best:
        if chunk["chunk_id"] in allowed_ids or len(excluded) >= excluded_limit:
            continue
        reasons = await policy.why_not(principal, policy_view(chunk, index.schema))
        excluded.append(Excluded(chunk, reasons or ["no allow rule matched"]))
    return Explanation(principal, query, outcome, retrieved, excluded, dropped, index)
