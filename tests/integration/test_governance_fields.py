"""Governance schema fields end to end: ingest, the index mapping upgrade, retrieval."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.elastic import ChunkIndex
from gateway.errors import DependencyUnavailable
from gateway.governance_schema import BUILTIN_SCHEMA, parse_schema
from gateway.identity import Principal
from gateway.ingest.manifest import load_manifest
from gateway.ingest.pipeline import IngestOptions, run_ingest
from gateway.policy import PolicyEngine
from gateway.policy_revision import PolicyRevision
from gateway.retrieval.filters import FilterCompiler
from gateway.retrieval.retriever import Retriever

from ..fixtures.ingest.support import shared_analyzer

pytestmark = pytest.mark.integration

SCHEMA_FILE = Path(__file__).parents[1] / "fixtures" / "governance" / "schema.yaml"
POLICY = Path(__file__).parents[1] / "fixtures" / "custom_fields_policy.rego"
LINES = [
    '{"doc_id": "r-open", "text": "quarterly ledger", "department": "legal",'
    ' "retention_years": 5, "denied_users": [], "classification": "Internal"}',
    '{"doc_id": "r-denied", "text": "quarterly ledger", "department": "legal",'
    ' "retention_years": 5, "denied_users": ["bob"], "classification": "internal"}',
    '{"doc_id": "r-hold", "text": "quarterly ledger", "department": "legal",'
    ' "retention_years": 5, "legal_hold": true, "classification": "internal"}',
    '{"doc_id": "r-bad", "text": "quarterly ledger", "retention_years": "five",'
    ' "clearance_level": 3, "classification": "internal"}',
]


@pytest.fixture
def custom_policy(stack_env: dict[str, str]) -> Iterator[None]:
    url = f"{stack_env['GATEWAY_OPA_URL']}/v1/policies/test-custom-fields-ingest"
    httpx.put(url, content=POLICY.read_bytes()).raise_for_status()
    yield
    httpx.delete(url)


async def test_schema_fields_are_ingested_mapped_in_place_and_filtered(
    settings_for: Any, tmp_path: Path, custom_policy: None
) -> None:
    """An existing index gains the schema's fields; bad lines are named; policy uses them."""
    settings = settings_for(governance_schema_file=SCHEMA_FILE)
    async with ChunkIndex.from_settings(settings, BUILTIN_SCHEMA) as old:
        assert await old.ensure_index() is True  # created before the schema existed
    (tmp_path / "records.jsonl").write_text("\n".join(LINES) + "\n", encoding="utf-8")
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text("defaults: {tenant: acme}\n", encoding="utf-8")
    async with ChunkIndex.from_settings(settings) as index:
        assert index.schema.custom["denied_users"].type == "keyword_list"
        options = IngestOptions(
            corpus="records", manifest=load_manifest(manifest, index.schema), exclude=(manifest,)
        )
        report = await run_ingest([tmp_path], options, index=index, analyzer=shared_analyzer())
        mapping = (await index.client.indices.get_mapping(index=index.name))[index.name]
        assert mapping["mappings"]["properties"]["retention_years"] == {"type": "long"}
        assert report.indexed == 3
        [problem] = report.problems
        assert "retention_years: Input should be a valid integer" in problem.message
        assert "clearance_level: unknown field" in problem.message

        async with (
            PolicyEngine(str(settings.opa_url), 5.0) as policy,
            PolicyRevision(policy, 60) as revision,
        ):
            compiler = FilterCompiler(
                policy, revision, package="gateway.test_custom_fields", schema=index.schema
            )
            bob = Principal("bob", (), {"department": "legal"})
            carol = Principal("carol", (), {"department": "legal"})
            retriever = Retriever(index, policy, compiler)
            seen_by_bob = await retriever.retrieve(bob, "quarterly ledger", k=10)
            seen_by_carol = await retriever.retrieve(carol, "quarterly ledger", k=10)
    assert {c["doc_id"] for c in seen_by_bob.chunks} == {"r-open"}
    assert {c["doc_id"] for c in seen_by_carol.chunks} == {"r-open", "r-denied"}
    assert seen_by_carol.chunks[0]["classification"] == "internal"
    assert seen_by_bob.dropped_chunk_ids == []


async def test_changed_field_type_is_a_clear_error(settings_for: Any) -> None:
    """A schema field whose type changed cannot be remapped in place: a clear refusal."""
    settings = settings_for()
    async with ChunkIndex.from_settings(
        settings, parse_schema({"fields": {"region": "keyword"}})
    ) as index:
        await index.ensure_index()
    async with ChunkIndex.from_settings(
        settings, parse_schema({"fields": {"region": "integer"}})
    ) as index:
        with pytest.raises(DependencyUnavailable, match="type cannot change"):
            await index.ensure_index()
