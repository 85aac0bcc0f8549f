"""Both PII lanes of the upload scan against the real fine-tune policy (OPA)."""

from __future__ import annotations

import json

import pytest

from gateway.elastic import ChunkIndex
from gateway.finetune.matcher import CorpusMatcher
from gateway.finetune.pii_plan import PiiPlan, policy_plan
from gateway.finetune.scan import UploadScanner
from gateway.identity import Principal
from gateway.pii.analyzer import PiiSpan, PresidioAnalyzer
from gateway.policy import PolicyEngine
from gateway.settings import Settings

pytestmark = pytest.mark.integration

UPLOADER = Principal("uploader", ("engineering",), {})

LINES = [
    ("Who wrote the release notes?", "Margaret Hamilton wrote them in Houston last spring."),
    ("How do I reach support?", "Write to ann.smith@fastmail.com with the ticket number."),
]
CONTENT = "".join(
    json.dumps({"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]})
    + "\n"
    for q, a in LINES
).encode()


async def _decide(policy: PolicyEngine, scanner: UploadScanner) -> tuple[set[str], set[str]]:
    """The PII types the scan reported and those the policy refused the upload for."""
    scan = await scanner.scan(CONTENT)
    decision = await policy.finetune(
        UPLOADER, "files.create", {"purpose": "fine-tune", "scan": scan.policy_input()}
    )
    refused = {str(v["type"]) for v in decision.violations if v.get("kind") == "pii"}
    return {finding.type for finding in scan.pii}, refused


async def test_the_default_policy_needs_no_ner_and_patterns_refuse_identifiers(
    settings: Settings,
) -> None:
    """The shipped policy blocks structured identifiers only, so the scan takes the
    pattern lane (the NER pool is never called) and the e-mail address refuses the file."""
    calls: list[list[str]] = []

    async def pool(texts: list[str]) -> list[list[PiiSpan]]:
        calls.append(texts)
        return [[] for _ in texts]

    async with (
        ChunkIndex.from_settings(settings) as index,
        PolicyEngine(str(settings.opa_url), 30.0) as policy,
    ):
        plan = await policy_plan(policy, "fine-tune")
        assert plan.scan
        assert not plan.ner
        assert "EMAIL_ADDRESS" in (plan.types or ())
        assert not (await policy_plan(policy, "assistants")).scan

        async def planned(purpose: str) -> PiiPlan:
            return await policy_plan(policy, purpose)

        scanner = UploadScanner(CorpusMatcher(index.client, index.name), pool, pii_plan=planned)
        reported, refused = await _decide(policy, scanner)
    assert calls == []
    assert reported == {"EMAIL_ADDRESS"}
    assert refused == {"EMAIL_ADDRESS"}


async def test_an_ner_plan_reports_names_that_the_default_policy_does_not_refuse(
    settings: Settings,
) -> None:
    """With NER asked for, names and places are reported to the policy, which by default
    refuses only the structured identifier."""
    analyzer = PresidioAnalyzer()

    async def pool(texts: list[str]) -> list[list[PiiSpan]]:
        return analyzer.analyze(texts)

    async def with_ner(purpose: str) -> PiiPlan:
        return PiiPlan(scan=True, types=("EMAIL_ADDRESS", "PERSON", "LOCATION"), ner=True)

    async with (
        ChunkIndex.from_settings(settings) as index,
        PolicyEngine(str(settings.opa_url), 30.0) as policy,
    ):
        scanner = UploadScanner(CorpusMatcher(index.client, index.name), pool, pii_plan=with_ner)
        reported, refused = await _decide(policy, scanner)
    assert {"EMAIL_ADDRESS", "PERSON"} <= reported
    assert refused == {"EMAIL_ADDRESS"}
