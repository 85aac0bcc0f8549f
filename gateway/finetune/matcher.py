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

The arithmetic is numpy (``gateway.finetune.overlaps``), imported on the first scan:
the gateway starts without numpy.
"""

from __future__ import annotations

import asyncio
import contextlib
from bisect import bisect_left
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from elasticsearch import AsyncElasticsearch

from gateway.elastic import IndexNotFound, elasticsearch_errors
from gateway.finetune.corpus_state import OtherScheme, digest, run_states
from gateway.fingerprint_scheme import SCHEME

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from gateway.finetune.corpus_index import CorpusIndex, Snapshot

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


class Overlap(NamedTuple):
    """One part's overlap with one document: its best chunk.

    A named tuple, not a frozen dataclass: a 5 MB upload yields tens of thousands, built
    in the match and rebuilt from the scan helper's replies, and a frozen dataclass's
    ``__init__`` (a ``object.__setattr__`` per field) cost four times a tuple's.
    """

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
class Chunk:
    chunk_id: str
    words: int
    chars: int
    governance: dict[str, Any]


LOCAL_MAX_PRINTS = 5_000_000
"""Fingerprints the local copy of the corpus may hold (~32 bytes each in memory); a
larger corpus is searched in Elasticsearch on every scan. The default of
``Settings.finetune_local_index_max_prints`` (a test keeps the two equal)."""


class CorpusMatcher:
    def __init__(
        self,
        client: AsyncElasticsearch,
        index: str,
        batch: int = 4096,
        *,
        local_max_prints: int = LOCAL_MAX_PRINTS,
    ) -> None:
        """``local_max_prints``: bound of the local copy (``gateway.finetune.corpus_index``);
        0 searches Elasticsearch on every scan."""
        self._client = client
        self._index = index
        self._batch = batch
        self._local_max_prints = local_max_prints
        self._local: CorpusIndex | None = None

    async def overlaps(
        self,
        units: Sequence[Unit],
        *,
        more: asyncio.Future[list[Unit]] | None = None,
    ) -> tuple[list[Overlap], dict[str, dict[str, Any]]]:
        """Every (part, document) pair sharing at least MIN_SHARED fingerprints, and the
        governance fields of each document found (for the retrieval policy).

        ``more``: parts still being fingerprinted, matched after ``units`` (the result
        is the same as for all of them at once); awaited or cancelled here in any case.
        """
        try:
            return await self._overlaps(units, more)
        finally:
            if more is not None and not more.done():
                more.cancel()
            if more is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await more

    async def _overlaps(
        self,
        units: Sequence[Unit],
        more: asyncio.Future[list[Unit]] | None,
    ) -> tuple[list[Overlap], dict[str, dict[str, Any]]]:
        from gateway.finetune import overlaps as engine  # numpy: loaded on first use

        if self._local_max_prints > 0:
            # Its count of the runs fails closed on another scheme (``run_states``).
            snapshot = await self._local_index().current()
            if snapshot is not None:
                found, documents = await asyncio.to_thread(_local_overlaps, units, snapshot)
                if more is None:
                    return found, documents
                rest, rest_documents = await asyncio.to_thread(
                    _local_overlaps, await more, snapshot
                )
                return found + rest, {**documents, **rest_documents}
        else:
            await self._check_scheme()
        if more is not None:
            units = [*units, *await more]
        wanted = engine.wanted_prints(units)
        chunks: dict[str, Chunk] = {}
        held: list[NDArray[np.int64]] = []  # per chunk found: its fingerprints we look for
        for batch in engine.batches(wanted, self._batch):
            async for source in self._search(batch, sorted(chunks)):
                chunk_id = str(source["chunk_id"])
                prints, words, chars = engine.chunk_prints(source.get("fingerprints") or [], wanted)
                chunks[chunk_id] = Chunk(
                    chunk_id,
                    words,
                    chars,
                    {k: source[k] for k in GOVERNANCE_FIELDS if source.get(k) is not None},
                )
                held.append(prints)
        found = await asyncio.to_thread(engine.overlaps_of, units, held, list(chunks.values()))
        documents = {c.governance.get("doc_id", ""): c.governance for c in chunks.values()}
        return found, {str(k): v for k, v in documents.items()}

    async def local_snapshot(self) -> Snapshot | None:
        """The local copy of the corpus as Elasticsearch holds it now (the scheme checked
        first), to match against with ``local_overlaps``; None when there is none to
        trust (``overlaps`` then searches Elasticsearch)."""
        if self._local_max_prints <= 0:
            await self._check_scheme()
            return None
        return await self._local_index().current()  # checks the scheme (``run_states``)

    async def state(self) -> str | None:
        """The corpus's state now (``gateway.finetune.corpus_state``); None when it has
        too many ingest runs to name one. Read it before a match: the match then sees
        this state or a later one, never an earlier."""
        runs = await run_states(self._client, self._index)
        return None if runs is None else digest(runs)

    def _local_index(self) -> CorpusIndex:
        from gateway.finetune.corpus_index import CorpusIndex  # numpy

        if self._local is None:
            self._local = CorpusIndex(self._client, self._index, self._local_max_prints)
        return self._local

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
        if count := int(response.get("count", 0)):
            raise OtherScheme(count)

    async def _search(self, terms: list[int], seen: list[str]) -> AsyncIterator[dict[str, Any]]:
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


def _local_overlaps(
    units: Sequence[Unit], snapshot: Snapshot
) -> tuple[list[Overlap], dict[str, dict[str, Any]]]:
    """The overlaps against the local copy, and the governance of each document named."""
    from gateway.finetune.overlaps import all_overlaps

    found = all_overlaps(units, snapshot.holders, snapshot.table)
    return found, local_documents(found, snapshot)


def local_documents(found: Sequence[Overlap], snapshot: Snapshot) -> dict[str, dict[str, Any]]:
    """The governance of each document ``found`` names (overlaps against ``snapshot``)."""
    documents: dict[str, dict[str, Any]] = {}
    for chunk_id in {overlap.chunk_id for overlap in found}:
        # The snapshot's chunks are in chunk_id order.
        chunk = snapshot.chunks[bisect_left(snapshot.chunks, chunk_id, key=_chunk_id)]
        documents[str(chunk.governance.get("doc_id", ""))] = chunk.governance
    return documents


def _chunk_id(chunk: Chunk) -> str:
    return chunk.chunk_id
