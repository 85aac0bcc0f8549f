"""retrieve(principal, query, k): only chunks the policy lets this principal see.

1. the subject's compiled filter goes *inside* the Elasticsearch query (never a
   post-filter: that would lose results and leak through counts and scores);
2. every hit is re-checked by OPA (``allow_document``, one batched call), so a
   translator bug drops a chunk and raises a security event instead of leaking it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from gateway.elastic import ChunkIndex
from gateway.governance_schema import BUILTIN_SCHEMA, GovernanceSchema
from gateway.identity import Principal
from gateway.policy import PolicyEngine
from gateway.retrieval.filters import CompiledFilter, FilterCompiler
from gateway.retrieval.query import bounded_query

log = structlog.get_logger("gateway.retrieval")


@dataclass(frozen=True)
class Retrieval:
    chunks: list[dict[str, Any]]
    compiled: CompiledFilter
    dropped_chunk_ids: list[str] = field(default_factory=list)


def policy_view(
    chunk: Mapping[str, Any], schema: GovernanceSchema = BUILTIN_SCHEMA
) -> dict[str, Any]:
    """The governance fields of a chunk, as the retrieval policy's input.document.

    Never the text. List fields are always present (``[]`` when unset), so a deny-list
    test (``not lists.has(F, v)``) holds on a document without the list, as must_not
    does in Elasticsearch.
    """
    view = {name: chunk[name] for name in schema.field_types() if chunk.get(name) is not None}
    for name in schema.list_fields():
        view.setdefault(name, [])
    return view


class Retriever:
    def __init__(self, index: ChunkIndex, policy: PolicyEngine, filters: FilterCompiler) -> None:
        self._index = index
        self._policy = policy
        self._filters = filters

    async def retrieve(
        self,
        principal: Principal,
        query: str,
        k: int = 5,
        corpora: Sequence[str] | None = None,
    ) -> Retrieval:
        """Top-k authorized chunks for ``query``; ``corpora`` can only narrow the scope."""
        compiled = await self._filters.filter_for(principal)
        clauses: list[Mapping[str, Any]] = [compiled.es_filter]
        if corpora is not None:
            clauses.append({"terms": {"corpus": list(corpora)}})
        authorization = clauses[0] if len(clauses) == 1 else {"bool": {"filter": clauses}}
        hits = await self._index.search(
            bounded_query(query), authorization_filter=authorization, k=k
        )
        verdicts = await self._policy.allow_documents(
            principal,
            [policy_view(h, self._index.schema) for h in hits],
            package=self._filters.package,
        )
        allowed = [hit for hit, ok in zip(hits, verdicts, strict=True) if ok]
        dropped = [str(hit["chunk_id"]) for hit, ok in zip(hits, verdicts, strict=True) if not ok]
        if dropped:
            log.error(
                "security_event_filter_disagreement",
                subject=principal.subject,
                revision=compiled.revision,
                dropped_chunk_ids=dropped,
            )
        return Retrieval(allowed, compiled, dropped)
