import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gateway.decision_cache import CachedDecisions
from gateway.identity import Principal
from gateway.policy import PolicyEngine
from gateway.policy_revision import PolicyRevision

pytestmark = pytest.mark.integration

BOB = Principal("bob", ("sales",))
CAROL = Principal("carol", ("security",))


@pytest.fixture
def extra_module(stack_env: dict[str, str]) -> Iterator[Any]:
    """Loads a harmless module into the real OPA (which moves the policy revision)."""
    url = f"{stack_env['GATEWAY_OPA_URL']}/v1/policies/gateway.test_{uuid.uuid4().hex[:8]}"

    def load() -> None:
        package = url.rsplit("/", 1)[1]
        response = httpx.put(url, content=f"package {package}\n\nx := 1\n")
        assert response.status_code == 200, response.text

    yield load
    httpx.delete(url)


async def test_authorization_is_cached_until_the_policy_changes(
    stack_env: dict[str, str], extra_module: Any
) -> None:
    """The same question is answered once per policy revision, with OPA's decision id."""
    async with (
        PolicyEngine(stack_env["GATEWAY_OPA_URL"], 2.0) as policy,
        PolicyRevision(policy, poll_interval_s=0.1) as revision,
    ):
        decisions = CachedDecisions(policy, revision, max_entries=100)
        first = await decisions.authorize(BOB, "chat.completions", "gpt-4o-mini")
        second = await decisions.authorize(BOB, "chat.completions", "gpt-4o-mini")
        other_model = await decisions.authorize(BOB, "chat.completions", "gpt-4o")
        extra_module()
        await asyncio.sleep(0.5)  # the watcher's poll picks the new revision up
        third = await decisions.authorize(BOB, "chat.completions", "gpt-4o-mini")
    assert (first.cached, second.cached, other_model.cached, third.cached) == (
        False,
        True,
        False,
        False,
    )
    assert first.allow
    assert second.allow
    assert not other_model.allow
    assert second.decision_id == first.decision_id
    assert third.decision_id not in (None, first.decision_id)


async def test_redaction_rules_mix_cached_and_fresh_answers_in_order(
    stack_env: dict[str, str],
) -> None:
    """A batch with known and new contexts returns OPA's answers in the asked order."""
    contexts: list[dict[str, Any]] = [
        {"source": "document", "classification": "public"},
        {"source": "message"},
        {"source": "document", "classification": "restricted"},
    ]
    async with (
        PolicyEngine(stack_env["GATEWAY_OPA_URL"], 2.0) as policy,
        PolicyRevision(policy, poll_interval_s=60) as revision,
    ):
        decisions = CachedDecisions(policy, revision, max_entries=100)
        await decisions.redaction_rules(CAROL, contexts[1:2])
        mixed = await decisions.redaction_rules(CAROL, contexts)
        live = await policy.redaction_rules(CAROL, contexts)
        bob = await decisions.redaction_rules(BOB, contexts)
    assert mixed == live
    assert mixed[0].default == "keep"
    assert mixed[2].default == "replace"
    assert mixed[1].entities["PERSON"] == "keep"
    assert [r.restore for r in mixed] == [True, True, True]
    assert [r.restore for r in bob] == [False, False, False]


async def test_size_zero_asks_opa_every_time(stack_env: dict[str, str]) -> None:
    """GATEWAY_DECISION_CACHE_SIZE=0: every authorization is a fresh OPA decision."""
    async with (
        PolicyEngine(stack_env["GATEWAY_OPA_URL"], 2.0) as policy,
        PolicyRevision(policy, poll_interval_s=60) as revision,
    ):
        decisions = CachedDecisions(policy, revision, max_entries=0)
        first = await decisions.authorize(BOB, "chat.completions", "gpt-4o-mini")
        second = await decisions.authorize(BOB, "chat.completions", "gpt-4o-mini")
    assert not first.cached
    assert not second.cached
    assert first.decision_id != second.decision_id
