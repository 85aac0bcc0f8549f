"""The fine-tuning registry in Elasticsearch: ownership, visibility, optimistic concurrency."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

import pytest

from gateway.elastic import ChunkIndex
from gateway.finetune.registry import (
    PROCESSED,
    FileEntry,
    Registry,
    RegistryConflict,
)
from gateway.settings import Settings

pytestmark = pytest.mark.integration


def entry(file_id: str, owner: str, at: float = 0.0) -> FileEntry:
    return FileEntry(file_id, owner, "fine-tune", "t.jsonl", 10, "0" * 64, int(at), uploaded_at=at)


@pytest.fixture
async def registries(settings: Settings) -> AsyncIterator[tuple[Registry, Registry]]:
    """Two registries over two clients: two replicas sharing one cluster."""
    async with ChunkIndex.from_settings(settings) as one, ChunkIndex.from_settings(settings) as two:
        first = Registry(one.client, settings.index_prefix)
        await first.ensure_index()
        second = Registry(two.client, settings.index_prefix)
        await second.ensure_index()  # idempotent, also when the index exists
        yield first, second


async def test_a_file_written_by_one_replica_is_listed_by_the_other_at_once(
    registries: tuple[Registry, Registry],
) -> None:
    """Writes refresh: the other replica's next read and search see the new file."""
    one, two = registries
    await one.add_file(entry("file-1", "bob", time.time()))
    stored = await two.file("bob", "file-1")
    assert stored is not None
    assert stored.id == "file-1"
    listed, more = await two.list_files("bob", purpose=None, after=None, limit=10, order="asc")
    assert [e.id for e in listed] == ["file-1"]
    assert more is False
    assert await two.file("alice", "file-1") is None
    await one.add_job("bob", "ftjob-1", "file-1", 1)
    assert await two.owns_job("bob", "ftjob-1")
    assert not await two.owns_job("alice", "ftjob-1")
    assert await two.job_ids("bob") == {"ftjob-1"}
    await two.delete_file("file-1")
    assert await one.file("bob", "file-1") is None


async def test_listing_pages_by_upload_order(registries: tuple[Registry, Registry]) -> None:
    """Files uploaded within one second keep their order; after/limit page over them."""
    one, _ = registries
    base = time.time()
    for n in range(5):
        await one.add_file(entry(f"file-{9 - n}", "bob", base + n / 1000))
    await one.add_file(entry("file-x", "alice", base))
    first, more = await one.list_files("bob", purpose=None, after=None, limit=2, order="asc")
    assert [e.id for e in first] == ["file-9", "file-8"]
    assert more
    rest, more = await one.list_files("bob", purpose=None, after="file-8", limit=9, order="asc")
    assert [e.id for e in rest] == ["file-7", "file-6", "file-5"]
    assert not more
    newest, _ = await one.list_files("bob", purpose=None, after=None, limit=1, order="desc")
    assert [e.id for e in newest] == ["file-5"]


async def test_concurrent_updates_are_never_lost(registries: tuple[Registry, Registry]) -> None:
    """Two replicas appending to one entry at the same time: every change lands (the loser
    of each race reads again and re-applies its change on top of the winner's). A writer
    only loses a race to another writer's successful write, so with N writers N
    attempts each always suffice."""
    one, two = registries
    await one.add_file(entry("file-c", "bob"))

    def add_match(name: str) -> Callable[[FileEntry], FileEntry]:
        def change(current: FileEntry) -> FileEntry:
            return replace(current, matches=[*current.matches, {"doc_id": name}])

        return change

    writers = [
        (f"{side}-{n}", registry)
        for n in range(4)
        for side, registry in (("one", one), ("two", two))
    ]
    updates = await asyncio.gather(
        *(
            registry.update_file("file-c", add_match(name), attempts=len(writers))
            for name, registry in writers
        )
    )
    assert all(update.written for update in updates)
    stored = await one.get_file("file-c")
    assert stored is not None
    assert sorted(m["doc_id"] for m in stored.matches) == sorted(
        f"{side}-{n}" for n in range(4) for side in ("one", "two")
    )


async def test_a_stale_update_fails_cleanly_without_retries(
    registries: tuple[Registry, Registry],
) -> None:
    """With no retries allowed, the second of two racing writers gets RegistryConflict
    (503), and the first writer's change is what is stored."""
    one, two = registries
    await one.add_file(entry("file-r", "bob"))
    reached = asyncio.Event()
    release = asyncio.Event()

    def slow(current: FileEntry) -> FileEntry:
        reached.set()
        return replace(current, status=PROCESSED, upstream_id="up-slow")

    async def slow_writer() -> None:
        # Read, then let the other replica write before this one writes.
        original = one._get

        async def paused(doc_id: str) -> tuple[dict[str, Any], int, int] | None:
            found = await original(doc_id)
            reached.set()
            await release.wait()
            return found

        one._get = paused  # type: ignore[method-assign]
        try:
            await one.update_file("file-r", slow, attempts=1)
        finally:
            one._get = original  # type: ignore[method-assign]

    task = asyncio.create_task(slow_writer())
    await reached.wait()
    won = await two.update_file("file-r", lambda e: replace(e, status_details="fast"))
    assert won.written
    release.set()
    with pytest.raises(RegistryConflict):
        await task
    stored = await two.get_file("file-r")
    assert stored is not None
    assert stored.status_details == "fast"
    assert stored.upstream_id is None


async def test_a_missing_file_updates_nothing(registries: tuple[Registry, Registry]) -> None:
    """Updating a deleted file writes nothing and says so."""
    one, _ = registries
    update = await one.update_file("file-gone", lambda e: replace(e, status=PROCESSED))
    assert update.entry is None
    assert not update.written
