import asyncio
from typing import Any

import pytest

from gateway.decision_cache import CachedDecisions
from gateway.errors import DependencyUnavailable
from gateway.identity import Principal
from gateway.policy import Decision
from gateway.policy_revision import PolicyRevision

BOB = Principal("bob", ("sales",))


class ScriptedOpa:
    """Stands in for PolicyEngine: a policy revision and what it decides, set by the test."""

    def __init__(self) -> None:
        self.revision_now: str | Exception = "R2"
        self.allowed: set[str] = set()
        self.asked = 0

    async def revision(self) -> str:
        if isinstance(self.revision_now, Exception):
            raise self.revision_now
        return self.revision_now

    async def authorize(self, principal: Principal, action: str, model: str | None = None) -> Any:
        self.asked += 1
        return Decision(allow=model in self.allowed, reasons=(), decision_id=f"d{self.asked}")


async def test_an_answer_fetched_before_a_poll_never_returns_after_a_revert() -> None:
    """R2 denies, OPA moves to R3 (allows) between polls, then back to R2: the allow
    fetched in between is not served once R2 is back."""
    opa = ScriptedOpa()
    revision = PolicyRevision(opa, poll_interval_s=60)  # type: ignore[arg-type]
    decisions = CachedDecisions(opa, revision, max_entries=100)  # type: ignore[arg-type]
    assert not (await decisions.authorize(BOB, "chat.completions", "other")).allow
    opa.revision_now, opa.allowed = "R3", {"gpt-4o"}  # not polled yet
    assert (await decisions.authorize(BOB, "chat.completions", "gpt-4o")).allow
    await revision.refresh()  # the poll sees R3
    opa.revision_now, opa.allowed = "R2", set()  # reverted
    await revision.refresh()
    after_revert = await decisions.authorize(BOB, "chat.completions", "gpt-4o")
    assert not after_revert.allow
    assert not after_revert.cached


async def test_the_watcher_survives_an_unexpected_error_and_forgets_the_revision() -> None:
    """Any failure of a poll (not only OPA refusing) forgets the revision, so callers ask
    OPA themselves and fail closed; the watcher keeps polling and recovers."""
    opa = ScriptedOpa()
    async with PolicyRevision(opa, poll_interval_s=0.01) as revision:  # type: ignore[arg-type]
        key = await revision.cache_key()
        opa.revision_now = KeyError("id")
        await asyncio.sleep(0.05)
        with pytest.raises(KeyError):
            await revision.cache_key()
        opa.revision_now = DependencyUnavailable("opa", "down")
        await asyncio.sleep(0.05)
        with pytest.raises(DependencyUnavailable):
            await revision.current()
        opa.revision_now = "R2"
        await asyncio.sleep(0.05)
        assert await revision.current() == "R2"
        assert await revision.cache_key() != key  # same digest, new epoch
