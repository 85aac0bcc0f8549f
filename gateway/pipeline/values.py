"""The typed values handed from stage to stage (all frozen: a stage returns a new value,
it never fills in one it was given)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from gateway.audit.records import ChunkEntry, FileInput, Redaction
from gateway.identity import Principal
from gateway.pipeline.stream_end import ChatStreamEnd, StreamEnd
from gateway.policy import Decision
from gateway.redaction.placeholders import Placeholders
from gateway.upstream import UpstreamResponse, UpstreamStream

Body = dict[str, Any]
Usage = dict[str, Any]


def no_summary(_body: bytes) -> tuple[Usage | None, str | None]:
    """For endpoints whose answers carry no usage or finish reason worth recording."""
    return None, None


@dataclass(frozen=True)
class Endpoint:
    """What differs between model endpoints; every other stage is shared.

    ``compose`` builds the upstream body from the caller's redacted body and the composed
    context message (None when nothing was retrieved): where the context goes is the
    endpoint's business (chat: a system message first; Responses: instructions).
    """

    action: str
    """The policy action (``gateway.authz``) and the audit record's ``endpoint``."""
    upstream_path: str
    """Relative to the upstream base URL, e.g. ``chat/completions``."""
    compose: Callable[[Body, dict[str, str] | None], Body]
    prompt_tokens: Callable[[Body], int]
    """Tokens the caller's (redacted) body already puts in the prompt: sizes the context."""
    summarize: Callable[[bytes], tuple[Usage | None, str | None]] = no_summary
    """``(usage, finish_reason)`` of a whole (non-streamed) answer, for the outcome record."""
    restore_body: Callable[[bytes, Placeholders], bytes] | None = None
    """Puts originals back into a whole answer; None: this endpoint never restores."""
    restore_stream: Callable[[AsyncIterator[bytes], Placeholders], AsyncIterator[bytes]] | None = (
        None
    )
    """The same for a server-sent-event stream."""
    stream_end: Callable[[], StreamEnd] = ChatStreamEnd
    """How a stream the gateway cannot complete ends (chat: OpenAI's error object)."""


@dataclass(frozen=True)
class Caller:
    """identify: who is calling, under which gateway request id."""

    principal: Principal
    request_id: str


@dataclass(frozen=True)
class ModelCall:
    """parse: one request for a model, as every shared stage needs it."""

    endpoint: Endpoint
    model: str
    body: Body
    """The caller's body as parsed (the gateway's own ``metadata.gateway_*`` included)."""
    stream: bool = False
    query: str | None = None
    """What to retrieve for (None: no retrieval for this request)."""
    corpora: tuple[str, ...] | None = None
    """Corpora the caller narrows retrieval to (None: all the policy allows)."""
    input_sha256: tuple[str, ...] | None = None
    """Embeddings: the SHA-256 of each input text as received, for the record."""
    files: tuple[FileInput, ...] = ()
    """Files the body names, resolved (``gateway.pipeline.files``); ``body`` then holds
    their upstream ids."""


@dataclass(frozen=True)
class FileDecision:
    """``gateway.file_inputs``: may these files be model input?"""

    allow: bool
    reasons: tuple[str, ...]
    decision_id: str | None


@dataclass(frozen=True)
class Authorized:
    """authorize: the call, allowed by policy (a denial is raised, never returned)."""

    caller: Caller
    call: ModelCall
    decision: Decision


@dataclass(frozen=True)
class Prepared:
    """retrieve/redact/compose: exactly what will be sent upstream, and what went into it."""

    authorized: Authorized
    upstream_body: bytes
    query: str | None
    chunks: tuple[ChunkEntry, ...]
    """Audit entries of the chunks that entered the prompt (ids, versions, hashes)."""
    redactions: tuple[Redaction, ...]
    """Redactions applied to the caller's body (site, type, operator, count)."""
    policy_revision: str | None
    restore: Placeholders | None
    """Placeholders to put back into the answer (None: policy or endpoint says no)."""


@dataclass(frozen=True)
class Audited:
    """audit: the request record is durable; only now may the prompt leave."""

    prepared: Prepared
    audit_id: str


@dataclass(frozen=True)
class Forwarded:
    """forward: the upstream accepted the call (an upstream error is raised)."""

    audited: Audited
    reply: UpstreamResponse | UpstreamStream
    started: float
    """``time.perf_counter()`` when the call was sent (outcome latency)."""


@dataclass(frozen=True)
class Answer:
    """complete: a whole answer, ready to render."""

    status_code: int
    media_type: str
    body: bytes
    headers: Mapping[str, str]


@dataclass(frozen=True)
class StreamAnswer:
    """complete: a streamed answer; ``chunks`` records the outcome when it ends, however
    it ends (close it when the response is over)."""

    status_code: int
    headers: Mapping[str, str]
    chunks: AsyncGenerator[bytes, None]
