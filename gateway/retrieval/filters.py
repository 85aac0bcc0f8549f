"""Compiled authorization filters, cached per (subject, policy revision).

OPA's compile is off the hot path: a subject's filter is compiled once per policy
revision. A background watcher notices policy edits (OPA reloads them with ``--watch``)
and moves the revision on, which invalidates every cached filter at once.
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

import structlog

from gateway.errors import DependencyUnavailable
from gateway.identity import Principal
from gateway.policy import RETRIEVAL_PACKAGE, PolicyEngine
from gateway.retrieval.simplify import simplify
from gateway.retrieval.translator import FilterTranslator

log = structlog.get_logger("gateway.retrieval")


@dataclass(frozen=True)
class CompiledFilter:
    """An Elasticsearch filter clause, with what it came from."""

    es_filter: Mapping[str, Any]
    ucast: Any
    revision: str
    cached: bool


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
                # Keep the last revision: requests still re-check every hit against
                # the live policy and fail closed while OPA is away.
                log.warning("policy_revision_unavailable")
            await asyncio.sleep(self._interval)


class FilterCompiler:
    """Principal -> Elasticsearch filter, via OPA's data-filter compile and the translator."""

    def __init__(
        self,
        policy: PolicyEngine,
        revision: PolicyRevision,
        translator: FilterTranslator | None = None,
        max_entries: int = 4096,
        package: str = RETRIEVAL_PACKAGE,
    ) -> None:
        self.package = package
        self._policy = policy
        self._revision = revision
        self._translator = translator or FilterTranslator()
        self._cache: OrderedDict[tuple[str, str], CompiledFilter] = OrderedDict()
        self._max_entries = max_entries

    async def filter_for(self, principal: Principal) -> CompiledFilter:
        revision = await self._revision.current()
        subject = principal.as_policy_input()
        key = (revision, json.dumps(subject, sort_keys=True, separators=(",", ":")))
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        compiled = await self.compile(principal, revision)
        self._cache[key] = CompiledFilter(compiled.es_filter, compiled.ucast, revision, True)
        while len(self._cache) > self._max_entries:
            self._cache.popitem(last=False)
        return compiled

    async def compile(self, principal: Principal, revision: str) -> CompiledFilter:
        """Compile without the cache (``gateway explain`` and cache misses)."""
        ucast = await self._policy.compile_filter(
            self.package, "allow", {"subject": principal.as_policy_input()}
        )
        es_filter = simplify(self._translator.translate(ucast))
        return CompiledFilter(es_filter, ucast, revision, cached=False)
