"""The policy revision OPA is serving, polled in the background.

Everything the gateway caches from OPA (compiled retrieval filters, authorization and
redaction decisions) is keyed by this revision, so a policy edit (OPA reloads it with
``--watch``) invalidates every cached answer at once, within one poll interval.

While OPA does not answer, the revision is forgotten: callers then ask OPA directly,
which fails, so cached answers never outlive OPA by more than one poll interval and
requests fail closed.
"""

from __future__ import annotations

import asyncio
from typing import Self

import structlog

from gateway.errors import DependencyUnavailable
from gateway.policy import PolicyEngine

log = structlog.get_logger("gateway.policy")


class PolicyRevision:
    """Tracks the policy revision; polls OPA in the background while open."""

    def __init__(self, policy: PolicyEngine, poll_interval_s: float) -> None:
        self._policy = policy
        self._interval = poll_interval_s
        self._current: str | None = None
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._poll())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def current(self) -> str:
        """The latest revision; asks OPA directly until the watcher has one."""
        if self._current is None:
            self._current = await self._policy.revision()
        return self._current

    async def refresh(self) -> str:
        revision = await self._policy.revision()
        if revision != self._current:
            log.info("policy_revision", revision=revision, previous=self._current)
            self._current = revision
        return revision

    async def _poll(self) -> None:
        while True:
            try:
                await self.refresh()
            except DependencyUnavailable:
                if self._current is not None:
                    log.warning("policy_revision_unavailable")
                self._current = None
            await asyncio.sleep(self._interval)
