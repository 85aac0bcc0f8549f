"""`gateway audit verify --against-index`: every chain re-computed from the Elasticsearch
audit index alone; an edited or missing indexed record is named, per chain."""

import asyncio
import os
from contextlib import aclosing
from typing import Any

import pytest
from elasticsearch import AsyncElasticsearch
from typer.testing import CliRunner

from gateway.audit import AuditLog
from gateway.audit.cli import audit_app
from gateway.audit.index_verify import verify_index
from gateway.audit.shipper import AuditShipper
from gateway.elastic import elasticsearch_client
from gateway.settings import Settings

from .test_audit_shipping import KEY, request_record

pytestmark = pytest.mark.integration


async def _two_chains_shipped(settings: Settings) -> dict[str | None, list[str]]:
    """Writers w1 and w2 (and the legacy chain) append at once; each chain is shipped."""

    async def write(writer: str | None, first: int) -> list[str]:
        async with AuditLog(
            settings.audit_dir, hmac_key=KEY, checkpoint_every=4, writer_id=writer
        ) as audit:
            ids = [
                await audit.append("request", request_record(n)) for n in range(first, first + 9)
            ]
        return ids

    written = await asyncio.gather(write("w1", 0), write("w2", 100), write(None, 200))
    for writer in ("w1", "w2", None):
        async with aclosing(
            AuditShipper.from_settings(settings.model_copy(update={"audit_writer_id": writer}))
        ) as shipper:
            assert await shipper.ship_pending() > 9
    return dict(zip(("w1", "w2", None), written, strict=True))


async def _check(settings: Settings) -> dict[str | None, Any]:
    client = elasticsearch_client(settings, max_retries=0)
    try:
        await client.indices.refresh(index=f"{settings.index_prefix}-audit")
        return {
            r.writer: r for r in await verify_index(client, f"{settings.index_prefix}-audit", KEY)
        }
    finally:
        await client.close()


async def _tamper(settings: Settings, audit_id: str, change: dict[str, Any] | None) -> None:
    """Edit (or, with None, delete) one indexed document."""
    client: AsyncElasticsearch = elasticsearch_client(settings, max_retries=0)
    index = f"{settings.index_prefix}-audit"
    try:
        if change is None:
            await client.delete(index=index, id=audit_id, refresh=True)
        else:
            source = (await client.get(index=index, id=audit_id))["_source"]
            await client.index(
                index=index, id=audit_id, document={**source, **change}, refresh=True
            )
    finally:
        await client.close()


async def test_every_chain_verifies_from_the_index_alone(settings_for: Any) -> None:
    """Three chains shipped into one index each re-verify from the index: every record,
    checkpoint seal and signature, with its writer id."""
    settings = settings_for()
    await _two_chains_shipped(settings)
    reports = await _check(settings)
    assert list(reports) == [None, "w1", "w2"]
    for report in reports.values():
        assert report.ok, report.problems
        assert report.records == 9 + 3  # requests + interval and close checkpoints
        assert report.signatures == "valid"
        assert report.sealed


async def test_an_edited_indexed_record_is_named_in_its_chain_only(settings_for: Any) -> None:
    """Changing one field of one indexed record breaks that chain at that record; the
    other chains still verify."""
    settings = settings_for()
    ids = await _two_chains_shipped(settings)
    await _tamper(settings, ids["w2"][4], {"subject": "mallory"})
    reports = await _check(settings)
    assert reports["w1"].ok
    assert reports[None].ok
    errors = reports["w2"].errors
    assert [(e.code, e.location.audit_id if e.location else None) for e in errors] == [
        ("hash_mismatch", ids["w2"][4])
    ]


async def test_a_deleted_indexed_record_is_a_gap(settings_for: Any) -> None:
    """A record missing from the index is reported as a gap naming its seq range."""
    settings = settings_for()
    ids = await _two_chains_shipped(settings)
    await _tamper(settings, ids["w1"][2], None)
    reports = await _check(settings)
    assert [e.code for e in reports["w1"].errors] == ["gap"]
    assert "seq 3..3" in reports["w1"].errors[0].message
    assert reports["w2"].ok


def test_cli_against_index_exit_code(settings_for: Any, stack_env: dict[str, str]) -> None:
    """`gateway audit verify --against-index` exits 0 on intact chains, 1 once one
    indexed record is edited, and names the writer."""
    settings = settings_for()
    ids = asyncio.run(_two_chains_shipped(settings))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")},
        **{k: v for k, v in stack_env.items() if k.startswith("GATEWAY_ELASTICSEARCH")},
        "GATEWAY_INDEX_PREFIX": settings.index_prefix,
        "GATEWAY_AUDIT_HMAC_KEY": KEY,
    }
    asyncio.run(_check(settings))  # refreshes the index
    ok = CliRunner().invoke(audit_app, ["verify", "--against-index"], env=env)
    assert ok.exit_code == 0, ok.output
    assert "3 chains, 0 broken" in ok.output
    asyncio.run(_tamper(settings, ids["w1"][0], {"allowed": False}))
    broken = CliRunner().invoke(audit_app, ["verify", "--against-index"], env=env)
    assert broken.exit_code == 1
    assert "writer w1: BROKEN" in broken.output
