"""Explain a retrieval for security teams: the filter, what it lets through, what it stops.

Shows metadata only (ids, titles, classification, scores), never chunk text: the person
debugging a policy need not see the data it protects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.elastic import ChunkIndex
from gateway.identity import Principal
from gateway.policy import PolicyEngine
from gateway.retrieval.filters import CompiledFilter, FilterCompiler
from gateway.retrieval.retriever import Retriever, policy_view
from gateway.retrieval.translator import MATCH_ALL

SUMMARY_FIELDS = ("chunk_id", "doc_id", "title", "corpus", "classification", "tenant", "_score")


@dataclass(frozen=True)
class Excluded:
    chunk: dict[str, Any]
    reasons: list[str]


@dataclass(frozen=True)
class Explanation:
    principal: Principal
    query: str
    compiled: CompiledFilter
    retrieved: list[dict[str, Any]]
    excluded: list[Excluded]
    dropped_by_recheck: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {
            "subject": self.principal.as_policy_input(),
            "query": self.query,
            "policy_revision": self.compiled.revision,
            "ucast": self.compiled.ucast,
            "elasticsearch_filter": self.compiled.es_filter,
            "retrieved": [_summary(c) for c in self.retrieved],
            "excluded": [{**_summary(e.chunk), "reasons": e.reasons} for e in self.excluded],
            "dropped_by_recheck": self.dropped_by_recheck,
        }


def _summary(chunk: dict[str, Any]) -> dict[str, Any]:
    return {name: chunk.get(name) for name in SUMMARY_FIELDS}


async def explain(
    index: ChunkIndex,
    policy: PolicyEngine,
    filters: FilterCompiler,
    principal: Principal,
    query: str,
    k: int = 5,
    excluded_limit: int = 5,
) -> Explanation:
    retrieval = await Retriever(index, policy, filters).retrieve(principal, query, k=k)
    allowed_ids = {c["chunk_id"] for c in retrieval.chunks}
    # Unfiltered on purpose: this is the security team's view of what the filter stopped.
    best = await index.search(query, authorization_filter=MATCH_ALL, k=k + excluded_limit * 4)
    excluded: list[Excluded] = []
    for chunk in best:
        if chunk["chunk_id"] in allowed_ids or len(excluded) >= excluded_limit:
            continue
        reasons = await policy.why_not(principal, policy_view(chunk, index.schema))
        excluded.append(Excluded(chunk, reasons or ["no allow rule matched"]))
    return Explanation(
        principal,
        query,
        retrieval.compiled,
        retrieval.chunks,
        excluded,
        retrieval.dropped_chunk_ids,
    )
