"""The compiled filter returns exactly what OPA allows, document by document.

Against the real Elasticsearch and OPA: for random subjects, documents (missing fields,
multi-valued groups, every classification, several tenants) and queries, the filtered
search returns exactly the chunks that match the query AND that OPA's full evaluation
allows: no leak and no over-denial.
"""

import asyncio
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.elastic import ChunkIndex
from gateway.governance_schema import BUILTIN_SCHEMA, GovernanceSchema, load_schema
from gateway.identity import Principal
from gateway.policy import PolicyEngine
from gateway.policy_revision import PolicyRevision
from gateway.retrieval.filters import FilterCompiler
from gateway.retrieval.retriever import Retriever, policy_view
from gateway.settings import Settings

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).parents[1] / "fixtures"
OPERATORS_POLICY = FIXTURES / "operators_policy.rego"
CUSTOM_FIELDS_POLICY = FIXTURES / "custom_fields_policy.rego"
SCHEMA = load_schema(FIXTURES / "governance" / "schema.yaml")
WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"]
USERS = ["alice", "bob", "carol", "dave"]
GROUPS = ["engineering", "sales", "security", "*"]
TENANTS = ["acme", "globex", "initech"]
CLASSIFICATIONS = ["public", "internal", "confidential", "restricted", "secret-ish"]
LABELS = ["eu", "finance", "hr"]
# Canonical timestamps around the day boundaries the policies compare with.
TIMESTAMPS = [
    "2025-12-31T23:59:59.999Z",
    "2026-01-15T00:00:00.000Z",
    "2026-01-15T00:00:00.001Z",
    "2026-03-01T00:00:00.000Z",
    "2026-03-01T12:00:00.000Z",
    "2026-05-31T23:59:59.999Z",
    "2026-06-01T00:00:00.000Z",
    "2026-06-02T08:00:00.000Z",
]


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


documents = st.fixed_dictionaries(
    {
        "tenant": _maybe(st.sampled_from(TENANTS)),
        "classification": _maybe(st.sampled_from(CLASSIFICATIONS)),
        "owner": _maybe(st.sampled_from([*USERS, "zed"])),
        "corpus": st.sampled_from(["handbook", "legal", "wiki"]),
        "doc_id": st.sampled_from(["hr-1", "hr-2", "eng-1", "fin-9"]),
        "allowed_groups": _maybe(st.lists(st.sampled_from(GROUPS), max_size=3, unique=True)),
        "allowed_users": _maybe(st.lists(st.sampled_from(USERS), max_size=2, unique=True)),
        "labels": _maybe(st.lists(st.sampled_from(LABELS), max_size=2, unique=True)),
        "created_at": _maybe(st.sampled_from(TIMESTAMPS)),
        "updated_at": _maybe(st.sampled_from(TIMESTAMPS)),
        "text": st.lists(st.sampled_from(WORDS), min_size=1, max_size=4).map(" ".join),
    }
)
subjects = st.builds(
    lambda sid, groups, tenant, clearance, labels, prefix, corpus_max, since: Principal(
        sid,
        tuple(groups),
        {
            k: v
            for k, v in {
                "tenant": tenant,
                "clearance": clearance,
                "labels": labels,
                "prefix": prefix,
                "corpus_max": corpus_max,
                "since": since,
            }.items()
            if v is not None
        },
    ),
    st.sampled_from(USERS),
    st.lists(st.sampled_from(GROUPS[:3]), max_size=3, unique=True),
    _maybe(st.sampled_from(TENANTS)),
    _maybe(st.sampled_from(["public", "internal", "confidential", "restricted", "bogus"])),
    st.lists(st.sampled_from(LABELS), max_size=2, unique=True),
    _maybe(st.sampled_from(["hr", "eng", "f"])),
    _maybe(st.sampled_from(["handbook", "legal", "wiki", "zzz"])),
    _maybe(st.sampled_from(["2026-01-15", "2026-03-01T00:00:00.000Z", "2026-06-01"])),
)
queries = st.lists(st.sampled_from(WORDS), min_size=1, max_size=2).map(" ".join)


