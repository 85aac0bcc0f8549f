"""Personal data in an upload, as facts for the policy: type, score, count and lines.

Whether a finding refuses the upload is the policy's call (``gateway.finetune``): by
default structured identifiers (e-mail, card, IBAN, phone...) above a per-type score
refuse, and NER-only findings (names, places) are reported without refusing, since
spaCy's NER reads "Python" or "Raises" as a person in technical text.

Which lane runs is the policy's call too (``gateway.finetune.pii_plan``). When no type it
blocks or reports needs NER, only the surroundings of candidate identifiers are
analysed, with pattern recognizers only (``gateway.finetune.pii_patterns``, no spaCy):
the tokens holding an ``@`` or at least four digits, with ``CONTEXT`` characters either
side (context words are within a few tokens); NER-only types are then not reported,
since they were not looked for. In the gateway those windows go to the analysis pool's
bulk lane (its pattern engine, in small batches behind chat); tools without a pool run
the lane in a thread. When the policy asks for an NER type (or the operator forces NER),
every string goes through the full pipeline on the bulk lane (about 80 microseconds
per character). Either way the work goes to the pool as a series of bounded jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from gateway.finetune.examples import Example
from gateway.finetune.pii_patterns import PatternAnalyzer
from gateway.finetune.pii_plan import DEFAULT_PLAN, PiiPlan
from gateway.finetune.pii_reserved import is_reserved, is_role
from gateway.pii.analyzer import PiiSpan
from gateway.pii.normalize import view_text

AnalyzeBatch = Callable[[list[str]], Awaitable[list[list[PiiSpan]]]]
AnalyzePatterns = Callable[
    [list[str], "tuple[str, ...] | None", float], Awaitable[list[list[PiiSpan]]]
]
"""The pattern-only lane for some entity types (None: all), wanting scores from a floor
up (spans below it may be left out): the analysis pool's."""

NER_TYPES = frozenset({"PERSON", "LOCATION", "NRP", "ORGANIZATION", "DATE_TIME"})
CONTEXT = 40
MAX_LINES = 100
PATTERN_BATCH_CHARS = 16_384
"""Characters of windows analysed per hop to a worker thread in the pattern lane; between
hops the lane rests as long as the hop took (chat keeps at least half the process)."""
NER_JOB_CHARS = 8_192
PATTERN_JOB_CHARS = 131_072
"""Characters per job handed to the analysis pool: each job must be answered within the
pool's request timeout, so a large upload goes as a series of jobs (about a second of a
worker's time each) rather than one."""
POOL_JOBS_AHEAD = 2
"""Pattern-lane jobs of one upload in the pool at once: the next waits in the bulk lane
while the last is analysed, so the workers do not idle while the gateway collects an
answer and submits again (one at a time, a worker was busy for ~40 % of a job's wall
time). Each job's timeout still covers about two jobs' work, far under the pool's."""
_CANDIDATE = re.compile(
    r"(?<!\S)(?=[^\s0-9@]*[0-9@])"
    r"(?=[^\s@]*@|[^\s0-9]*(?:[0-9](?:[^\s0-9]*[0-9]){3}"
    r"|[0-9]{1,4}(?: [0-9]{1,4}){2} [0-9]|[0-9]{2,4} [0-9]{2,4} [0-9]{3}))\S+"
)
"""A token (a run of non-spaces) with an ``@`` or at least four digits, or the first of
four digit groups split by single spaces (a phone written in pairs, "01 42 68 53 00",
"+33 1 42 68 53 00") or of three with three digits last ("612 345 678"), those groups
also after a key or field written tight ("Tel:+34 612 345 678", "Anna|612 345 678"):
every blocked structured identifier (e-mail, card, phone, SSN, IBAN, IP address,
licence and passport numbers) has one. Anchored at a token's start and tested by
lookaheads that cannot backtrack far, so each token is read about once: a token with
no digit and no ``@`` (most words) fails the first, and the digit alternatives share
their prefix. The unanchored ``\\S*@\\S*|\\S*(?:[0-9]\\S*){4}`` retried every
position of a long token without a match, a quarter of the gateway's CPU for a scan of
technical text."""


@dataclass(frozen=True, slots=True)
class PiiFinding:
    type: str
    score: float
    """Findings are grouped by type and score (rounded to 0.05)."""
    count: int
    lines: tuple[int, ...]
    """The first ``MAX_LINES`` lines holding such a finding."""
    reserved: bool = False
    """Whether the values are reserved ones (``gateway.finetune.pii_reserved``): findings
    of reserved and other values of a type are grouped apart."""
    role: bool = False
    """Whether the values are a role's or service's (``pii_reserved.is_role``: role
    mailboxes, toll-free numbers, public DNS resolvers), grouped apart likewise."""

    def fact(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "score": self.score,
            "count": self.count,
            "lines": list(self.lines),
            "ner": self.type in NER_TYPES,
            "reserved": self.reserved,
            "role": self.role,
        }


