"""Ship the trail to Elasticsearch (``<prefix>-audit``) for review, losing nothing.

The local segments are the durable spool: the shipper bulk-indexes records after its
cursor and moves the cursor only once Elasticsearch confirmed them. Each document's
``_id`` is its ``audit_id``, so a batch repeated after a crash overwrites itself instead
of duplicating. While Elasticsearch is down the background task retries with
exponential backoff; when it returns, the backlog ships from the cursor. Elasticsearch
exceptions stop here and become DependencyUnavailable.

Each writer (gateway worker) ships its own chain with its own cursor; records go to the
index exactly as stored (their ``writer`` and chain fields included), so every chain can
be re-verified from the index alone (``gateway.audit.index_verify``).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import structlog
from elasticsearch import AsyncElasticsearch

from gateway.audit.records import payload_mapping
from gateway.audit.spool import Batch, Spool
from gateway.elastic import (
    BULK_BYTES,
    IndexAlreadyExists,
    elasticsearch_client,
    elasticsearch_errors,
)
from gateway.errors import DependencyUnavailable

if TYPE_CHECKING:
    from gateway.audit.writer import AuditLog
    from gateway.settings import Settings

log = structlog.get_logger("gateway.audit.shipper")

_KEYWORD = {"type": "keyword"}
_ENVELOPE = {"writer": _KEYWORD}


def audit_mapping() -> dict[str, Any]:
    """Review fields are typed; the rest stays in ``_source`` unindexed (``dynamic: false``),
    so an unexpected field can never make a record unshippable. The payload's fields come
    from the record types (``gateway.audit.records``); the envelope's are listed here."""
    keyword = _KEYWORD
    return {
        "dynamic": False,
        "properties": {
            **payload_mapping(),
            **{
                name: keyword
                for name in (
                    "audit_id",
                    "kind",
                    "prev_hash",
                    "hash",
                    "writer",
                    "reason",
                    "segment",
                    "covers_hash",
                )
            },
            "seq": {"type": "long"},
            "covers_seq": {"type": "long"},
            "time": {"type": "date"},
        },
    }


class AuditShipper:
    """Background shipping of one chain (``writer``, or the log's) of an audit directory
    into one index; ``ship_pending`` forces a pass. Give it the in-process ``AuditLog`` so
    it never ships what is not yet durable."""

    def __init__(
        self,
        directory: Path,
        client: AsyncElasticsearch,
        index: str,
        *,
        log: AuditLog | None = None,
        writer: str | None = None,
        owns_client: bool = False,
        batch_size: int = 500,
        poll_interval_s: float = 1.0,
        backoff_s: tuple[float, float] = (0.5, 30.0),
    ) -> None:
        """``backoff_s``: the first and the longest wait after a failed shipment."""
        durable = log.durable_position if log is not None else None
        self.index = index
        writer = log.writer_id if log is not None else writer
        self.spool = Spool(Path(directory), index, durable=durable, writer=writer)
        self._client = client
        self._owns_client = owns_client
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self._backoff = backoff_s
        self._lock = asyncio.Lock()
        self._index_ready = False
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        log: AuditLog | None = None,
        poll_interval_s: float = 1.0,
        backoff_initial_s: float = 0.5,
    ) -> AuditShipper:
        """A shipper with its own client (no client retries: it has its own backoff)."""
        client = elasticsearch_client(settings, max_retries=0)
        index = f"{settings.index_prefix}-audit"
        return cls(
            settings.audit_dir,
            client,
            index,
            log=log,
            writer=settings.audit_writer_id,
            owns_client=True,
            poll_interval_s=poll_interval_s,
            backoff_s=(backoff_initial_s, 30.0),
        )

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._run(), name=f"audit-shipper-{self.index}")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop the background task and close an owned client; used without ``async with``
        (``contextlib.aclosing``) when only ``ship_pending`` should ship."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._owns_client:
            await self._client.close()

    async def ship_pending(self) -> int:
        """Ship everything after the cursor; returns how many records Elasticsearch took.

        Raises DependencyUnavailable (cursor kept at the last confirmed batch).
        """
        async with self._lock:
            await self._ensure_index()
            shipped = 0
            cursor = await asyncio.to_thread(self.spool.load_cursor)
            while True:
                batch = await asyncio.to_thread(
                    self.spool.read, cursor, self._batch_size, BULK_BYTES
                )
                if batch.end == batch.start:
                    return shipped
                if batch.records:
                    shipped += await self._bulk(batch)
                await asyncio.to_thread(self.spool.commit, batch.end)
                cursor = batch.end

    async def _run(self) -> None:
        initial, ceiling = self._backoff
        delay = initial
        while True:
            try:
                await self.ship_pending()
            except (DependencyUnavailable, OSError) as exc:
                log.warning("audit_ship_failed", index=self.index, error=str(exc), retry_s=delay)
            except Exception:  # a shipper that dies would stop shipping silently
                log.exception("audit_ship_crashed", index=self.index, retry_s=delay)
            else:
                delay = initial
                await asyncio.sleep(self._poll_interval_s)
                continue
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))  # noqa: S311 (jitter)
            delay = min(delay * 2, ceiling)

    async def _ensure_index(self) -> None:
        if self._index_ready:
            return
        try:
            with elasticsearch_errors(f"cannot create {self.index}"):
                if not await self._client.indices.exists(index=self.index):
                    await self._client.indices.create(
                        index=self.index,
                        mappings=audit_mapping(),
                        settings={"number_of_shards": 1, "number_of_replicas": 0},
                    )
                else:  # an index made before writer ids: chains are told apart by it
                    await self._client.indices.put_mapping(index=self.index, properties=_ENVELOPE)
        except IndexAlreadyExists:
            pass  # another replica created it first
        self._index_ready = True

    async def _bulk(self, batch: Batch) -> int:
        operations: list[dict[str, Any]] = []
        for record in batch.records:
            target: dict[str, Any] = {"_index": self.index}
            if record.get("audit_id"):
                target["_id"] = str(record["audit_id"])
            operations += [{"index": target}, record]
        with elasticsearch_errors(f"bulk indexing into {self.index} failed"):
            response = await self._client.bulk(operations=operations)
        if not response["errors"]:
            return len(batch.records)
        items = [item["index"] for item in response["items"]]
        if any(item["status"] == 429 or item["status"] >= 500 for item in items):
            raise DependencyUnavailable("elasticsearch", f"{self.index} refused part of a batch")
        rejected = [item for item in items if item["status"] >= 300]
        for item in rejected:  # permanent: retrying would block every later record
            error = item.get("error") or {}
            log.error(
                "audit_ship_rejected",
                index=self.index,
                audit_id=item.get("_id"),
                status=item["status"],
                error_type=error.get("type") if isinstance(error, dict) else None,
            )
        return len(items) - len(rejected)