def _chunks(docs: list[dict[str, Any]], example: str) -> list[dict[str, Any]]:
    chunks = []
    for n, doc in enumerate(docs):
        chunk = {k: v for k, v in doc.items() if v is not None}
        chunk.update(chunk_id=f"{example}-{n}", source_uri=f"test://{example}/{n}", title="t")
        chunks.append(chunk)
    return chunks


async def _check(
    settings: Settings,
    package: str,
    docs: list[dict[str, Any]],
    subject: Principal,
    query: str,
    schema: GovernanceSchema = BUILTIN_SCHEMA,
) -> None:
    example = uuid.uuid4().hex
    isolation = {"prefix": {"source_uri": f"test://{example}/"}}
    async with (
        ChunkIndex.from_settings(settings, schema) as index,
        PolicyEngine(str(settings.opa_url), 5.0) as policy,
        PolicyRevision(policy, poll_interval_s=60) as revision,
    ):
        await index.ensure_index()
        chunks = _chunks(docs, example)
        await index.index_chunks(chunks)
        try:
            await _compare(index, policy, revision, package, subject, query, isolation, example)
        finally:
            # The full retrieval path searches the whole index: earlier examples' chunks
            # must not crowd this one's out of its top 200.
            # (This distribution has no _delete_by_query: delete by id.)
            await index.client.bulk(
                operations=[
                    {"delete": {"_index": index.name, "_id": c["chunk_id"]}} for c in chunks
                ],
                refresh=True,
            )


async def _compare(
    index: ChunkIndex,
    policy: PolicyEngine,
    revision: PolicyRevision,
    package: str,
    subject: Principal,
    query: str,
    isolation: dict[str, Any],
    example: str,
) -> None:
    compiler = FilterCompiler(policy, revision, package=package, schema=index.schema)
    compiled = await compiler.filter_for(subject)
    authz = {"bool": {"filter": [isolation, dict(compiled.es_filter)]}}
    filtered = await index.search(query, authorization_filter=authz, k=200)
    matching = await index.search(query, authorization_filter=isolation, k=200)
    verdicts = await policy.allow_documents(
        subject, [policy_view(hit, index.schema) for hit in matching], package=package
    )
    expected = {hit["chunk_id"] for hit, ok in zip(matching, verdicts, strict=True) if ok}
    got = {hit["chunk_id"] for hit in filtered}
    leaked, over_denied = got - expected, expected - got
    assert not leaked, f"leak: {leaked} filter={compiled.es_filter}"
    assert not over_denied, f"over-denial: {over_denied} filter={compiled.es_filter}"
    # The full retrieval path agrees, and its re-check finds nothing to drop.
    retrieval = await Retriever(index, policy, compiler).retrieve(subject, query, k=200)
    in_example = {c["chunk_id"] for c in retrieval.chunks if c["chunk_id"].startswith(example)}
    assert in_example == expected
    assert retrieval.dropped_chunk_ids == []


PROPERTY_SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@PROPERTY_SETTINGS
@given(docs=st.lists(documents, min_size=1, max_size=12), subject=subjects, query=queries)
def test_demo_policy_filter_equals_per_document_decisions(
    settings_for: Any, docs: list[dict[str, Any]], subject: Principal, query: str
) -> None:
    """policies/retrieval.rego: filtered search == query matches that OPA allows."""
    asyncio.run(
        _check(
            settings_for(index_prefix="gateway-equiv"), "gateway.retrieval", docs, subject, query
        )
    )


@pytest.fixture(scope="module", autouse=True)
def empty_equivalence_index(stack_env: dict[str, str]) -> None:
    """Start from no chunks: a long-lived local index must not crowd examples out."""
    response = httpx.delete(
        f"{stack_env['GATEWAY_ELASTICSEARCH_URL']}/gateway-equiv-chunks-v1",
        auth=(
            stack_env["GATEWAY_ELASTICSEARCH_USERNAME"],
            stack_env["GATEWAY_ELASTICSEARCH_PASSWORD"],
        ),
    )
    assert response.status_code in (200, 404), response.text


