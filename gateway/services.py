"""The clients a running gateway holds, opened together and closed together."""

from __future__ import annotations

import asyncio
import functools
import secrets
import subprocess
from collections.abc import AsyncIterator, Coroutine, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog

from gateway.analysis import AnalysisPool
from gateway.analysis.startup import analysis_enabled, pool_config
from gateway.audit import AuditLog
from gateway.audit.prompts import PromptCipher
from gateway.audit.shipper import AuditShipper
from gateway.context import ContextStages
from gateway.decision_cache import CachedDecisions
from gateway.elastic import ChunkIndex
from gateway.errors import DependencyUnavailable
from gateway.finetune import FinetuneService, Registry, UploadScanner
from gateway.finetune.helpers import ScanHelpers
from gateway.finetune.matcher import CorpusMatcher
from gateway.finetune.pii_plan import policy_plan
from gateway.finetune.upstream import FinetuneUpstream
from gateway.identity import ApiKeyStore, Authenticator
from gateway.limit_sync import LimitSync
from gateway.limits import CallerLimiter, PolicyLimits
from gateway.message_pii import MessageAnalyzer
from gateway.metrics import GatewayMetrics
from gateway.policy import PolicyEngine
from gateway.policy_revision import PolicyRevision
from gateway.responses.owners import ResponseOwners
from gateway.retrieval.filters import FilterCompiler
from gateway.retrieval.retriever import Retriever
from gateway.settings import Settings
from gateway.tokens import encoding
from gateway.upstream import UpstreamClient

if TYPE_CHECKING:
    from gateway.jwt_auth import JwtVerifier

log = structlog.get_logger("gateway.services")


