"""Compiled authorization filters, cached per (subject, policy revision).

OPA's compile is off the hot path: a subject's filter is compiled once per policy
revision (``gateway.policy_revision``); a policy edit invalidates every cached filter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from gateway.errors import PolicyUntranslatable
from gateway.governance_schema import BUILTIN_SCHEMA, GovernanceSchema
from gateway.hashing import canonical_json
from gateway.identity import Principal
from gateway.lru import LruCache
from gateway.policy import RETRIEVAL_PACKAGE, PolicyEngine
from gateway.policy_revision import PolicyRevision
from gateway.retrieval.simplify import simplify
from gateway.retrieval.translator import FilterTranslator

log = structlog.get_logger("gateway.retrieval")


@dataclass(frozen=True)
class Refusal:
    """Why the policy cannot be compiled into an exact filter for one subject."""

    reason: str
    ucast: Any = None


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
        self._cache: LruCache[tuple[str, str], CompiledFilter | Refusal] = LruCache(max_entries)

    async def filter_for(self, principal: Principal) -> CompiledFilter:
        """The subject's filter; PolicyUntranslatable (generic message) if there is none.

        A refusal is cached like a filter (per subject and revision) and logged with its
        reason on every refused request, for the operator.
        """
        key_revision = await self._revision.cache_key()
        revision = await self._revision.current()
        subject = principal.as_policy_input()
        key = (key_revision, canonical_json(subject))
        hit = self._cache.get(key)
        if isinstance(hit, CompiledFilter):
            return hit
        if hit is None:
            outcome = await self.compile_or_refusal(principal, revision)
            self._cache.put(
                key,
                CompiledFilter(outcome.es_filter, outcome.ucast, revision, True)
                if isinstance(outcome, CompiledFilter)
                else outcome,
            )
            if isinstance(outcome, CompiledFilter):
                return outcome
            hit = outcome
        log.error(
            "policy_untranslatable",
            subject=principal.subject,
            revision=revision,
            package=self.package,
            reason=hit.reason,
        )
        raise PolicyUntranslatable(_caller_message(), detail=hit.reason)

    async def compile(self, principal: Principal, revision: str) -> CompiledFilter:
        """Compile without the cache, for operator tools (policy previews, benchmarks).

        A refusal raises PolicyUntranslatable whose message *is* the reason (policy file,
        line, construct): never call this on a caller's request; ``filter_for`` is that.
        """
        outcome = await self.compile_or_refusal(principal, revision)
        if isinstance(outcome, Refusal):
            raise PolicyUntranslatable(outcome.reason)
        return outcome

    async def compile_or_refusal(
        self, principal: Principal, revision: str
    ) -> CompiledFilter | Refusal:
        """The filter, or why OPA or the translator cannot express the policy exactly."""
        ucast: Any = None
        try:
            ucast = await self._policy.compile_filter(
                self.package, "allow", {"subject": principal.as_policy_input()}
            )
            es_filter = simplify(self._translator.translate(ucast))
        except PolicyUntranslatable as exc:
            return Refusal(exc.detail, ucast)
        return CompiledFilter(es_filter, ucast, revision, cached=False)


def _caller_message() -> str:
    """What the caller learns: no policy internals, the request id to quote."""
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    quote = f" (request id {request_id})" if request_id else ""
    return (
        "The retrieval policy cannot be enforced exactly for this request, so it was "
        f"refused; nothing was retrieved or sent. The operator can see why{quote}."
    )