@pytest.fixture(scope="module")
def operators_policy(stack_env: dict[str, str]) -> Any:
    url = f"{stack_env['GATEWAY_OPA_URL']}/v1/policies/test-operators"
    response = httpx.put(url, content=OPERATORS_POLICY.read_bytes())
    response.raise_for_status()
    yield
    httpx.delete(url)


@PROPERTY_SETTINGS
@given(docs=st.lists(documents, min_size=1, max_size=12), subject=subjects, query=queries)
def test_every_operator_filter_equals_per_document_decisions(
    settings_for: Any,
    operators_policy: Any,
    docs: list[dict[str, Any]],
    subject: Principal,
    query: str,
) -> None:
    """A policy using !=, not, in, startswith and ranges: filtered search == OPA's answers."""
    asyncio.run(
        _check(
            settings_for(index_prefix="gateway-equiv"),
            "gateway.test_operators",
            docs,
            subject,
            query,
        )
    )


custom_documents = st.fixed_dictionaries(
    {
        "department": _maybe(st.sampled_from(["legal", "sales"])),
        "region": _maybe(st.sampled_from(["EU", "US", "APAC"])),
        "denied_users": _maybe(st.lists(st.sampled_from([*USERS, *GROUPS[:3]]), max_size=3)),
        "projects": _maybe(st.lists(st.sampled_from(["apollo", "gemini"]), max_size=2)),
        "embargo_until": _maybe(st.sampled_from(TIMESTAMPS)),
        "retention_years": _maybe(st.integers(min_value=0, max_value=12)),
        "legal_hold": _maybe(st.booleans()),
        "updated_at": _maybe(st.sampled_from(TIMESTAMPS)),
        "corpus": st.just("records"),
        "doc_id": st.sampled_from(["r-1", "r-2"]),
        "text": st.lists(st.sampled_from(WORDS), min_size=1, max_size=4).map(" ".join),
    }
)
custom_subjects = st.builds(
    lambda sid, groups, department, today, projects: Principal(
        sid,
        tuple(groups),
        {
            k: v
            for k, v in {"department": department, "today": today, "projects": projects}.items()
            if v is not None
        },
    ),
    st.sampled_from(USERS),
    st.lists(st.sampled_from(GROUPS[:3]), max_size=2, unique=True),
    _maybe(st.sampled_from(["legal", "sales"])),
    _maybe(st.sampled_from(["2026-03-01", "2026-06-01T00:00:00.000Z", "2026-06-02"])),
    st.lists(st.sampled_from(["apollo", "gemini"]), max_size=2, unique=True),
)


@pytest.fixture(scope="module")
def custom_fields_policy(stack_env: dict[str, str]) -> Any:
    url = f"{stack_env['GATEWAY_OPA_URL']}/v1/policies/test-custom-fields"
    response = httpx.put(url, content=CUSTOM_FIELDS_POLICY.read_bytes())
    response.raise_for_status()
    yield
    httpx.delete(url)


@PROPERTY_SETTINGS
@given(
    docs=st.lists(custom_documents, min_size=1, max_size=12),
    subject=custom_subjects,
    query=queries,
)
def test_custom_fields_filter_equals_per_document_decisions(
    settings_for: Any,
    custom_fields_policy: Any,
    docs: list[dict[str, Any]],
    subject: Principal,
    query: str,
) -> None:
    """Schema fields (deny-lists, enums, dates, integers, booleans): filter == OPA's answers."""
    asyncio.run(
        _check(
            settings_for(index_prefix="gateway-equiv"),
            "gateway.test_custom_fields",
            docs,
            subject,
            query,
            SCHEMA,
        )
    )
