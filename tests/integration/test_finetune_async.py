"""Asynchronous validation across restarts and crashes: no file stays ``uploaded``."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import openai
import pytest
from litestar.testing import AsyncTestClient

from gateway.app import create_app
from gateway.elastic import ChunkIndex
from gateway.finetune.registry import ERROR, FileEntry, Registry
from gateway.settings import Settings

from ..conftest import BOB
from .conftest import FakeUpstream, ingest_demo
from .test_finetune import UNRELATED, _audit, example, forwarded, jsonl, settled

pytestmark = pytest.mark.integration


def client_for(test_client: AsyncTestClient[Any], key: str = BOB) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=f"{test_client.base_url}/v1", api_key=key, http_client=test_client, max_retries=0
    )


async def test_a_scan_whose_replica_died_ends_in_error_on_any_replica(
    settings: Settings, fake_upstream: FakeUpstream
) -> None:
    """A file left ``uploaded`` by a replica that stopped renewing its lease is marked
    ``error`` (interrupted, audited) by the next replica that reads it; a job on it is a
    400 naming the interruption; nothing was forwarded."""
    async with ChunkIndex.from_settings(settings) as index:
        registry = Registry(index.client, settings.index_prefix)
        await registry.ensure_index()
        now = time.time()
        await registry.add_file(
            FileEntry(
                "file-orphan",
                "bob",
                "fine-tune",
                "t.jsonl",
                10,
                "0" * 64,
                int(now),
                uploaded_at=now,
                lease_owner="gone-replica",
                lease_until=now - 1,
            )
        )
    async with AsyncTestClient(app=create_app(settings)) as test_client:
        bob = client_for(test_client)
        found = await bob.files.retrieve("file-orphan")
        assert found.status == "error"
        assert "interrupted" in str(found.status_details)
        with pytest.raises(openai.BadRequestError, match="interrupted") as refused:
            await bob.fine_tuning.jobs.create(model="gpt-4o-mini", training_file="file-orphan")
        assert isinstance(refused.value.body, dict)
        assert refused.value.body["code"] == "file_scan_interrupted"
    scanned = [r for r in _audit(settings) if r["action"] == "files.scanned"]
    assert [(r["file_id"], r["allowed"], r["refused"]) for r in scanned] == [
        ("file-orphan", False, "file_scan_interrupted")
    ]
    assert forwarded(fake_upstream) == []


async def test_a_live_lease_is_left_alone(settings: Settings) -> None:
    """A file whose scanning replica still renews its lease stays ``uploaded``."""
    async with ChunkIndex.from_settings(settings) as index:
        registry = Registry(index.client, settings.index_prefix)
        await registry.ensure_index()
        now = time.time()
        entry = FileEntry(
            "file-busy", "bob", "fine-tune", "t.jsonl", 10, "0" * 64, int(now), uploaded_at=now
        )
        await registry.add_file(replace(entry, lease_owner="other", lease_until=now + 60))
    async with AsyncTestClient(app=create_app(settings)) as test_client:
        assert (await client_for(test_client).files.retrieve("file-busy")).status == "uploaded"


async def test_shutdown_interrupts_waiting_scans_and_says_so(
    settings: Settings, fake_upstream: FakeUpstream
) -> None:
    """A scan still waiting when the gateway stops marks its file ``error`` at shutdown;
    after a restart the file says so and nothing was forwarded."""
    async with ChunkIndex.from_settings(settings) as index:
        await ingest_demo(index)
    async with AsyncTestClient(app=create_app(settings)) as test_client:
        scans = test_client.app.state.services.finetune.scans
        for _ in range(settings.finetune_scan_concurrency):
            await scans._slots.acquire()
        uploaded = await client_for(test_client).files.create(
            file=("t.jsonl", jsonl(example(UNRELATED))), purpose="fine-tune"
        )
        assert uploaded.status == "uploaded"
    async with AsyncTestClient(app=create_app(settings)) as test_client:
        found = await settled(client_for(test_client), uploaded.id)
        assert found.status == ERROR
        assert "interrupted" in str(found.status_details)
    assert forwarded(fake_upstream) == []
