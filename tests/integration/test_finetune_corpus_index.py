"""The corpus match's local copy of the governed fingerprints is never stale: chunks
ingested, replaced or pruned after it was built are seen by the next scan."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway.elastic import ChunkIndex
from gateway.finetune.matcher import CorpusMatcher
from gateway.finetune.scan import UploadScanner
from gateway.settings import Settings

from ..conftest import BOB
from .conftest import ingest_texts
from .test_finetune import processed, refused_upload
from .test_finetune_guard import Sdk, client, example, jsonl, sdk

__all__ = ["client", "sdk"]  # the fixtures this module reuses

pytestmark = pytest.mark.integration

PLAN = (
    "The lighthouse project moves the billing ledger to the new cluster in April; the "
    "cut-over window is the second Sunday, and the rollback plan keeps the old ledger "
    "writable for forty-eight hours after the switch."
)
MEMO = (
    "The merger with Globex closes on the ninth of March; the board approved a price "
    "of forty dollars per share and the deal team is sworn to silence until then."
)
RUNBOOK = (
    "Rotate the signing keys every quarter: generate the new pair on the offline laptop, "
    "upload the public half to the key service, and retire the old pair after a week."
)


def upload(*texts: str) -> bytes:
    return "".join(
        json.dumps(
            {
                "messages": [
                    {"role": "user", "content": "Tell me something."},
                    {"role": "assistant", "content": text},
                ]
            }
        )
        + "\n"
        for text in texts
    ).encode()


async def matched(scanner: UploadScanner, *texts: str) -> set[str]:
    """The documents the scan of an upload of ``texts`` overlaps."""
    scan = await scanner.scan(upload(*texts))
    return {overlap.doc_id for overlap in scan.overlaps}


async def test_chunks_ingested_replaced_or_pruned_after_the_copy_are_seen(
    settings: Settings,
) -> None:
    """New, changed and deleted documents after the first scan: each next scan agrees
    with the corpus as it is then, through the local copy."""
    async with ChunkIndex.from_settings(settings) as index:
        await ingest_texts(index, {"plan.txt": PLAN})
        matcher = CorpusMatcher(index.client, index.name)
        scanner = UploadScanner(matcher, None)
        assert await matched(scanner, PLAN, MEMO) == {"plan.txt"}
        assert matcher._local is not None
        assert matcher._local._snapshot is not None
        # Another corpus, after the copy was built.
        await ingest_texts(index, {"memo.txt": MEMO}, corpus="legal")
        assert await matched(scanner, PLAN, MEMO) == {"plan.txt", "memo.txt"}
        # The plan replaced by the runbook's text, in place (same document id).
        await ingest_texts(index, {"plan.txt": RUNBOOK})
        assert await matched(scanner, PLAN, MEMO, RUNBOOK) == {"plan.txt", "memo.txt"}
        assert await matched(scanner, PLAN) == set()
        # The legal corpus pruned to nothing but a new document.
        await ingest_texts(index, {"other.txt": PLAN}, corpus="legal", prune=True)
        assert await matched(scanner, MEMO) == set()
        assert await matched(scanner, PLAN) == {"other.txt"}


async def test_a_chunk_rewritten_in_place_is_seen(settings: Settings) -> None:
    """Chunks updated outside the ingest pipeline keep their id, run and count; the next
    scan still reports the governance they have now, not the copy's."""
    async with ChunkIndex.from_settings(settings) as index:
        await ingest_texts(index, {"plan.txt": PLAN})
        scanner = UploadScanner(CorpusMatcher(index.client, index.name), None)
        first = await scanner.scan(upload(PLAN))
        assert first.documents["plan.txt"]["classification"] == "restricted"
        found = await index.client.search(
            index=index.name, query={"term": {"doc_id": "plan.txt"}}, size=100
        )
        for hit in found["hits"]["hits"]:
            await index.client.update(
                index=index.name, id=hit["_id"], doc={"classification": "internal"}
            )
        await index.client.indices.refresh(index=index.name)
        again = await scanner.scan(upload(PLAN))
        assert again.documents["plan.txt"]["classification"] == "internal"


