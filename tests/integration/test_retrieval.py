"""Retrieval against the real Elasticsearch and OPA: cache, policy changes, fail-closed."""

import asyncio
import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import structlog
from structlog.testing import capture_logs
from typer.testing import CliRunner

from gateway.cli import app
from gateway.elastic import ChunkIndex
from gateway.errors import DependencyUnavailable, PolicyUntranslatable
from gateway.identity import Principal
from gateway.policy import PolicyEngine
from gateway.policy_revision import PolicyRevision
from gateway.retrieval.explain import explain
from gateway.retrieval.filters import FilterCompiler
from gateway.retrieval.retriever import Retriever
from gateway.retrieval.translator import MATCH_ALL, FilterTranslator

from .conftest import closed_port_url, ingest_demo

pytestmark = pytest.mark.integration

BOB = Principal("bob", ("sales",), {"tenant": "acme", "clearance": "internal"})
ALICE = Principal("alice", ("engineering",), {"tenant": "acme", "clearance": "confidential"})


@pytest.fixture
def test_policy(stack_env: dict[str, str]) -> Iterator[Any]:
    """Load (and replace) a throw-away policy module in the real OPA through its API."""
    package = f"gateway.test_{uuid.uuid4().hex[:8]}"
    url = f"{stack_env['GATEWAY_OPA_URL']}/v1/policies/{package}"

    def load(body: str) -> str:
        rego = f"# METADATA\n# compile:\n#   unknowns: [input.document]\npackage {package}\n"
        rego += "import rego.v1\ndefault allow := false\n" + body
        response = httpx.put(url, content=rego)
        assert response.status_code == 200, response.text
        return package

    yield load
    httpx.delete(url)


async def test_demo_subjects_see_only_their_documents(settings_for: Any) -> None:
    """With the demo policy, bob (sales) gets pricing but never the confidential runbook."""
    async with (
        ChunkIndex.from_settings(settings_for()) as index,
        PolicyEngine(str(settings_for().opa_url), 2.0) as policy,
        PolicyRevision(policy, 60) as revision,
    ):
        await ingest_demo(index)
        retriever = Retriever(index, policy, FilterCompiler(policy, revision))
        bob = await retriever.retrieve(BOB, "discount price seat vault tokens", k=10)
        alice = await retriever.retrieve(ALICE, "discount price seat vault tokens", k=10)
    assert {c["doc_id"] for c in bob.chunks} == {"acme-pricing-2026"}
    assert {c["doc_id"] for c in alice.chunks} == {"acme-incident-runbook"}


async def test_filters_are_cached_until_the_policy_changes(
    settings_for: Any, test_policy: Any
) -> None:
    """A second lookup is cached; editing the policy in OPA yields a fresh filter."""
    package = test_policy('allow if input.document.tenant == "acme"\n')
    async with (
        PolicyEngine(str(settings_for().opa_url), 2.0) as policy,
        PolicyRevision(policy, poll_interval_s=0.1) as revision,
    ):
        compiler = FilterCompiler(policy, revision, package=package)
        first = await compiler.filter_for(BOB)
        second = await compiler.filter_for(BOB)
        test_policy('allow if input.document.tenant == "globex"\n')
        await asyncio.sleep(0.5)  # the watcher's poll picks the edit up
        third = await compiler.filter_for(BOB)
    assert (first.cached, second.cached) == (False, True)
    assert second.es_filter == {"term": {"tenant": "acme"}}
    assert third.cached is False
    assert third.revision != first.revision
    assert third.es_filter == {"term": {"tenant": "globex"}}


async def test_policy_outside_the_filter_fragment_is_refused(
    settings_for: Any, test_policy: Any
) -> None:
    """Rego OPA cannot compile into a filter (iteration over a document array) denies.

    The caller's message is generic (no policy file, line or construct); the reason is
    logged for the operator, with the request id, and kept as the error's detail.
    """
    package = test_policy('allow if input.document.allowed_groups[_] == "sales"\n')
    structlog.contextvars.bind_contextvars(request_id="req_test123")
    try:
        async with (
            PolicyEngine(str(settings_for().opa_url), 2.0) as policy,
            PolicyRevision(policy, 60) as revision,
        ):
            compiler = FilterCompiler(policy, revision, package=package)
            with capture_logs() as logs, pytest.raises(PolicyUntranslatable) as info:
                await compiler.filter_for(BOB)
            with capture_logs() as again, pytest.raises(PolicyUntranslatable):
                await compiler.filter_for(BOB)  # the refusal is cached, and logged again
    finally:
        structlog.contextvars.unbind_contextvars("request_id")
    message = info.value.to_openai()["error"]["message"]
    assert "req_test123" in message
    for internal in (package, "allowed_groups", ".rego", "cannot compile", "row"):
        assert internal not in message
    assert "cannot compile" in info.value.detail
    assert "invalid ref operand" in info.value.detail
    for events in (logs, again):
        refused = [e for e in events if e["event"] == "policy_untranslatable"]
        assert len(refused) == 1
        assert refused[0]["subject"] == "bob"
        assert "cannot compile" in refused[0]["reason"]


