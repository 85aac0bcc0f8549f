"""PII in the caller's own messages: Presidio at request time, cached by content hash.

A chat resends its whole history every turn, so each message is analysed once and its
spans are reused from then on. Analysis is CPU-bound: it runs in a worker thread, one
batch at a time (spaCy pipelines are not shared across threads), concurrently with
retrieval, which waits on Elasticsearch and OPA.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from gateway.ingest.pii import PiiSpan, PresidioAnalyzer, SpanAnalyzer


@functools.cache
def shared_presidio() -> PresidioAnalyzer:
    """One offline Presidio engine per process; loading it takes seconds."""
    analyzer = PresidioAnalyzer()
    analyzer.load()
    return analyzer


class MessageAnalyzer:
    def __init__(self, analyzer: SpanAnalyzer, cache_size: int = 10_000) -> None:
        self._analyzer = analyzer
        self._cache: OrderedDict[str, list[PiiSpan]] = OrderedDict()
        self._cache_size = cache_size
        self._lock = asyncio.Lock()
        self.analysed_chars = 0

    async def spans_for(self, texts: Sequence[str]) -> list[list[PiiSpan]]:
        keys = [hashlib.sha256(text.encode()).hexdigest() for text in texts]
        missing = {
            key: text for key, text in zip(keys, texts, strict=True) if key not in self._cache
        }
        if missing:
            async with self._lock:
                todo = {k: t for k, t in missing.items() if k not in self._cache}
                if todo:
                    found = await asyncio.to_thread(self._analyzer.analyze, list(todo.values()))
                    self.analysed_chars += sum(len(t) for t in todo.values())
                    for key, spans in zip(todo, found, strict=True):
                        self._remember(key, spans)
        return [list(self._cache.get(key) or ()) for key in keys]

    def _remember(self, key: str, spans: list[PiiSpan]) -> None:
        self._cache[key] = spans
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)


def message_texts(messages: Sequence[dict[str, Any]]) -> list[tuple[int, int | None, str]]:
    """(message index, content-part index or None, text) for every text in the messages."""
    found: list[tuple[int, int | None, str]] = []
    for index, message in enumerate(messages):
        content = message.get("content")
        if isinstance(content, str) and content:
            found.append((index, None, content))
        elif isinstance(content, list):
            for part_index, part in enumerate(content):
                if isinstance(part, dict) and isinstance(part.get("text"), str) and part["text"]:
                    found.append((index, part_index, part["text"]))
    return found