@dataclass
class Services:
    settings: Settings
    keys: Authenticator
    policy: PolicyEngine
    decisions: CachedDecisions
    index: ChunkIndex
    audit: AuditLog
    upstream: UpstreamClient
    retriever: Retriever
    redaction_hash_key: bytes
    metrics: GatewayMetrics
    message_analyzer: MessageAnalyzer | None
    analysis: AnalysisPool | None
    """Presidio workers: ``analyze`` (bulk lane) and ``analyze_messages`` (chat lane)."""
    prompt_cipher: PromptCipher | None
    finetune: FinetuneService
    limits: PolicyLimits
    response_owners: ResponseOwners
    """Who owns each response id relayed by POST /v1/responses."""
    limiter: CallerLimiter = field(default_factory=CallerLimiter)
    limit_sync: LimitSync | None = None
    """Shares the limiter's per-minute counts with the other workers and replicas."""
    _background: set[asyncio.Task[Any]] = field(default_factory=set)

    def context_stages(self) -> ContextStages:
        return ContextStages(
            retriever=self.retriever,
            decisions=self.decisions,
            analyzer=self.message_analyzer,
            k=self.settings.retrieval_top_k,
            budget_tokens=self.settings.context_budget_tokens,
        )

    def run_in_background(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Keep a reference so the task is not garbage-collected; awaited at shutdown."""
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def drain(self) -> None:
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)


@asynccontextmanager
async def open_services(
    settings: Settings, spawned: Sequence[subprocess.Popen[bytes]] = ()
) -> AsyncIterator[Services]:
    """Open every client; ``spawned``: PII workers started early (``spawn_early``),
    which the pool adopts instead of starting its first workers itself."""
    async with AsyncExitStack() as stack:
        # First, so the workers load their models while everything else starts; the
        # lifespan does not wait for them (/readyz does).
        presidio = (
            await stack.enter_async_context(AnalysisPool(pool_config(settings), spawned))
            if analysis_enabled(settings)
            else None
        )
        api_key = settings.upstream_api_key
        policy = await stack.enter_async_context(
            PolicyEngine(str(settings.opa_url), settings.opa_timeout_s)
        )
        revision = await stack.enter_async_context(
            PolicyRevision(policy, settings.policy_poll_interval_s)
        )
        index = await stack.enter_async_context(ChunkIndex.from_settings(settings))
        filters = FilterCompiler(
            policy, revision, max_entries=settings.filter_cache_size, schema=index.schema
        )
        audit = await stack.enter_async_context(AuditLog.from_settings(settings))
        if settings.audit_index_shipping:
            # Entered after the log, so it stops first; it never ships bytes not yet durable.
            await stack.enter_async_context(AuditShipper.from_settings(settings, log=audit))
        upstream = await stack.enter_async_context(
            UpstreamClient(
                str(settings.upstream_base_url),
                api_key.get_secret_value() if api_key else None,
                timeout_s=settings.upstream_timeout_s,
                connect_timeout_s=settings.upstream_connect_timeout_s,
            )
        )
        # Entered before the service, so it stops after the scans were interrupted.
        scan_helper = await stack.enter_async_context(ScanHelpers(settings.finetune_scan_helpers))
        finetune = await stack.enter_async_context(
            FinetuneService(
                scanner=UploadScanner(
                    CorpusMatcher(
                        index.client,
                        index.name,
                        settings.finetune_search_batch,
                        local_max_prints=settings.finetune_local_index_max_prints,
                    ),
                    presidio.analyze if presidio and settings.finetune_pii_scan else None,
                    settings.finetune_pii_min_score,
                    pii_ner=settings.finetune_pii_ner,
                    pii_plan=functools.partial(policy_plan, policy),
                    analyze_patterns=presidio.analyze_patterns if presidio else None,
                    helper=scan_helper,
                ),
                registry=Registry(index.client, settings.index_prefix),
                upstream=FinetuneUpstream(upstream),
                policy=policy,
                audit=audit,
                max_upload_bytes=settings.finetune_max_upload_bytes,
                scan_lease_s=settings.finetune_scan_lease_s,
                scan_concurrency=settings.finetune_scan_concurrency,
            )
        )
        limiter = CallerLimiter(stale_after_s=max(2.0, 8 * settings.rate_limit_sync_interval_s))
        limit_sync = (
            await stack.enter_async_context(
                LimitSync(
                    limiter,
                    index.client,
                    settings.index_prefix,
                    interval_s=settings.rate_limit_sync_interval_s,
                )
            )
            if settings.rate_limits
            else None
        )
        services = Services(
            settings=settings,
            keys=Authenticator(
                ApiKeyStore.from_file(settings.api_keys_file), _jwt_verifier(settings)
            ),
            policy=policy,
            decisions=CachedDecisions(policy, revision, settings.decision_cache_size),
            index=index,
            audit=audit,
            upstream=upstream,
            retriever=Retriever(index, policy, filters),
            redaction_hash_key=(
                settings.redaction_hash_key.get_secret_value().encode()
                if settings.redaction_hash_key
                else secrets.token_bytes(32)
            ),
            metrics=GatewayMetrics(),
            prompt_cipher=_prompt_cipher(settings),
            message_analyzer=(
                MessageAnalyzer(
                    presidio.analyze_messages,
                    settings.message_pii_cache_size,
                    max_message_chars=settings.message_pii_max_message_chars,
                    max_request_chars=settings.message_pii_max_request_chars,
                )
                if settings.message_pii_analysis and presidio is not None
                else None
            ),
            finetune=finetune,
            analysis=presidio,
            limits=PolicyLimits(policy, revision, settings.decision_cache_size),
            response_owners=await stack.enter_async_context(
                ResponseOwners(index.client, settings.index_prefix)
            ),
            limiter=limiter,
            limit_sync=limit_sync,
        )
        try:
            await index.ensure_index()
        except DependencyUnavailable:
            # Not fatal: /readyz reports Elasticsearch and chat requests fail closed.
            log.warning("chunk_index_unavailable_at_startup", index=index.name)
        # Token counting's tables take ~0.6 CPU-s to build: never on the event loop,
        # where the first request would otherwise load them and stall every other one.
        await asyncio.to_thread(encoding)
        try:
            yield services
        finally:
            await services.drain()


# JWT verification imports PyJWT and cryptography's X.509 (~0.04 CPU-s and ~2 MB of
# every start-up): only with a JWKS file configured.
def _jwt_verifier(settings: Settings) -> JwtVerifier | None:
    if settings.jwt_jwks_file is None:
        return None
    from gateway.jwt_auth import verifier_from_settings

    return verifier_from_settings(settings)


def _prompt_cipher(settings: Settings) -> PromptCipher | None:
    if not (settings.audit_store_prompts and settings.audit_encryption_key):
        return None
    return PromptCipher(settings.audit_encryption_key.get_secret_value())
