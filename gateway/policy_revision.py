"""The policy revision OPA is serving, polled in the background.

Everything the gateway caches from OPA (compiled retrieval filters, authorization and
redaction decisions) is keyed by ``cache_key()``, so a policy edit (OPA reloads it with
``--watch``) invalidates every cached answer at once, within one poll interval (plus
OPA's timeout when OPA hangs rather than refuses).

The key is an epoch that moves on every change the poller sees, not the digest itself:
an answer fetched while OPA already served a newer policy (between two polls) is stored
under the old epoch, so reverting to an earlier policy can never bring it back.

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
        self._epoch = 0
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._poll())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def current(self) -> str:
        """The latest revision (a digest of the policies); asks OPA directly until the
        watcher has one."""
        if self._current is None:
            revision = await self._policy.revision()
            self._set(revision)
            return revision
        return self._current

    @property
    def known(self) -> str | None:
        """The last revision seen, without asking OPA (None while OPA does not answer)."""
        return self._current

    async def cache_key(self) -> str:
        """What cached OPA answers are keyed by: changes whenever the revision does."""
        revision = await self.current()
        return f"{self._epoch}:{revision}"

    async def refresh(self) -> str:
        revision = await self._policy.revision()
        self._set(revision)
        return revision

    def _set(self, revision: str | None) -> None:
        if revision != self._current:
            if revision is not None and self._current is not None:
                log.info("policy_revision", revision=revision, previous=self._current)
            self._current = revision
            self._epoch += 1

    async def _poll(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception as exc:  # noqa: BLE001 - the watcher must outlive any failure
                if self._current is not None:
                    log.warning(
                        "policy_revision_unavailable",
                        error=type(exc).__name__,
                        expected=isinstance(exc, DependencyUnavailable),
                    )
                self._set(None)
            await asyncio.sleep(self._interval)
