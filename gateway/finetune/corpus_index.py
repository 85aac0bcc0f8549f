"""A local copy of the governed corpus's fingerprints, kept in step with Elasticsearch.

Without it every scan ships each touched chunk with all its fingerprints through the
client's JSON and asks Elasticsearch for hundreds of thousands of terms; with it a scan
looks its fingerprints up in one sorted array (``gateway.finetune.overlaps``) and asks
Elasticsearch one small question first: how many chunks of the current scheme each
ingest run has (a ``terms`` aggregation on ``ingested_at``, the run's start, which
every chunk of one ingest run shares), and the sum of their ``_seq_no``.

Why that is enough to never be stale: an ingest run only adds chunks to its own run
(the same instant), and what it deletes or replaces belongs to older runs. So any
change to the set of chunks changes some run's count, or adds or removes a run. A chunk
rewritten in place (same id, run and count: an update outside the ingest pipeline, or
two runs starting in the same millisecond) gets a higher ``_seq_no`` in its shard, so
its run's sum grows. The runs whose state differs from the copy's are fetched again
(their chunks replaced); the copy is used only when its per-run states equal the ones
Elasticsearch gave at the start of this scan, so it holds exactly the chunks
Elasticsearch held then. When that
cannot be reached (ingests racing with the sync, more runs or fingerprints than the
bounds), ``current`` answers None and the matcher searches Elasticsearch as before:
never a silently smaller corpus. A run caught being written is not fetched again until
its state holds still between two counts: while an ingest writes, scans search (after at
most one fetch of it), and the first scan after it ends searches too.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from elasticsearch import AsyncElasticsearch
from numpy.typing import NDArray

from gateway.elastic import IndexNotFound, elasticsearch_errors
from gateway.finetune.corpus_state import (
    NO_RUN,
    RunState,
    digest,
    fingerprint_filter,
    run_states,
)
from gateway.finetune.matcher import GOVERNANCE_FIELDS, PAGE, Chunk
from gateway.finetune.overlaps import ChunkTable, Holders
from gateway.fingerprint import sorted_distinct

_REFETCH_ALL = 64
"""More stale runs than this are fetched as one query over the whole corpus."""
_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One consistent view of the corpus: what a scan matches against."""

    holders: Holders
    chunks: list[Chunk]
    """Chunk ``n`` of ``holders.chunks``, in ``chunk_id`` order."""
    state: str | None = None
    """The corpus state it holds (``corpus_state.digest`` of its runs): a scan matched
    against it needs no second count to name it."""
    token: str = field(default_factory=lambda: uuid.uuid4().hex)
    """Names this snapshot in the scan helper, which keeps the last one it was sent."""
    table: ChunkTable = field(init=False)
    """``chunks`` as scoring reads them (``all_overlaps``)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "table", ChunkTable.of(self.chunks))


@dataclass(frozen=True, slots=True)
class _Held:
    chunk: Chunk
    prints: NDArray[np.int64]
    run: int
    seq_no: int


def stale_runs(held: Mapping[int, RunState], current: Mapping[int, RunState]) -> set[int]:
    """The runs whose chunks must be fetched again: new, gone, or of another count or
    sequence-number sum."""
    return {run for run in held.keys() | current.keys() if held.get(run) != current.get(run)}


class CorpusIndex:
    def __init__(self, client: AsyncElasticsearch, index: str, max_prints: int) -> None:
        self._client = client
        self._index = index
        self._max_prints = max_prints
        self._held: dict[str, _Held] = {}
        self._runs: dict[int, RunState] = {}
        """Per run, the state of the chunks the copy holds (Elasticsearch's at the last
        sync)."""
        self._snapshot: Snapshot | None = None
        self._oversized: dict[int, RunState] | None = None
        """The runs last found beyond ``max_prints``: not fetched again until they change."""
        self._moving: dict[int, RunState | None] = {}
        """Runs found being written (they changed between a count and the fetch after
        it), with their last state seen: fetched again only once that state held still
        from one count to the next, so an ingest writing one run for minutes is not
        fetched again and again by every scan meanwhile (they search instead)."""
        self._lock = asyncio.Lock()

    async def current(self) -> Snapshot | None:
        """The corpus as Elasticsearch holds it now, or None when no local copy can be
        trusted (the caller then searches Elasticsearch)."""
        async with self._lock:
            for _ in range(_ATTEMPTS):
                runs = await self._count_runs()
                if runs is None:
                    return None
                if runs == self._runs and self._snapshot is not None:
                    return self._snapshot
                if runs == self._oversized:
                    return None
                if self._still_moving(runs):
                    return None
                stale = stale_runs(self._runs, runs)
                fetched = await self._fetch(stale if len(stale) <= _REFETCH_ALL else None)
                if fetched is None:
                    self._held, self._runs, self._snapshot = {}, {}, None
                    self._oversized, self._moving = runs, {}
                    return None
                self._replace(stale if len(stale) <= _REFETCH_ALL else None, fetched)
                # The held chunks changed: the old snapshot no longer describes them, even
                # if what follows is cancelled or fails (a scan cancelled mid-build).
                self._snapshot = None
                states = self._states()
                if states == runs:
                    snapshot = await asyncio.to_thread(self._build, runs)
                    self._runs, self._snapshot, self._moving = runs, snapshot, {}
                    return snapshot
                # An ingest wrote between the count and the fetch: count again.
                self._runs = states
                self._moving = {run: states.get(run) for run in stale_runs(states, runs)}
            return None

    def _still_moving(self, runs: Mapping[int, RunState]) -> bool:
        """Whether a run found being written has changed again since last seen (its
        newest state is then remembered)."""
        moved = {run for run, seen in self._moving.items() if runs.get(run) != seen}
        for run in moved:
            self._moving[run] = runs.get(run)
        return bool(moved)

    def _states(self) -> dict[int, RunState]:
        states: dict[int, RunState] = {}
        for held in self._held.values():
            count, seq_nos = states.get(held.run, (0, 0))
            states[held.run] = (count + 1, seq_nos + held.seq_no)
        return states

    def _replace(self, stale: set[int] | None, fetched: list[_Held]) -> None:
        if stale is None:
            self._held = {}
        else:
            self._held = {k: v for k, v in self._held.items() if v.run not in stale}
        for held in fetched:
            self._held[held.chunk.chunk_id] = held

    def _build(self, runs: Mapping[int, RunState]) -> Snapshot:
        ordered = sorted(self._held.values(), key=lambda h: h.chunk.chunk_id)
        return Snapshot(
            Holders.of([h.prints for h in ordered]), [h.chunk for h in ordered], digest(runs)
        )

    async def _count_runs(self) -> dict[int, RunState] | None:
        return await run_states(self._client, self._index)

    async def _fetch(self, runs: set[int] | None) -> list[_Held] | None:
        """The chunks of ``runs`` (every chunk for None); None past ``max_prints``."""
        query: dict[str, Any] = {"filter": fingerprint_filter()}
        if runs is not None:
            if not runs:
                return []
            query["should"] = [_run_query(run) for run in sorted(runs)]
            query["minimum_should_match"] = 1
        # What stays held: the other runs' prints (the stale runs' are replaced).
        budget = self._max_prints - (
            0
            if runs is None
            else sum(len(h.prints) for h in self._held.values() if h.run not in runs)
        )
        found: list[_Held] = []
        after: list[Any] | None = None
        while True:
            try:
                with elasticsearch_errors(f"fingerprint copy of {self._index} failed"):
                    response = await self._client.search(
                        index=self._index,
                        size=PAGE,
                        query={"bool": query},
                        source_includes=["chunk_id", "fingerprints", *GOVERNANCE_FIELDS],
                        docvalue_fields=[{"field": "ingested_at", "format": "epoch_millis"}],
                        sort=[{"chunk_id": "asc"}],
                        seq_no_primary_term=True,
                        search_after=after,
                        track_total_hits=False,
                    )
            except IndexNotFound:
                return found
            hits = response["hits"]["hits"]
            for hit in hits:
                held = _held(hit)
                budget -= len(held.prints)
                found.append(held)
            if budget < 0:
                return None
            if len(hits) < PAGE:
                return found
            after = hits[-1]["sort"]


def _run_query(run: int) -> dict[str, Any]:
    if run == NO_RUN:
        return {"bool": {"must_not": [{"exists": {"field": "ingested_at"}}]}}
    return {"range": {"ingested_at": {"gte": run, "lte": run, "format": "epoch_millis"}}}


def _held(hit: Mapping[str, Any]) -> _Held:
    source = hit["_source"]
    prints = sorted_distinct(np.asarray(source.get("fingerprints") or [], dtype=np.int64))
    chars = int(np.count_nonzero(prints & 1))
    stamps = (hit.get("fields") or {}).get("ingested_at") or [NO_RUN]
    chunk = Chunk(
        str(source["chunk_id"]),
        len(prints) - chars,
        chars,
        {k: source[k] for k in GOVERNANCE_FIELDS if source.get(k) is not None},
    )
    return _Held(chunk, prints, int(float(stamps[0])), int(hit["_seq_no"]))
