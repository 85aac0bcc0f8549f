"""Personal data in an upload, as facts for the policy: type, score, count and lines.

Whether a finding refuses the upload is the policy's call (``gateway.finetune``): by
default structured identifiers (e-mail, card, IBAN, phone...) above a per-type score
refuse, and NER-only findings (names, places) are reported without refusing, since
spaCy's NER reads "Python" or "Raises" as a person in technical text.

Presidio costs about 80 microseconds per character, so by default (``ner=False``) only
the surroundings of candidate identifiers are analysed: the tokens holding an ``@`` or
at least four digits, with ``CONTEXT`` characters either side (context words are within
a few tokens). NER-only types are then not reported at
all, because they were not looked for. ``ner=True`` analyses every string in full.
"""

from __future__ import annotations

import asyncio
import re
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from gateway.finetune.examples import Example
from gateway.pii.analyzer import PiiSpan

AnalyzeBatch = Callable[[list[str]], Awaitable[list[list[PiiSpan]]]]

NER_TYPES = frozenset({"PERSON", "LOCATION", "NRP", "ORGANIZATION", "DATE_TIME"})
CONTEXT = 40
MAX_LINES = 100
_CANDIDATE = re.compile(r"\S*@\S*|\S*(?:[0-9]\S*){4}")
"""A token with an ``@`` or at least four digits: every blocked structured identifier
(e-mail, card, phone, SSN, IBAN, IP address, licence and passport numbers) has one."""


@dataclass(frozen=True, slots=True)
class PiiFinding:
    type: str
    score: float
    """Findings are grouped by type and score (rounded to 0.05)."""
    count: int
    lines: tuple[int, ...]
    """The first ``MAX_LINES`` lines holding such a finding."""

    def fact(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "score": self.score,
            "count": self.count,
            "lines": list(self.lines),
            "ner": self.type in NER_TYPES,
        }


class PiiScan:
    def __init__(self, analyze: AnalyzeBatch, min_score: float, *, ner: bool) -> None:
        self._analyze = analyze
        self._min_score = min_score
        self._ner = ner

    async def scan(self, examples: list[Example]) -> list[PiiFinding]:
        pieces = await asyncio.to_thread(self._all_pieces, examples)
        distinct = sorted({piece for _, piece in pieces})
        if not distinct:
            return []
        spans = dict(zip(distinct, await self._analyze(distinct), strict=True))
        groups: defaultdict[tuple[str, float], list[int]] = defaultdict(list)
        for line, piece in pieces:
            for span in spans[piece]:
                if span["score"] < self._min_score:
                    continue
                if span["type"] in NER_TYPES and not self._ner:
                    continue
                groups[(span["type"], round(round(span["score"] * 20) / 20, 2))].append(line)
        return [
            PiiFinding(kind, score, len(lines), tuple(sorted(set(lines)))[:MAX_LINES])
            for (kind, score), lines in sorted(groups.items())
        ]

    def _all_pieces(self, examples: list[Example]) -> list[tuple[int, str]]:
        return [
            (example.line, piece)
            for example in examples
            for text in example.texts
            for piece in self._pieces(text)
        ]

    def _pieces(self, text: str) -> list[str]:
        if self._ner:
            return [text] if text.strip() else []
        windows: list[list[int]] = []
        for match in _CANDIDATE.finditer(text):
            start, end = max(0, match.start() - CONTEXT), match.end() + CONTEXT
            if windows and start <= windows[-1][1]:
                windows[-1][1] = end
            else:
                windows.append([start, end])
        return [text[start:end] for start, end in windows]
