"""PII in the caller's own messages: Presidio at request time, cached by content hash.

A chat resends its whole history every turn, so each message is analysed once and its
spans are reused from then on. Analysis is CPU-bound Python, so it runs in the worker
processes of ``gateway.analysis`` (chat lane), concurrently with retrieval.

What one request may cost is bounded: a message text longer than
``message_pii_max_message_chars``, or texts adding up to more than
``message_pii_max_request_chars``, are refused with 413 before any analysis, never
forwarded unanalysed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from gateway.errors import PayloadTooLarge
from gateway.hashing import sha256_hex
from gateway.lru import LruCache
from gateway.pii.analyzer import PiiSpan

AnalyzeBatch = Callable[[list[str]], Awaitable[list[list[PiiSpan]]]]

DEFAULT_MAX_MESSAGE_CHARS = 100_000
DEFAULT_MAX_REQUEST_CHARS = 200_000


class MessageAnalyzer:
    def __init__(
        self,
        analyze: AnalyzeBatch,
        cache_size: int = 10_000,
        *,
        max_message_chars: int = DEFAULT_MAX_MESSAGE_CHARS,
        max_request_chars: int = DEFAULT_MAX_REQUEST_CHARS,
    ) -> None:
        self._analyze = analyze
        self._cache: LruCache[str, list[PiiSpan]] = LruCache(cache_size)
        self._max_message_chars = max_message_chars
        self._max_request_chars = max_request_chars
        self.analysed_chars = 0

    def check_limits(self, texts: Sequence[str]) -> None:
        """413 naming the limit when a text or the request is too large to analyse."""
        longest = max((len(t) for t in texts), default=0)
        if longest > self._max_message_chars:
            raise PayloadTooLarge(
                f"A message text has {longest} characters; at most "
                f"{self._max_message_chars} characters per message are analysed for "
                "personal data (GATEWAY_MESSAGE_PII_MAX_MESSAGE_CHARS).",
                param="messages",
                code="message_too_long",
            )
        total = sum(len(t) for t in texts)
        if total > self._max_request_chars:
            raise PayloadTooLarge(
                f"The messages hold {total} characters of text; at most "
                f"{self._max_request_chars} characters per request are analysed for "
                "personal data (GATEWAY_MESSAGE_PII_MAX_REQUEST_CHARS).",
                param="messages",
                code="messages_too_long",
            )

    async def spans_for(self, texts: Sequence[str]) -> list[list[PiiSpan]]:
        """Spans for every text, each text analysed once while it stays cached."""
        self.check_limits(texts)
        keys = [sha256_hex(text) for text in texts]
        found = await self._cache.get_many(keys, list(texts), self._analyze_new)
        return [list(spans) for spans in found]

    async def _analyze_new(self, texts: list[str]) -> list[list[PiiSpan]]:
        self.analysed_chars += sum(len(t) for t in texts)
        return await self._analyze(texts)
