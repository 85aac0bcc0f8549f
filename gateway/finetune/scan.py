"""The upload scan: parse -> fingerprint -> find overlapping chunks -> find PII.

The result holds line numbers, document ids, scores and PII types with counts: never
the examples' text, so it can go to the policy and the audit log as it is.
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from gateway.finetune.examples import Example, parse_examples
from gateway.finetune.matcher import CorpusMatcher, Overlap
from gateway.fingerprint import SCHEME, fingerprint_set
from gateway.pii.analyzer import PiiSpan

AnalyzeBatch = Callable[[list[str]], Awaitable[list[list[PiiSpan]]]]


@dataclass(slots=True)
class ScanResult:
    sha256: str
    bytes: int
    examples: int
    overlaps: list[Overlap]
    pii: dict[str, list[int]]
    """PII type -> line numbers of the examples holding it (one entry per finding)."""
    timings_ms: dict[str, float] = field(default_factory=dict)

    def policy_input(self) -> dict[str, Any]:
        """What the fine-tune policy sees: ids, scores, PII types and counts; no text."""
        return {
            "scanned": True,
            "fingerprint_scheme": SCHEME,
            "examples": self.examples,
            "matches": [
                {
                    "line": o.line,
                    "doc_id": o.doc_id,
                    "corpus": o.corpus,
                    "classification": o.classification,
                    "score": o.score,
                    "shared": o.shared,
                }
                for o in self.overlaps
            ],
            "pii": [
                {"type": kind, "count": len(lines), "lines": sorted(set(lines))}
                for kind, lines in sorted(self.pii.items())
            ],
        }


class UploadScanner:
    def __init__(
        self, matcher: CorpusMatcher, analyze: AnalyzeBatch | None, pii_min_score: float = 0.5
    ) -> None:
        self._matcher = matcher
        self._analyze = analyze
        self._pii_min_score = pii_min_score

    async def scan(self, content: bytes) -> ScanResult:
        """BadRequest for a malformed file; DependencyUnavailable if a search fails."""
        clock = time.perf_counter()
        examples = parse_examples(content)
        parsed = time.perf_counter()
        prints = [(example.line, _example_prints(example)) for example in examples]
        printed = time.perf_counter()
        overlaps = await self._matcher.overlaps(prints)
        searched = time.perf_counter()
        pii = await self._pii(examples)
        done = time.perf_counter()
        return ScanResult(
            sha256=hashlib.sha256(content).hexdigest(),
            bytes=len(content),
            examples=len(examples),
            overlaps=overlaps,
            pii=pii,
            timings_ms={
                "parse": _ms(parsed - clock),
                "fingerprint": _ms(printed - parsed),
                "search": _ms(searched - printed),
                "pii": _ms(done - searched),
            },
        )

    async def _pii(self, examples: list[Example]) -> dict[str, list[int]]:
        found: dict[str, list[int]] = defaultdict(list)
        if self._analyze is None:
            return found
        texts = [(example.line, text) for example in examples for text in example.texts if text]
        spans = await self._analyze([text for _, text in texts])
        for (line, _), text_spans in zip(texts, spans, strict=True):
            kinds = Counter(s["type"] for s in text_spans if s["score"] >= self._pii_min_score)
            for kind, count in kinds.items():
                found[kind].extend([line] * count)
        return dict(found)


@functools.lru_cache(maxsize=4096)
def _message_prints(text: str) -> frozenset[int]:
    """Cached: system prompts and stock questions repeat on every line of a file."""
    return frozenset(fingerprint_set(text))


def _example_prints(example: Example) -> list[int]:
    """The union of the example's messages' fingerprints (k-grams stay within a message)."""
    if len(example.texts) == 1:
        return list(_message_prints(example.texts[0]))
    return list(frozenset().union(*map(_message_prints, example.texts)))


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)