async def test_unfilterable_field_is_refused(settings_for: Any, test_policy: Any) -> None:
    """A condition on a field outside the allowlist (chunk text) denies the request."""
    package = test_policy('allow if input.document.text == "x"\n')
    async with (
        PolicyEngine(str(settings_for().opa_url), 2.0) as policy,
        PolicyRevision(policy, 60) as revision,
    ):
        with pytest.raises(PolicyUntranslatable) as info:
            await FilterCompiler(policy, revision, package=package).filter_for(BOB)
    assert "not filterable" in info.value.detail
    assert "not filterable" not in info.value.message
    async with (
        PolicyEngine(str(settings_for().opa_url), 2.0) as policy,
        PolicyRevision(policy, 60) as revision,
    ):
        with pytest.raises(PolicyUntranslatable, match="not filterable"):  # operator tools
            await FilterCompiler(policy, revision, package=package).compile(BOB, "preview")


async def test_only_subjects_the_untranslatable_rule_concerns_are_refused(
    settings_for: Any, test_policy: Any
) -> None:
    """A rule OPA cannot compile refuses the subjects it applies to, not everyone."""
    package = test_policy(
        'allow if input.document.tenant == "acme"\n'
        "allow if {\n"
        '  input.subject.id == "bob"\n'
        '  regex.match("^x", input.document.owner)\n'
        "}\n"
    )
    async with (
        PolicyEngine(str(settings_for().opa_url), 2.0) as policy,
        PolicyRevision(policy, 60) as revision,
    ):
        compiler = FilterCompiler(policy, revision, package=package)
        assert (await compiler.filter_for(ALICE)).es_filter == {"term": {"tenant": "acme"}}
        with pytest.raises(PolicyUntranslatable) as info:
            await compiler.filter_for(BOB)
    assert "regex.match" in info.value.detail


class _BrokenTranslator(FilterTranslator):
    """A translator bug: it allows everything."""

    def translate(self, compile_response: Any) -> dict[str, Any]:
        return MATCH_ALL


async def test_recheck_drops_what_a_broken_filter_lets_through(settings_for: Any) -> None:
    """Defense in depth: hits the policy denies are dropped and logged as a security event."""
    async with (
        ChunkIndex.from_settings(settings_for()) as index,
        PolicyEngine(str(settings_for().opa_url), 2.0) as policy,
        PolicyRevision(policy, 60) as revision,
    ):
        await ingest_demo(index)
        broken = FilterCompiler(policy, revision, translator=_BrokenTranslator())
        with capture_logs() as logs:
            result = await Retriever(index, policy, broken).retrieve(
                BOB, "break-glass vault hardware tokens", k=10
            )
    assert all(c["doc_id"] != "acme-incident-runbook" for c in result.chunks)
    assert any(cid.startswith("acme-incident-runbook") for cid in result.dropped_chunk_ids)
    events = [e for e in logs if e["event"] == "security_event_filter_disagreement"]
    assert events
    assert events[0]["subject"] == "bob"


async def test_opa_down_refuses_retrieval(settings_for: Any) -> None:
    """With OPA unreachable no filter can be built: DependencyUnavailable, no search."""
    async with (
        PolicyEngine(closed_port_url(), 0.5) as policy,
        PolicyRevision(policy, 60) as revision,
    ):
        with pytest.raises(DependencyUnavailable, match="opa"):
            await FilterCompiler(policy, revision).filter_for(BOB)


