"""Find governed chunks that training examples overlap, by their stored fingerprints.

This is an Elasticsearch adapter: library errors become DependencyUnavailable here, so a
scan that cannot search is a refused upload, never an unchecked one. The search ignores
who is uploading: training data is compared with every governed chunk, including those
the caller could never retrieve.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

from elasticsearch import AsyncElasticsearch
from elasticsearch import exceptions as es_exc

from gateway.errors import DependencyUnavailable

PAGE = 1000
MIN_SHARED = 2
"""Overlaps of fewer shared fingerprints are not reported: one shared word 3-gram is
common phrasing, never evidence of copying (the policy's ``min_shared`` is at least this)."""
_SOURCE = ["chunk_id", "doc_id", "corpus", "classification", "fingerprints"]


@dataclass(frozen=True, slots=True)
class Overlap:
    """One example's overlap with one document: its best chunk."""

    line: int
    doc_id: str
    corpus: str
    classification: str
    chunk_id: str
    score: float
    """Shared fingerprints / the smaller of the two fingerprint sets (containment)."""
    shared: int


@dataclass(frozen=True, slots=True)
class _Chunk:
    chunk_id: str
    doc_id: str
    corpus: str
    classification: str
    size: int


class CorpusMatcher:
    def __init__(self, client: AsyncElasticsearch, index: str, batch: int = 4096) -> None:
        self._client = client
        self._index = index
        self._batch = batch

    async def overlaps(self, examples: Sequence[tuple[int, Sequence[int]]]) -> list[Overlap]:
        """Every (example line, document) pair sharing at least MIN_SHARED fingerprints."""
        wanted = sorted({fp for _, fps in examples for fp in fps})
        chunks: dict[str, _Chunk] = {}
        holders: defaultdict[int, list[str]] = defaultdict(list)
        wanted_set = set(wanted)
        for start in range(0, len(wanted), self._batch):
            batch = wanted[start : start + self._batch]
            async for source in self._search(batch, sorted(chunks)):
                chunk_id = str(source["chunk_id"])
                fps = source.get("fingerprints") or []
                chunks[chunk_id] = _Chunk(
                    chunk_id,
                    str(source.get("doc_id")),
                    str(source.get("corpus")),
                    str(source.get("classification")),
                    len(fps),
                )
                for fp in fps:
                    if fp in wanted_set:
                        holders[fp].append(chunk_id)
        found: list[Overlap] = []
        for line, fps in examples:
            counts = Counter(chain.from_iterable([holders[fp] for fp in fps if fp in holders]))
            best: dict[str, Overlap] = {}
            for chunk_id, shared in [(c, n) for c, n in counts.items() if n >= MIN_SHARED]:
                chunk = chunks[chunk_id]
                score = round(shared / max(1, min(len(fps), chunk.size)), 4)
                current = best.get(chunk.doc_id)
                if current is None or score > current.score:
                    best[chunk.doc_id] = Overlap(
                        line,
                        chunk.doc_id,
                        chunk.corpus,
                        chunk.classification,
                        chunk_id,
                        score,
                        shared,
                    )
            found.extend(best[doc_id] for doc_id in sorted(best))
        return found

    async def _search(self, terms: list[int], seen: list[str]) -> Any:
        """Every chunk holding one of ``terms``, except ``seen`` ones, paged by chunk_id.

        A chunk found by an earlier batch already came with all its fingerprints, so it is
        excluded (chunk ids are the documents' ``_id``) rather than fetched again.
        """
        query: dict[str, Any] = {"filter": [{"terms": {"fingerprints": terms}}]}
        if seen:
            query["must_not"] = [{"ids": {"values": seen}}]
        after: list[Any] | None = None
        while True:
            try:
                response = await self._client.search(
                    index=self._index,
                    size=PAGE,
                    query={"bool": query},
                    source_includes=_SOURCE,
                    sort=[{"chunk_id": "asc"}],
                    search_after=after,
                    track_total_hits=False,
                )
            except (es_exc.ApiError, es_exc.TransportError) as exc:
                raise DependencyUnavailable(
                    "elasticsearch", f"fingerprint search on {self._index} failed"
                ) from exc
            hits = response["hits"]["hits"]
            for hit in hits:
                yield hit["_source"]
            if len(hits) < PAGE:
                return
            after = hits[-1]["sort"]
