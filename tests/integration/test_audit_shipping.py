"""Shipping the audit trail into the real Elasticsearch, through an outage and back."""

import asyncio
import json
from contextlib import aclosing
from pathlib import Path
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from gateway.audit import AuditLog
from gateway.audit.segments import list_segments
from gateway.audit.shipper import AuditShipper
from gateway.errors import DependencyUnavailable
from gateway.settings import Settings

from .conftest import closed_port_url

pytestmark = pytest.mark.integration

KEY = "k" * 32


def request_record(n: int) -> dict[str, Any]:
    return {
        "request_id": f"req-{n}",
        "endpoint": "chat.completions",
        "subject": ["alice", "bob"][n % 2],
        "groups": ["engineering"],
        "key_id": "demo",
        "model": "gpt-4o-mini",
        "stream": False,
        "policy_decision_ids": [],
        "allowed": True,
        "upstream_body_sha256": "a" * 64,
        "chunks": [
            {
                "doc_id": f"doc-{n % 3}",
                "doc_version": "1",
                "chunk_id": f"doc-{n % 3}#0",
                "corpus": "handbook",
                "classification": "internal",
                "sha256_injected": "b" * 64,
                "sha256_original": "c" * 64,
                "redactions": [],
            }
        ],
    }


def local_ids(directory: Path) -> list[str]:
    return [
        json.loads(line)["audit_id"]
        for path in list_segments(directory)
        for line in path.read_text().splitlines()
    ]


async def indexed(settings: Settings, stack_env: dict[str, str]) -> dict[str, dict[str, Any]]:
    """audit_id -> {_version, seq, kind} of every document in the audit index."""
    url = f"{stack_env['GATEWAY_ELASTICSEARCH_URL']}/{settings.index_prefix}-audit"
    auth = (
        stack_env.get("GATEWAY_ELASTICSEARCH_USERNAME", ""),
        stack_env.get("GATEWAY_ELASTICSEARCH_PASSWORD", ""),
    )
    async with httpx.AsyncClient(auth=auth, timeout=10) as client:
        refreshed = await client.post(f"{url}/_refresh")
        if refreshed.status_code == 404:
            return {}  # nothing shipped yet
        refreshed.raise_for_status()
        response = await client.post(
            f"{url}/_search",
            json={"size": 10000, "version": True, "_source": ["seq", "kind", "audit_id"]},
        )
        response.raise_for_status()
    return {
        hit["_id"]: {"_version": hit["_version"], **hit["_source"]}
        for hit in response.json()["hits"]["hits"]
    }


async def count(settings: Settings, stack_env: dict[str, str], query: dict[str, Any]) -> int:
    url = f"{stack_env['GATEWAY_ELASTICSEARCH_URL']}/{settings.index_prefix}-audit/_count"
    auth = (
        stack_env.get("GATEWAY_ELASTICSEARCH_USERNAME", ""),
        stack_env.get("GATEWAY_ELASTICSEARCH_PASSWORD", ""),
    )
    async with httpx.AsyncClient(auth=auth, timeout=10) as client:
        response = await client.post(url, json={"query": query})
        response.raise_for_status()
    return int(response.json()["count"])


async def test_records_ship_to_the_audit_index(
    settings_for: Any, stack_env: dict[str, str]
) -> None:
    """Every record, checkpoints included, lands once in <prefix>-audit under its audit id."""
    settings = settings_for(audit_hmac_key=KEY, audit_checkpoint_every=5)
    async with AuditLog.from_settings(settings) as audit:
        for n in range(12):
            await audit.append("request", request_record(n))
    async with aclosing(AuditShipper.from_settings(settings)) as shipper:
        shipped = await shipper.ship_pending()
        assert await shipper.ship_pending() == 0
    ids = local_ids(settings.audit_dir)
    assert shipped == len(ids) == 15
    docs = await indexed(settings, stack_env)
    assert sorted(docs) == sorted(ids)
    assert {doc["_version"] for doc in docs.values()} == {1}
    assert sum(doc["kind"] == "checkpoint" for doc in docs.values()) == 3
    assert await count(settings, stack_env, {"term": {"chunks.doc_id": "doc-1"}}) == 4
    assert await count(settings, stack_env, {"range": {"time": {"gte": "now-1h"}}}) == 15