class PiiScan:
    def __init__(
        self,
        analyze: AnalyzeBatch,
        min_score: float,
        *,
        ner: bool,
        analyze_patterns: AnalyzePatterns | None = None,
    ) -> None:
        """``analyze_patterns``: the pattern lane in the analysis pool's workers (the
        gateway's); without it, the lane runs in this process (tools, benchmarks)."""
        self._analyze = analyze
        self._analyze_patterns = analyze_patterns
        self._min_score = min_score
        self._force_ner = ner
        self._pattern_lanes: dict[tuple[str, ...] | None, PatternAnalyzer] = {}

    async def scan(self, examples: list[Example], plan: PiiPlan = DEFAULT_PLAN) -> list[PiiFinding]:
        if not plan.scan:
            return []
        ner = plan.ner or self._force_ner
        pieces = await asyncio.to_thread(self._all_pieces, examples, ner)
        distinct = sorted({piece for _, piece in pieces})
        if not distinct:
            return []
        if ner:
            found = await _in_jobs(self._analyze, distinct, NER_JOB_CHARS)
        else:
            found = await self._patterns(distinct, plan)
        spans = dict(zip(distinct, found, strict=True))
        groups: defaultdict[tuple[str, float, bool, bool], list[int]] = defaultdict(list)
        # Whether a value is reserved or a role's, once per distinct value: a toll-free
        # number on every line of a support transcript is parsed once, not per line.
        standings: dict[tuple[str, str], tuple[bool, bool]] = {}
        for line, piece in pieces:
            for span in spans[piece]:
                if span["score"] < self._min_score:
                    continue
                if span["type"] in NER_TYPES and not ner:
                    continue
                score = round(round(span["score"] * 20) / 20, 2)
                typed = (span["type"], piece[span["start"] : span["end"]])
                standing = standings.get(typed)
                if standing is None:
                    standing = standings[typed] = (is_reserved(*typed), is_role(*typed))
                groups[(span["type"], score, *standing)].append(line)
        return [
            PiiFinding(kind, score, len(lines), tuple(sorted(set(lines)))[:MAX_LINES], *standing)
            for (kind, score, *standing), lines in sorted(groups.items())
        ]

    async def _patterns(self, texts: list[str], plan: PiiPlan) -> list[list[PiiSpan]]:
        """The pattern-only lane: in the pool's workers (bounded batches behind chat, in
        another process), else in bounded hops to a worker thread of this one."""
        if self._analyze_patterns is not None:
            pool_lane = self._analyze_patterns
            return await _in_jobs(
                lambda part: pool_lane(part, plan.types, self._min_score),
                texts,
                PATTERN_JOB_CHARS,
                POOL_JOBS_AHEAD,
            )
        lane = self._pattern_lanes.get(plan.types)
        if lane is None:
            lane = self._pattern_lanes[plan.types] = PatternAnalyzer(
                plan.types, floor=self._min_score
            )
        in_process = lane

        async def hop(part: list[str]) -> list[list[PiiSpan]]:
            began = time.perf_counter()
            found = await asyncio.to_thread(in_process.analyze, part)
            # This lane runs in the caller's own process: rest as long as the hop took,
            # so that a large upload takes at most about half of it.
            await asyncio.sleep(time.perf_counter() - began)
            return found

        return await _in_jobs(hop, texts, PATTERN_BATCH_CHARS)

    def _all_pieces(self, examples: list[Example], ner: bool) -> list[tuple[int, str]]:
        return [
            (example.line, piece)
            for example in examples
            for text in example.texts
            for piece in self._pieces(text, ner)
        ]

    def _pieces(self, text: str, ner: bool) -> list[str]:
        # The analysis view: fullwidth digits and at signs, zero-width characters or
        # combining marks inside a number would hide it from the candidates and patterns.
        text = view_text(text)
        if ner:
            return [text] if text.strip() else []
        windows: list[list[int]] = []
        for match in _CANDIDATE.finditer(text):
            start, end = max(0, match.start() - CONTEXT), match.end() + CONTEXT
            if windows and start <= windows[-1][1]:
                windows[-1][1] = end
            else:
                windows.append([start, end])
        return [text[start:end] for start, end in windows]


async def _in_jobs(
    analyze: AnalyzeBatch, texts: list[str], job_chars: int, ahead: int = 1
) -> list[list[PiiSpan]]:
    """``analyze`` over ``texts`` as consecutive jobs of about ``job_chars`` characters,
    up to ``ahead`` of them submitted at once (answers kept in order)."""
    found: list[list[PiiSpan]] = []
    running: deque[asyncio.Future[list[list[PiiSpan]]]] = deque()
    try:
        for start, end in _job_bounds(texts, job_chars):
            running.append(asyncio.ensure_future(analyze(texts[start:end])))
            if len(running) >= ahead:
                found.extend(await running.popleft())
        while running:
            found.extend(await running.popleft())
    finally:
        for job in running:  # a job failed: the others are not waited for
            job.cancel()
        for job in running:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await job
    return found


def _job_bounds(texts: list[str], job_chars: int) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of consecutive slices of ``texts`` of about ``job_chars``
    characters each (at least one text)."""
    start = 0
    while start < len(texts):
        end, size = start, 0
        while end < len(texts) and (end == start or size < job_chars):
            size += len(texts[end])
            end += 1
        yield start, end
        start = end
