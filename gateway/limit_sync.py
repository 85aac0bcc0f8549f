"""Per-caller rate-limit counts shared by every worker and replica, through Elasticsearch.

Admission never waits for Elasticsearch on the hot path: ``CallerLimiter`` admits on this
replica's exact counts plus the other replicas' counts as of the last sync. This module
is that sync, a background task of the lifespan, every ``interval_s`` (and at once when a
caller this replica has not counted yet arrives):

- One document per (caller, limit kind, minute window) in ``<prefix>-ratelimits-v1``,
  its ``_id`` a SHA-256 of the three (the subject is not stored). Its ``counts`` object
  holds one number per replica: each replica writes only its own key, as an absolute
  count, with a partial-document update (``doc_as_upsert``, ``retry_on_conflict``), so
  concurrent writers never lose each other's counts and no script (painless) is needed.
  The update returns the merged document (``_source``), so one bulk request both writes
  this replica's counts and reads the others'; counts this replica did not change are
  read with one realtime multi-get. Neither needs a refresh.
- Heartbeats (``kind: replica``) tell how many replicas are live, for the fallback.
- Windows older than two minutes and dead heartbeats are deleted once a minute
  (``gateway.es_sweep``: a search and a bulk delete).

Over-admission bound: a replica's view of the others lags by at most one sync period
(``interval_s`` plus the round trip), so in any minute window a caller is admitted at
most ``limit + sum over the other replicas of what each admitted in one sync period``,
and never more than ``replicas x limit``. A caller no sync has covered yet is held to
the even share ``limit / replicas``; only a request that share would refuse (or any
request before the replica's first sync) waits for one sync, at most
``FIRST_SYNC_WAIT_S``, so a fresh replica does not start blind.

Elasticsearch unreachable: the limiter stops trusting its view after ``stale_after_s``
and admits on its own counts against ``limit / replicas`` (the replicas last seen): never
more permissive than an even share, and requests keep flowing (rate limits protect
availability; governance still fails closed elsewhere).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Callable
from typing import Any, Self

import structlog
from elasticsearch import AsyncElasticsearch

from gateway.elastic import create_index_if_missing, elasticsearch_errors
from gateway.errors import DependencyUnavailable, GatewayError
from gateway.es_sweep import delete_matching
from gateway.hashing import sha256_hex
from gateway.limits import CallerLimiter, SyncItem

MAPPING_VERSION = 1
FIRST_SYNC_WAIT_S = 1.0
HEARTBEAT_S = 5.0
HEARTBEAT_TTL_S = 3 * HEARTBEAT_S
CLEANUP_S = 60.0
_RETRY_ON_CONFLICT = 10
BULK_UPDATES = 500
BULK_READS = 2000

log = structlog.get_logger("gateway.limit_sync")


def limits_mapping() -> dict[str, Any]:
    return {
        "dynamic": "strict",
        "_meta": {"mapping_version": MAPPING_VERSION},
        "properties": {
            "kind": {"type": "keyword"},
            "window": {"type": "long"},
            "counts": {"type": "object", "enabled": False},
            "seen_at": {"type": "double"},
        },
    }


def limits_index_name(index_prefix: str) -> str:
    return f"{index_prefix}-ratelimits-v{MAPPING_VERSION}"


def count_doc_id(subject: str, kind: str, window: int) -> str:
    return sha256_hex(f"{kind}\x00{window}\x00{subject}")


class LimitSync:
    """The background sync of one ``CallerLimiter`` (entered by the lifespan)."""

    def __init__(
        self,
        limiter: CallerLimiter,
        client: AsyncElasticsearch,
        index_prefix: str,
        *,
        interval_s: float,
        replica_id: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._limiter = limiter
        self._client = client
        self.index = limits_index_name(index_prefix)
        self.replica = replica_id or secrets.token_hex(8)
        self._interval_s = interval_s
        self._clock = clock
        self._wake = asyncio.Event()
        self._one_round = asyncio.Lock()
        self._next_round: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._index_ready = False
        self._heartbeat_at = 0.0
        self._cleanup_at = clock() + CLEANUP_S
        self._failing = False

    async def __aenter__(self) -> Self:
        self._limiter.shared = True
        self._next_round = asyncio.get_running_loop().create_future()
        # The first round runs in the task, so start-up never waits for Elasticsearch;
        # requests arriving before it wait for it (``CallerLimiter.needs_sync``).
        self._wake.set()
        self._task = asyncio.create_task(self._loop(), name="limit-sync")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(GatewayError), elasticsearch_errors("heartbeat"):
            await self._client.delete(index=self.index, id=self._heartbeat_id(), refresh=True)

    async def wait_synced(self, timeout_s: float = FIRST_SYNC_WAIT_S) -> None:
        """Wait (at most ``timeout_s``) for a sync that starts after this call."""
        waiting = self._next_round
        if waiting is None or self._task is None:
            return
        self._wake.set()
        with contextlib.suppress(TimeoutError, GatewayError):
            await asyncio.wait_for(asyncio.shield(waiting), timeout_s)

    async def _loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval_s)
            self._wake.clear()
            with contextlib.suppress(GatewayError):
                await self.round()

    async def round(self) -> None:
        """One sync: heartbeat when due, write and read the live counts, clean up.

        Rounds never overlap: one started beside the loop's (a test, a benchmark) waits for
        it, so a late write of an old window cannot land after a newer round swept it."""
        async with self._one_round:
            await self._locked_round()

    async def _locked_round(self) -> None:
        finished, self._next_round = self._next_round, asyncio.get_running_loop().create_future()
        try:
            await self._round()
        except GatewayError as exc:
            if not self._failing:
                log.warning("rate_limit_sync_failed", index=self.index, error=exc.message)
            self._failing = True
            self._limiter.sync_failed()
            if finished is not None and not finished.done():
                finished.set_exception(exc)
                finished.exception()  # retrieved: a waiter may have timed out already
            raise
        if self._failing:
            log.info("rate_limit_sync_recovered", index=self.index)
        self._failing = False
        if finished is not None and not finished.done():
            finished.set_result(None)

    async def _round(self) -> None:
        await self._ensure_index()
        replicas = await self._heartbeat()
        items = self._limiter.to_sync()
        results = await self._exchange(items) if items else []
        self._limiter.learned(results, replicas, contacted=bool(items) or replicas is not None)
        if self._clock() >= self._cleanup_at:
            self._cleanup_at = self._clock() + CLEANUP_S
            await self._cleanup()

    async def _exchange(self, items: list[SyncItem]) -> list[tuple[SyncItem, int]]:
        writes = [item for item in items if item.mine is not None]
        reads = [item for item in items if item.mine is None]
        results: list[tuple[SyncItem, int]] = []
        if writes:
            operations: list[dict[str, Any]] = []
            for item in writes:
                doc_id = count_doc_id(item.subject, item.kind, item.window)
                operations.append(
                    {"update": {"_id": doc_id, "retry_on_conflict": _RETRY_ON_CONFLICT,
                                "_source": "counts"}}
                )  # fmt: skip
                operations.append(
                    {"doc": {"kind": item.kind, "window": item.window,
                             "counts": {self.replica: item.mine}},
                     "doc_as_upsert": True}
                )  # fmt: skip
            answered: list[dict[str, Any]] = []
            for start in range(0, len(operations), 2 * BULK_UPDATES):
                with elasticsearch_errors(f"cannot write {self.index}"):
                    response = await self._client.bulk(
                        index=self.index, operations=operations[start : start + 2 * BULK_UPDATES]
                    )
                answered.extend(response["items"])
            for item, entry in zip(writes, answered, strict=True):
                outcome = entry["update"]
                if outcome.get("status", 500) >= 300:
                    raise _item_error(f"cannot write {self.index}", outcome)
                source = outcome.get("get", {}).get("_source", {})
                results.append((item, self._others(source)))
        if reads:
            ids = [count_doc_id(i.subject, i.kind, i.window) for i in reads]
            docs: list[dict[str, Any]] = []
            for start in range(0, len(ids), BULK_READS):
                with elasticsearch_errors(f"cannot read {self.index}"):
                    found = await self._client.mget(
                        index=self.index, ids=ids[start : start + BULK_READS], source=["counts"]
                    )
                docs.extend(found["docs"])
            for item, doc in zip(reads, docs, strict=True):
                if "error" in doc:
                    raise _item_error(f"cannot read {self.index}", doc)
                results.append((item, self._others(doc.get("_source") or {})))
        return results

    def _others(self, source: dict[str, Any]) -> int:
        counts = source.get("counts") or {}
        return sum(
            int(n) for replica, n in counts.items()
            if replica != self.replica and isinstance(n, int | float)
        )  # fmt: skip

    async def _heartbeat(self) -> int | None:
        """Write this replica's heartbeat and count the live ones, every HEARTBEAT_S."""
        now = self._clock()
        if now < self._heartbeat_at:
            return None
        first = self._heartbeat_at == 0.0
        with elasticsearch_errors(f"cannot write {self.index}"):
            await self._client.index(
                index=self.index,
                id=self._heartbeat_id(),
                document={"kind": "replica", "seen_at": now},
                refresh=first,  # so the first count sees this replica too
            )
            answer = await self._client.count(
                index=self.index,
                query={"bool": {"filter": [
                    {"term": {"kind": "replica"}},
                    {"range": {"seen_at": {"gte": now - HEARTBEAT_TTL_S}}},
                ]}},
            )  # fmt: skip
        self._heartbeat_at = now + HEARTBEAT_S
        return max(1, int(answer["count"]))

    async def _cleanup(self) -> None:
        window = int(self._clock() // 60)
        try:
            await delete_matching(
                self._client,
                self.index,
                {"bool": {"should": [
                    {"bool": {"filter": [
                        {"terms": {"kind": ["requests", "tokens"]}},
                        {"range": {"window": {"lt": window - 2}}},
                    ]}},
                    {"bool": {"filter": [
                        {"term": {"kind": "replica"}},
                        {"range": {"seen_at": {"lt": self._clock() - 10 * HEARTBEAT_TTL_S}}},
                    ]}},
                ], "minimum_should_match": 1}},
            )  # fmt: skip
        except GatewayError as exc:  # housekeeping: the counts themselves were synced
            log.warning("rate_limit_cleanup_failed", index=self.index, error=exc.message)

    async def _ensure_index(self) -> None:
        if self._index_ready:
            return
        await create_index_if_missing(self._client, self.index, limits_mapping())
        self._index_ready = True

    def _heartbeat_id(self) -> str:
        return f"replica-{self.replica}"


def _item_error(what: str, outcome: dict[str, Any]) -> DependencyUnavailable:
    """A failed bulk or multi-get item (named by its error type only)."""
    error = outcome.get("error")
    kind = error.get("type", "unknown") if isinstance(error, dict) else "unknown"
    return DependencyUnavailable("elasticsearch", f"{what}: {kind}")
