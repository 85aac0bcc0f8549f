"""Compiled authorization filters, cached per (subject, policy revision).

OPA's compile is off the hot path: a subject's filter is compiled once per policy
revision (``gateway.policy_revision``); a policy edit invalidates every cached filter.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.governance_schema import BUILTIN_SCHEMA, GovernanceSchema
from gateway.identity import Principal
from gateway.lru import LruCache
from gateway.policy import RETRIEVAL_PACKAGE, PolicyEngine
from gateway.policy_revision import PolicyRevision
from gateway.retrieval.simplify import simplify
from gateway.retrieval.translator import FilterTranslator


@dataclass(frozen=True)
class CompiledFilter:
    """An Elasticsearch filter clause, with what it came from."""

    es_filter: Mapping[str, Any]
    ucast: Any
    revision: str
    cached: bool


class FilterCompiler:
    """Principal -> Elasticsearch filter, via OPA's data-filter compile and the translator."""

    def __init__(
        self,
        policy: PolicyEngine,
        revision: PolicyRevision,
        translator: FilterTranslator | None = None,
        max_entries: int = 4096,
        package: str = RETRIEVAL_PACKAGE,
        schema: GovernanceSchema = BUILTIN_SCHEMA,
    ) -> None:
        self.package = package
        self._policy = policy
        self._revision = revision
        self._translator = translator or FilterTranslator(schema.field_types())
        self._cache: LruCache[tuple[str, str], CompiledFilter] = LruCache(max_entries)

    async def filter_for(self, principal: Principal) -> CompiledFilter:
        key_revision = await self._revision.cache_key()
        revision = await self._revision.current()
        subject = principal.as_policy_input()
        key = (key_revision, json.dumps(subject, sort_keys=True, separators=(",", ":")))
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        compiled = await self.compile(principal, revision)
        self._cache.put(key, CompiledFilter(compiled.es_filter, compiled.ucast, revision, True))
        return compiled

    async def compile(self, principal: Principal, revision: str) -> CompiledFilter:
        """Compile without the cache (``gateway explain`` and cache misses)."""
        ucast = await self._policy.compile_filter(
            self.package, "allow", {"subject": principal.as_policy_input()}
        )
        es_filter = simplify(self._translator.translate(ucast))
        return CompiledFilter(es_filter, ucast, revision, cached=False)