def test_explain_cli_shows_filter_and_exclusions(
    settings_for: Any, monkeypatch: pytest.MonkeyPatch, stack_env: dict[str, str]
) -> None:
    """`gateway explain --json` names the compiled filter, hits and excluded chunks with reasons."""
    settings = settings_for()

    async def load() -> None:
        async with ChunkIndex.from_settings(settings) as index:
            await ingest_demo(index)

    asyncio.run(load())
    for name, value in stack_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GATEWAY_INDEX_PREFIX", settings.index_prefix)
    monkeypatch.setenv("GATEWAY_AUDIT_DIR", str(settings.audit_dir))
    result = CliRunner().invoke(app, ["explain", "--as", "bob", "--json", "vault tokens price"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["subject"]["groups"] == ["sales"]  # taken from the API-keys file
    assert {r["doc_id"] for r in report["retrieved"]} == {"acme-pricing-2026"}
    excluded = {e["doc_id"]: e["reasons"] for e in report["excluded"]}
    assert "acme-incident-runbook" in excluded
    assert any("clearance" in reason for reason in excluded["acme-incident-runbook"])
    assert "19 euros" not in result.output  # metadata only, never the pricing chunk's text


async def test_explain_says_why_a_policy_is_untranslatable(
    settings_for: Any, test_policy: Any
) -> None:
    """`gateway explain` shows the operator the reason the caller is not told."""
    package = test_policy('allow if regex.match("^x", input.document.owner)\n')
    async with (
        ChunkIndex.from_settings(settings_for()) as index,
        PolicyEngine(str(settings_for().opa_url), 2.0) as policy,
        PolicyRevision(policy, 60) as revision,
    ):
        await ingest_demo(index)
        compiler = FilterCompiler(policy, revision, package=package)
        report = (await explain(index, policy, compiler, BOB, "vault tokens price")).as_dict()
    assert "regex.match" in report["untranslatable"]
    assert report["elasticsearch_filter"] is None
    assert report["retrieved"] == []
    assert report["excluded"]
    assert "governance" in report["excluded"][0]


async def test_recheck_without_allow_document_fails_closed(
    settings_for: Any, test_policy: Any
) -> None:
    """A retrieval package without allow_document cannot re-check: refused, never allowed."""
    package = test_policy('allow if input.document.tenant == "acme"\n')
    async with PolicyEngine(str(settings_for().opa_url), 2.0) as policy:
        with pytest.raises(DependencyUnavailable, match="allow_document is not defined"):
            await policy.allow_documents(BOB, [{"tenant": "acme"}], package=package)


async def test_documents_shared_with_thousands_are_retrieved(settings_for: Any) -> None:
    """2,000 groups x 2,000 users on each hit: filtered, re-checked within OPA's timeout."""
    groups = [f"group-{n}" for n in range(1999)]
    chunks = [
        {
            "chunk_id": f"shared-{n}",
            "doc_id": f"shared-{n}",
            "corpus": "wiki",
            "title": "shared",
            "source_uri": f"test://shared/{n}",
            "tenant": "acme",
            "classification": "internal",
            "allowed_groups": [*groups[n:], "sales", *groups[:n]],
            "allowed_users": [f"user-{m}" for m in range(2000)],
            "text": "quarterly shared roadmap",
        }
        for n in range(5)
    ]
    async with (
        ChunkIndex.from_settings(settings_for()) as index,
        PolicyEngine(str(settings_for().opa_url), 2.0) as policy,
        PolicyRevision(policy, 60) as revision,
    ):
        await index.ensure_index()
        await index.index_chunks(chunks)
        result = await Retriever(index, policy, FilterCompiler(policy, revision)).retrieve(
            BOB, "quarterly shared roadmap", k=5
        )
        denied = await Retriever(index, policy, FilterCompiler(policy, revision)).retrieve(
            ALICE, "quarterly shared roadmap", k=5
        )
    assert {c["doc_id"] for c in result.chunks} == {f"shared-{n}" for n in range(5)}
    assert result.dropped_chunk_ids == []
    assert denied.chunks == []


async def test_megabytes_of_chunks_are_written_in_small_bulks(settings_for: Any) -> None:
    """3 MiB in one call: written whole, in bulks under aiohttp's 1 MiB body (over it,
    aiohttp blocks the loop on one write and warns: an error under this suite's filter)."""
    chunks = [
        {
            "chunk_id": f"bulk-{n}",
            "doc_id": f"bulk-{n}",
            "title": "bulk",
            "tenant": "acme",
            "classification": "internal",
            "allowed_groups": ["sales"],
            "text": f"part {n} " + "quarterly figures " * 6000,
        }
        for n in range(30)
    ]
    async with ChunkIndex.from_settings(settings_for()) as index:
        await index.ensure_index()
        assert await index.index_chunks(chunks) == len(chunks)
