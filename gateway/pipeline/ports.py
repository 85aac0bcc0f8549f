"""What the stages need from the running gateway, as narrow interfaces (fakes in tests).

The HTTP layer builds ``Ports`` from ``Services`` (``gateway.http.model_calls``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from gateway.context import ScopedContext
from gateway.finetune.registry import FileEntry
from gateway.identity import Principal
from gateway.metrics import GatewayMetrics, StageTimer
from gateway.pipeline.values import Caller, FileDecision
from gateway.policy import Decision, FinetuneDecision
from gateway.redaction.placeholders import Placeholders
from gateway.upstream import UpstreamResponse, UpstreamStream

if TYPE_CHECKING:
    from gateway.audit.prompts import PromptCipher


class Authorizer(Protocol):
    async def authorize(
        self, principal: Principal, action: str, model: str | None = None
    ) -> Decision: ...


class AuditSink(Protocol):
    async def append(self, kind: str, fields: dict[str, Any]) -> str: ...


class Upstream(Protocol):
    async def post_json(self, path: str, body: bytes) -> UpstreamResponse: ...

    async def stream_json(self, path: str, body: bytes) -> UpstreamStream: ...


class FileResolver(Protocol):
    """The caller's files and ``gateway.file_inputs`` (``gateway.pipeline.files.FileInputs``)."""

    async def file(self, owner: str, file_id: str) -> FileEntry | None: ...

    async def decide(
        self, principal: Principal, action: str, model: str, files: list[FileEntry]
    ) -> FileDecision: ...

    async def recheck(
        self, caller: Caller, endpoint: str, model: str, entry: FileEntry
    ) -> FinetuneDecision:
        """The file against the corpus as it is now (``gateway.finetune.recheck``)."""
        ...


class ContextBuilder(Protocol):
    """``gateway.context.build_context`` with the gateway's retriever and analyzer bound."""

    async def __call__(
        self,
        *,
        principal: Principal,
        body: dict[str, Any],
        query: str | None,
        decision: Decision,
        requested_corpora: Sequence[str] | None,
        placeholders: Placeholders,
        timer: StageTimer,
        prompt_tokens: Callable[[dict[str, Any]], int],
    ) -> ScopedContext: ...


@dataclass(frozen=True)
class Ports:
    decisions: Authorizer
    audit: AuditSink
    upstream: Upstream
    build_context: ContextBuilder
    metrics: GatewayMetrics
    redaction_hash_key: bytes
    prompt_cipher: PromptCipher | None
    admit: Callable[[Principal, dict[str, Any]], Awaitable[None]]
    """Per-caller limits: raises RateLimited (429) past one."""
    settle: Callable[[Principal, dict[str, Any] | None], None]
    """Corrects the caller's token budget by the usage the upstream reports."""
    background: Callable[[Coroutine[Any, Any, Any]], None]
    """Runs work that need not delay the answer (awaited at shutdown)."""
    files: FileResolver | None = None
    """Resolves file ids the body names; None: every file id is refused (404)."""
