"""Authorization and redaction decisions, cached per (exact input, policy revision).

OPA answers these two on every chat request, each a loopback HTTP round trip.
A decision is a pure function of its input, the policy modules and their data; the
revision (``gateway.policy_revision``) digests the modules and ``data.gateway.config``,
so a cached answer is the one OPA would give, until a policy edit moves the revision on
(within one poll interval; that module says why the key is an epoch). Policies that read
the clock, call ``http.send`` or use data pushed elsewhere are not pure in that sense:
set ``GATEWAY_DECISION_CACHE_SIZE=0`` for them.

A cached authorization keeps the decision id of the OPA evaluation it came from, marked
``cached`` so the audit record says so.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from gateway.hashing import canonical_json
from gateway.identity import Principal
from gateway.lru import LruCache
from gateway.policy import Decision, PolicyEngine
from gateway.policy_revision import PolicyRevision
from gateway.redaction.rules import RedactionRules


class CachedDecisions:
    """``authorize`` and ``redaction_rules`` as on PolicyEngine, answered from the cache."""

    def __init__(self, policy: PolicyEngine, revision: PolicyRevision, max_entries: int) -> None:
        self._policy = policy
        self._revision = revision
        self._cache: LruCache[tuple[str, ...], Any] = LruCache(max_entries)
        self.enabled = max_entries > 0

    @property
    def revision(self) -> PolicyRevision:
        """The policy revision the cache is keyed by (for audit records)."""
        return self._revision

    async def authorize(
        self, principal: Principal, action: str, model: str | None = None
    ) -> Decision:
        if not self.enabled:
            return await self._policy.authorize(principal, action, model)
        revision = await self._revision.cache_key()
        asked = {"subject": principal.as_policy_input(), "action": action, "model": model}
        key = ("authz", revision, canonical_json(asked))
        cached: Decision | None = self._cache.get(key)
        if cached is not None:
            return cached
        decision = await self._policy.authorize(principal, action, model)
        self._cache.put(key, dataclasses.replace(decision, cached=True))
        return decision

    async def redaction_rules(
        self, principal: Principal, contexts: list[dict[str, Any]]
    ) -> list[RedactionRules]:
        if not self.enabled:
            return await self._policy.redaction_rules(principal, contexts)
        revision = await self._revision.cache_key()
        subject = canonical_json(principal.as_policy_input())
        keys: list[tuple[str, ...]] = [
            ("redaction", revision, subject, canonical_json(c)) for c in contexts
        ]

        async def ask_opa(missing: list[dict[str, Any]]) -> list[RedactionRules]:
            return await self._policy.redaction_rules(principal, missing)

        rules: list[RedactionRules] = await self._cache.get_many(keys, contexts, ask_opa)
        return rules