async def test_megabytes_of_records_ship_in_small_bulks(
    settings_for: Any, stack_env: dict[str, str]
) -> None:
    """~3.5 MB of records (40 chunks each) ship whole, in bulks under aiohttp's 1 MiB
    body (over it, aiohttp blocks the loop on one write and warns: an error here)."""
    settings = settings_for(audit_hmac_key=KEY)
    async with AuditLog.from_settings(settings) as audit:
        for n in range(300):
            record = request_record(n)
            record["chunks"] = record["chunks"] * 40
            await audit.append("request", record)
    async with aclosing(AuditShipper.from_settings(settings)) as shipper:
        shipped = await shipper.ship_pending()
    assert shipped == len(local_ids(settings.audit_dir)) >= 300
    assert sum(path.stat().st_size for path in list_segments(settings.audit_dir)) > 3 << 20
    assert len(await indexed(settings, stack_env)) == shipped


async def test_outage_loses_nothing_and_backfills_exactly_once(
    settings_for: Any, stack_env: dict[str, str]
) -> None:
    """With Elasticsearch unreachable the cursor stays put; once it is back, all ships once."""
    settings = settings_for()
    down = settings_for(elasticsearch_url=closed_port_url(), elasticsearch_timeout_s=1)
    async with AuditLog.from_settings(settings) as audit:
        for n in range(5):
            await audit.append("request", request_record(n))
        async with AuditShipper.from_settings(
            down, log=audit, poll_interval_s=0.05, backoff_initial_s=0.05
        ) as shipper:
            with pytest.raises(DependencyUnavailable, match="elasticsearch"):
                await shipper.ship_pending()
            with capture_logs() as events:
                for n in range(5, 10):
                    await audit.append("request", request_record(n))
                await asyncio.sleep(0.5)  # the background task retries meanwhile
            cursor = shipper.spool.cursor_path
        retries = [e for e in events if e["event"] == "audit_ship_failed"]
        assert len(retries) >= 2
        assert not cursor.exists()  # nothing was confirmed, so nothing was skipped
        async with aclosing(AuditShipper.from_settings(settings, log=audit)) as shipper:
            shipped = await shipper.ship_pending()
            assert await shipper.ship_pending() == 0
    ids = local_ids(settings.audit_dir)
    assert shipped == 10
    assert len(ids) == 11  # the close checkpoint is not shipped yet: the spool keeps it
    docs = await indexed(settings, stack_env)
    assert sorted(docs) == sorted(ids[:10])
    assert {doc["_version"] for doc in docs.values()} == {1}  # each shipped exactly once
    async with aclosing(AuditShipper.from_settings(settings)) as shipper:
        assert await shipper.ship_pending() == 1
    assert sorted(await indexed(settings, stack_env)) == sorted(ids)


async def test_background_task_ships_new_records(
    settings_for: Any, stack_env: dict[str, str]
) -> None:
    """Running as a context manager, the shipper follows the log without being asked."""
    settings = settings_for()
    async with (
        AuditLog.from_settings(settings) as audit,
        AuditShipper.from_settings(settings, log=audit, poll_interval_s=0.05),
    ):
        ids = [await audit.append("request", request_record(n)) for n in range(6)]
        for _ in range(100):
            if len(await indexed(settings, stack_env)) == len(ids):
                break
            await asyncio.sleep(0.1)
    assert sorted(await indexed(settings, stack_env)) == sorted(ids)


async def test_reshipping_after_a_lost_cursor_does_not_duplicate(
    settings_for: Any, stack_env: dict[str, str]
) -> None:
    """A crash between bulk and cursor write re-ships the batch onto the same documents."""
    settings = settings_for()
    async with AuditLog.from_settings(settings) as audit:
        for n in range(4):
            await audit.append("request", request_record(n))
    async with aclosing(AuditShipper.from_settings(settings)) as shipper:
        await shipper.ship_pending()
        shipper.spool.cursor_path.unlink()
        assert await shipper.ship_pending() == 5
    docs = await indexed(settings, stack_env)
    assert len(docs) == 5
    assert {doc["_version"] for doc in docs.values()} == {2}
