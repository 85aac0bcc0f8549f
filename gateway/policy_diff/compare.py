"""Counting what each principal gains and loses, with Elasticsearch doing the work.

For a principal whose compiled filter changed, "gained" is every chunk the new filter
matches and the old one does not (``filter: [new], must_not: [old]``), "lost" the
reverse. One ``msearch`` pass per batch counts and aggregates each side at once
(documents per corpus, the first documents by id): an empty side costs what a count
would, and a non-empty one is matched once instead of twice. Document counts use a
``cardinality`` aggregation (exact in practice below its 40,000 precision threshold,
approximate above); chunk counts are exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import AsyncElasticsearch

from gateway.elastic import elasticsearch_errors
from gateway.errors import DependencyUnavailable
from gateway.hashing import canonical_json
from gateway.retrieval.translator import MATCH_NONE

PRECISION = 40_000


@dataclass
class Change:
    """Chunks and documents one principal gains (or loses)."""

    chunks: int = 0
    documents: int = 0
    corpora: dict[str, int] = field(default_factory=dict)
    """Documents per corpus."""
    details: list[dict[str, Any]] = field(default_factory=list)
    """The first documents by id: doc_id, corpus, classification, chunks."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "chunks": self.chunks,
            "documents": self.documents,
            "corpora": self.corpora,
            "details": self.details,
        }


def same_filter(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    return canonical_json(a) == canonical_json(b)


def _difference(keep: dict[str, Any] | None, drop: dict[str, Any] | None) -> dict[str, Any]:
    """Chunks ``keep`` matches and ``drop`` does not; None (untranslatable) matches nothing."""
    return {"bool": {"filter": [keep or MATCH_NONE], "must_not": [drop or MATCH_NONE]}}


def _aggregations(details: int) -> dict[str, Any]:
    docs = {"cardinality": {"field": "doc_id", "precision_threshold": PRECISION}}
    return {
        "docs": docs,
        "corpora": {"terms": {"field": "corpus", "size": 1000}, "aggs": {"docs": docs}},
        "first": {
            "terms": {"field": "doc_id", "size": max(details, 1), "order": {"_key": "asc"}},
            "aggs": {
                "corpus": {"terms": {"field": "corpus", "size": 1}},
                "classification": {"terms": {"field": "classification", "size": 1}},
            },
        },
    }


class ChangeCounter:
    """Counts gained and lost chunks for (old filter, new filter) pairs."""

    def __init__(
        self,
        client: AsyncElasticsearch,
        index: str,
        *,
        details: int = 20,
        batch: int = 50,
        timeout_s: float = 120.0,
    ) -> None:
        # A batch of searches over the whole index takes longer than one retrieval query.
        self._client = client.options(request_timeout=timeout_s)
        self._index = index
        self._details = details
        self._batch = batch

    async def indexed_chunks(self) -> int:
        with elasticsearch_errors(f"cannot count {self._index}"):
            response = await self._client.count(index=self._index)
        return int(response["count"])

    async def changes(
        self, pairs: Sequence[tuple[dict[str, Any] | None, dict[str, Any] | None]]
    ) -> list[tuple[Change, Change]]:
        """(gained, lost) for each (old, new) pair; unchanged filters cost no query, and
        principals whose (old, new) pair is the same (same groups and attributes, a
        policy that does not name them) share one count."""
        distinct: dict[str, int] = {}
        slot: list[int | None] = []
        queries: list[tuple[int, int, dict[str, Any]]] = []
        for old, new in pairs:
            before, after = canonical_json(old), canonical_json(new)
            if before == after:
                slot.append(None)
                continue
            key = before + "\n" + after
            number = distinct.get(key)
            if number is None:
                number = distinct[key] = len(distinct)
                queries.append((number, 0, _difference(new, old)))
                queries.append((number, 1, _difference(old, new)))
            slot.append(number)
        detailed = await self._msearch([q for _, _, q in queries])
        counted = [[Change(), Change()] for _ in distinct]
        for (number, side, _query), response in zip(queries, detailed, strict=True):
            if int(response["hits"]["total"]["value"]) > 0:
                counted[number][side] = self._change(response)
        return [
            (Change(), Change()) if number is None else (counted[number][0], counted[number][1])
            for number in slot
        ]

    async def _msearch(self, queries: list[dict[str, Any]]) -> list[Any]:
        found: list[Any] = []
        for start in range(0, len(queries), self._batch):
            searches: list[dict[str, Any]] = []
            for query in queries[start : start + self._batch]:
                body: dict[str, Any] = {
                    "size": 0,
                    "track_total_hits": True,
                    "query": query,
                    "aggs": _aggregations(self._details),
                }
                searches.extend(({"index": self._index}, body))
            with elasticsearch_errors("policy diff search failed"):
                response = await self._client.msearch(searches=searches)
            for item in response["responses"]:
                if "error" in item:
                    raise DependencyUnavailable(
                        "elasticsearch",
                        f"policy diff search failed: {item['error'].get('type', 'error')}",
                    )
                found.append(item)
        return found

    def _change(self, response: Any) -> Change:
        aggs = response["aggregations"]
        return Change(
            chunks=int(response["hits"]["total"]["value"]),
            documents=int(aggs["docs"]["value"]),
            corpora={str(b["key"]): int(b["docs"]["value"]) for b in aggs["corpora"]["buckets"]},
            details=[
                {
                    "doc_id": str(b["key"]),
                    "corpus": _first_key(b["corpus"]),
                    "classification": _first_key(b["classification"]),
                    "chunks": int(b["doc_count"]),
                }
                for b in aggs["first"]["buckets"][: self._details]
            ],
        )


def _first_key(aggregation: Any) -> str | None:
    buckets = aggregation.get("buckets") or []
    return str(buckets[0]["key"]) if buckets else None
