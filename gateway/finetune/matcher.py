"""Find governed chunks that parts of an upload overlap, by their stored fingerprints.

Library errors become DependencyUnavailable (``gateway.elastic.elasticsearch_errors``), so a
scan that cannot search is a refused upload, never an unchecked one. The search ignores
who is uploading: training data is compared with every governed chunk, including those
the caller could never retrieve. Chunks fingerprinted under another scheme cannot be
compared, so their presence fails the scan closed until they are re-ingested.

Containment is scored per signal (word k-grams, character shingles; see
``gateway.fingerprint``) as shared / the smaller of the two sets, so a short example
inside a long chunk and a short excerpt inside a long part both score high; the policy
also sees the absolute number shared.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from elasticsearch import AsyncElasticsearch
from numpy.typing import NDArray

from gateway.elastic import IndexNotFound, elasticsearch_errors
from gateway.errors import DependencyUnavailable
from gateway.fingerprint import SCHEME, ranges, sorted_distinct

PAGE = 1000
MIN_SHARED = 2
"""Overlaps of fewer shared fingerprints are not reported: one shared 3-gram is common
phrasing, never evidence of copying (the policy's ``min_shared`` is at least this)."""
GOVERNANCE_FIELDS = (
    "doc_id",
    "corpus",
    "tenant",
    "classification",
    "owner",
    "allowed_groups",
    "allowed_users",
    "labels",
)
_SOURCE = ["chunk_id", "fingerprints", *GOVERNANCE_FIELDS]


@dataclass(frozen=True, slots=True)
class Unit:
    """A part of an upload that is matched on its own: an example or a segment."""

    lines: tuple[int, ...]
    """The upload's lines this part covers (one for an example)."""
    prints: NDArray[np.int64]
    """Its sorted, distinct fingerprints (both signals)."""
    owners: NDArray[np.int64] | None = None
    """For a part spanning lines: the line each fingerprint comes from (an overlap then
    names only the lines whose fingerprints are shared)."""


@dataclass(frozen=True, slots=True)
class Overlap:
    """One part's overlap with one document: its best chunk."""

    lines: tuple[int, ...]
    doc_id: str
    corpus: str
    classification: str
    chunk_id: str
    score: float
    """The larger of the two signals' containment (shared / smaller set)."""
    shared: int
    shared_chars: int
    """Shared character-shingle fingerprints (``shared`` counts both signals)."""

    @property
    def line(self) -> int:
        return self.lines[0]


@dataclass(frozen=True, slots=True)
class _Chunk:
    chunk_id: str
    words: int
    chars: int
    governance: dict[str, Any]


class CorpusMatcher:
    def __init__(self, client: AsyncElasticsearch, index: str, batch: int = 4096) -> None:
        self._client = client
        self._index = index
        self._batch = batch

    async def overlaps(
        self, units: Sequence[Unit], since: str | None = None
    ) -> tuple[list[Overlap], dict[str, dict[str, Any]]]:
        """Every (part, document) pair sharing at least MIN_SHARED fingerprints, and the
        governance fields of each document found (for the retrieval policy).

        ``since``: only chunks ingested after this instant (a re-check at job creation).
        """
        await self._check_scheme()
        wanted = sorted_distinct(
            np.concatenate([u.prints for u in units] or [np.empty(0, np.int64)])
        )
        chunks: dict[str, _Chunk] = {}
        held: list[NDArray[np.int64]] = []  # per chunk found: its fingerprints we look for
        for start in range(0, len(wanted), self._batch):
            batch = wanted[start : start + self._batch]
            async for source in self._search(batch.tolist(), sorted(chunks), since):
                chunk_id = str(source["chunk_id"])
                fps = np.asarray(source.get("fingerprints") or [], dtype=np.int64)
                chars = int(np.count_nonzero(fps & 1))
                chunks[chunk_id] = _Chunk(
                    chunk_id,
                    len(fps) - chars,
                    chars,
                    {k: source[k] for k in GOVERNANCE_FIELDS if source.get(k) is not None},
                )
                held.append(_members(fps, wanted))
        found = await asyncio.to_thread(
            _all_overlaps, units, Holders.of(held), list(chunks.values())
        )
        documents = {c.governance.get("doc_id", ""): c.governance for c in chunks.values()}
        return found, {str(k): v for k, v in documents.items()}

    async def _check_scheme(self) -> None:
        """Fail closed while any chunk carries fingerprints of another scheme."""
        query = {
            "bool": {
                "filter": [{"exists": {"field": "fingerprints"}}],
                "must_not": [{"term": {"fingerprint_scheme": SCHEME}}],
            }
        }
        try:
            with elasticsearch_errors(f"fingerprint check on {self._index} failed"):
                response = await self._client.count(index=self._index, query=query)
        except IndexNotFound:
            return  # no index yet: nothing is governed
        if int(response.get("count", 0)):
            raise DependencyUnavailable(
                "elasticsearch",
                f"{response['count']} chunk(s) hold fingerprints of an older scheme; "
                "re-ingest the corpora (gateway ingest) before uploads can be scanned",
            )

    async def _search(
        self, terms: list[int], seen: list[str], since: str | None
    ) -> AsyncIterator[dict[str, Any]]:
        """Every chunk holding one of ``terms``, except ``seen`` ones, paged by chunk_id.

        A chunk found by an earlier batch already came with all its fingerprints, so it is
        excluded (chunk ids are the documents' ``_id``) rather than fetched again.
        """
        query: dict[str, Any] = {"filter": [{"terms": {"fingerprints": terms}}]}
        if since is not None:
            query["filter"].append({"range": {"ingested_at": {"gt": since}}})
        if seen:
            query["must_not"] = [{"ids": {"values": seen}}]
        after: list[Any] | None = None
        while True:
            try:
                with elasticsearch_errors(f"fingerprint search on {self._index} failed"):
                    response = await self._client.search(
                        index=self._index,
                        size=PAGE,
                        query={"bool": query},
                        source_includes=_SOURCE,
                        sort=[{"chunk_id": "asc"}],
                        search_after=after,
                        track_total_hits=False,
                    )
            except IndexNotFound:
                return
            hits = response["hits"]["hits"]
            for hit in hits:
                yield hit["_source"]
            if len(hits) < PAGE:
                return
            after = hits[-1]["sort"]


@dataclass(frozen=True, slots=True)
class Holders:
    """Which chunks hold each fingerprint looked for, as sorted arrays."""

    prints: NDArray[np.int64]
    """The distinct fingerprints some chunk holds, sorted."""
    offsets: NDArray[np.int64]
    """``chunks[offsets[i]:offsets[i + 1]]`` hold ``prints[i]``."""
    chunks: NDArray[np.int64]
    """Chunk numbers (their order of discovery), per fingerprint in that order."""

    @classmethod
    def of(cls, held: Sequence[NDArray[np.int64]]) -> Holders:
        """From each chunk's fingerprints, chunk ``n`` being ``held[n]``."""
        values = np.concatenate([*held, np.empty(0, np.int64)])
        owner = np.repeat(np.arange(len(held), dtype=np.int64), [len(h) for h in held])
        order = np.argsort(values, kind="stable")  # stable: chunks in discovery order
        values, owner = values[order], owner[order]
        fresh = np.ones(len(values), dtype=bool)
        fresh[1:] = values[1:] != values[:-1]
        offsets = np.r_[np.flatnonzero(fresh), len(values)].astype(np.int64)
        return cls(values[offsets[:-1]], offsets, owner)


def _all_overlaps(
    units: Sequence[Unit], holders: Holders, chunks: Sequence[_Chunk]
) -> list[Overlap]:
    """Every unit's overlaps (CPU-bound for large uploads: runs in a worker thread).

    All units at once: their fingerprints are looked up in the sorted table of held ones
    with one binary search, expanded to (unit, chunk) pairs, counted with one sort and
    scored in numpy; per (unit, document) the best chunk wins: the higher score, then
    more fingerprints shared, then the chunk met first in the unit's sorted
    fingerprints. Only the winners become Python objects.
    """
    if not units or not len(holders.prints):
        return []
    held, offsets, holder = holders.prints, holders.offsets, holders.chunks
    fan_of = np.diff(offsets)
    sizes = np.fromiter((len(u.prints) for u in units), np.int64, len(units))
    prints = np.concatenate([u.prints for u in units])
    unit_of = np.repeat(np.arange(len(units), dtype=np.int64), sizes)
    where = np.minimum(np.searchsorted(held, prints), len(held) - 1)
    rows = np.flatnonzero(held[where] == prints)
    fan = fan_of[where[rows]]
    row = np.repeat(rows, fan)
    pair = np.repeat(offsets[where[rows]], fan) + ranges(fan)
    # One key per (unit, chunk) pair: a single integer sort groups them.
    key = unit_of[row] * len(chunks) + holder[pair]
    order = np.argsort(key, kind="stable")
    key, row, pair = key[order], row[order], pair[order]
    if not len(key):
        return []
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    shared = np.diff(np.r_[starts, len(key)])
    kept = np.flatnonzero(shared >= MIN_SHARED)
    if not len(kept):
        return []
    chars = np.add.reduceat(prints[row] & 1, starts)[kept]
    first = np.minimum.reduceat(pair, starts)[kept]
    group_start, group_end = starts[kept], np.r_[starts, len(key)][kept + 1]
    shared = shared[kept]
    unit, chunk = key[group_start] // len(chunks), key[group_start] % len(chunks)
    unit_chars = np.bincount(unit_of, weights=prints & 1, minlength=len(units)).astype(np.int64)
    found_chunks = list(chunks)
    chunk_chars = np.array([c.chars for c in found_chunks], dtype=np.int64)
    chunk_words = np.array([c.words for c in found_chunks], dtype=np.int64)
    score = np.maximum(
        (shared - chars)
        / np.maximum(1, np.minimum(sizes[unit] - unit_chars[unit], chunk_words[chunk])),
        chars / np.maximum(1, np.minimum(unit_chars[unit], chunk_chars[chunk])),
    )
    rounded = np.array([round(min(value, 1.0), 4) for value in score.tolist()])
    doc_ids = [str(c.governance.get("doc_id")) for c in found_chunks]
    doc_rank = {doc_id: n for n, doc_id in enumerate(sorted(set(doc_ids)))}
    doc = np.array([doc_rank[d] for d in doc_ids], dtype=np.int64)[chunk]
    # Per (unit, document): best first, then keep the first of each pair; output by unit,
    # then document id.
    best = np.lexsort((first, -shared, -rounded, doc, unit))
    lead = np.r_[True, (unit[best][1:] != unit[best][:-1]) | (doc[best][1:] != doc[best][:-1])]
    owner_line = np.concatenate(
        [u.owners if u.owners is not None else np.full(len(u.prints), -1) for u in units]
    )
    winners = best[lead]
    found: list[Overlap] = []
    for u, c, count, char_count, value, begin, end in zip(
        unit[winners].tolist(),
        chunk[winners].tolist(),
        shared[winners].tolist(),
        chars[winners].tolist(),
        rounded[winners].tolist(),
        group_start[winners].tolist(),
        group_end[winners].tolist(),
        strict=True,
    ):
        found_chunk = found_chunks[c]
        lines = units[u].lines
        if units[u].owners is not None:
            lines = tuple(sorted_distinct(owner_line[row[begin:end]]).tolist())
        found.append(
            Overlap(
                lines=lines,
                doc_id=doc_ids[c],
                corpus=str(found_chunk.governance.get("corpus")),
                classification=str(found_chunk.governance.get("classification")),
                chunk_id=found_chunk.chunk_id,
                score=value,
                shared=count,
                shared_chars=char_count,
            )
        )
    return found


def _members(values: NDArray[np.int64], sorted_set: NDArray[np.int64]) -> NDArray[np.int64]:
    """The elements of ``values`` found in ``sorted_set`` (binary search: no re-sorting of
    the large side, which ``intersect1d`` would do on every call)."""
    if not len(values) or not len(sorted_set):
        return values[:0]
    where = np.minimum(np.searchsorted(sorted_set, values), len(sorted_set) - 1)
    found: NDArray[np.int64] = values[sorted_set[where] == values]
    return found