async def test_a_rebuild_that_fails_never_leaves_the_old_copy_current(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scan whose rebuild of the copy fails (or is cancelled) after fetching new chunks:
    the next scan does not match against the copy from before them."""
    async with ChunkIndex.from_settings(settings) as index:
        await ingest_texts(index, {"plan.txt": PLAN})
        matcher = CorpusMatcher(index.client, index.name)
        scanner = UploadScanner(matcher, None)
        assert await matched(scanner, PLAN, MEMO) == {"plan.txt"}
        await ingest_texts(index, {"memo.txt": MEMO}, corpus="legal")
        local = matcher._local
        assert local is not None

        def fail(*_: object) -> None:
            raise MemoryError

        monkeypatch.setattr(local, "_build", fail)
        with pytest.raises(MemoryError):
            await scanner.scan(upload(MEMO))
        monkeypatch.undo()
        assert await matched(scanner, PLAN, MEMO) == {"plan.txt", "memo.txt"}


async def test_a_run_still_being_written_is_searched_not_fetched_again_and_again(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An ingest run that keeps growing while scans come: each scan still finds its
    text, fetching the run at most once (then none while it grows); once it holds
    still, the copy is used again."""
    async with ChunkIndex.from_settings(settings) as index:
        await ingest_texts(index, {"plan.txt": PLAN})
        matcher = CorpusMatcher(index.client, index.name)
        scanner = UploadScanner(matcher, None)
        assert await matched(scanner, PLAN) == {"plan.txt"}
        local = matcher._local
        assert local is not None
        found = await index.client.search(
            index=index.name, query={"term": {"doc_id": "plan.txt"}}, size=1
        )
        chunk = found["hits"]["hits"][0]["_source"]  # same run: same ingested_at
        written = 0

        async def write_to_the_run() -> None:
            nonlocal written
            written += 1
            chunk_id = f"{chunk['chunk_id']}-late-{written}"
            await index.client.index(
                index=index.name,
                id=chunk_id,
                document={**chunk, "chunk_id": chunk_id},
                refresh=True,
            )

        fetch, fetches = local._fetch, 0

        async def fetch_while_written(runs: set[int] | None) -> Any:
            nonlocal fetches
            fetches += 1
            await write_to_the_run()
            try:
                return await fetch(runs)
            finally:
                await write_to_the_run()

        monkeypatch.setattr(local, "_fetch", fetch_while_written)
        await write_to_the_run()
        assert await matched(scanner, PLAN, MEMO) == {"plan.txt"}
        assert fetches == 1  # caught growing: searched after one fetch
        await write_to_the_run()
        assert await matched(scanner, PLAN, MEMO) == {"plan.txt"}
        assert fetches == 1  # still growing: not fetched again
        assert local._snapshot is None
        monkeypatch.setattr(local, "_fetch", fetch)  # the ingest is over
        assert await matched(scanner, PLAN) == {"plan.txt"}  # held still: fetched
        assert local._snapshot is not None
        assert sum("-late-" in chunk_id for chunk_id in local._held) == written == 4


async def test_the_local_copy_and_the_search_find_the_same_overlaps(settings: Settings) -> None:
    """The same upload scanned through the local copy and through Elasticsearch's search
    (``local_max_prints=0``, also what a corpus beyond the bound gets): equal overlaps."""
    async with ChunkIndex.from_settings(settings) as index:
        await ingest_texts(index, {"plan.txt": PLAN, "memo.txt": MEMO, "runbook.txt": RUNBOOK})
        content = upload(PLAN, MEMO[:90], "Nothing governed here at all, just words.", RUNBOOK)
        local = await UploadScanner(CorpusMatcher(index.client, index.name), None).scan(content)
        searched = await UploadScanner(
            CorpusMatcher(index.client, index.name, local_max_prints=0), None
        ).scan(content)
        bounded = CorpusMatcher(index.client, index.name, local_max_prints=5)
        small = await UploadScanner(bounded, None).scan(content)
        assert bounded._local is not None
        assert bounded._local._snapshot is None  # beyond the bound: searched instead
        assert bounded._local._held == {}
        assert local.overlaps
        key = [(o.lines, o.doc_id, o.score, o.shared, o.shared_chars) for o in local.overlaps]
        for other in (searched, small):
            assert key == [
                (o.lines, o.doc_id, o.score, o.shared, o.shared_chars) for o in other.overlaps
            ]
            named = {o.doc_id for o in other.overlaps}
            assert local.documents == {d: other.documents[d] for d in named}


async def test_text_ingested_after_an_upload_was_scanned_is_refused_on_upload(
    sdk: Sdk, settings: Settings
) -> None:
    """Through the gateway: a first upload builds the local copy; restricted text
    ingested afterwards is refused when uploaded."""
    bob = sdk(BOB)
    await processed(bob, jsonl(example(MEMO)))
    async with ChunkIndex.from_settings(settings) as index:
        await ingest_texts(index, {"memo.txt": MEMO}, corpus="legal")
    details = await refused_upload(bob, jsonl(example(MEMO)))
    assert "governed document" in details


async def test_a_scan_in_pieces_counts_the_corpus_once_and_sees_each_change(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large upload (in pieces, with the helper) asks Elasticsearch one question about
    the corpus (its runs: ``run_states``), and the state it names is the one it matched
    against; text ingested between two uploads is matched by the second, under a new
    state; a chunk of another scheme fails the next scan closed."""
    from gateway.finetune import pieces
    from gateway.finetune.corpus_state import OtherScheme, digest, run_states
    from gateway.finetune.helpers import ScanHelpers

    monkeypatch.setattr(pieces, "SPLIT_MIN_BYTES", 1)
    monkeypatch.setattr(pieces, "PIECE_BYTES", 200)
    async with ChunkIndex.from_settings(settings) as index, ScanHelpers() as helper:
        await ingest_texts(index, {"plan.txt": PLAN, "memo.txt": MEMO})
        asked: list[str] = []
        search, count = index.client.search, index.client.count

        async def counted_search(**kwargs: Any) -> Any:
            asked.append("runs" if "aggs" in kwargs else "search")
            return await search(**kwargs)

        async def counted_count(**kwargs: Any) -> Any:
            asked.append("count")
            return await count(**kwargs)

        monkeypatch.setattr(index.client, "search", counted_search)
        monkeypatch.setattr(index.client, "count", counted_count)
        scanner = UploadScanner(CorpusMatcher(index.client, index.name), None, helper=helper)
        content = upload(PLAN, "Nothing governed here at all, just words.", RUNBOOK, MEMO)
        first = await scanner.scan(content)  # builds the local copy
        asked.clear()
        again = await scanner.scan(content)
        assert asked == ["runs"]
        runs = await run_states(index.client, index.name)
        assert runs is not None
        assert again.corpus_state == first.corpus_state == digest(runs)
        assert {o.doc_id for o in again.overlaps} == {"plan.txt", "memo.txt"}

        await ingest_texts(index, {"runbook.txt": RUNBOOK})
        after = await scanner.scan(content)
        assert {o.doc_id for o in after.overlaps} == {"plan.txt", "memo.txt", "runbook.txt"}
        runs = await run_states(index.client, index.name)
        assert runs is not None
        assert after.corpus_state == digest(runs) != first.corpus_state

        await index.client.index(
            index=index.name,
            id="old-scheme",
            document={"chunk_id": "old-scheme", "fingerprints": [1, 2], "fingerprint_scheme": "v0"},
            refresh=True,
        )
        with pytest.raises(OtherScheme):
            await scanner.scan(content)
