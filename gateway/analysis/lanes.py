"""The pool's queues: jobs cut into segments, and the two lanes batches are taken from.

A job's texts are cut into bounded segments (``segments.py``); a lane hands out batches
of segments, a retried input alone, jobs taking turns segment by segment, all for the
engine of the first job in line and within that job's bounds.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from gateway.analysis.segments import MIN_SEGMENT_CHARS, Segment, merge, split
from gateway.errors import DependencyUnavailable
from gateway.pii.analyzer import PiiSpan


class AnalysisFailed(DependencyUnavailable):
    """PII analysis could not be done; the request must not go on unanalysed."""

    def __init__(self, message: str) -> None:
        super().__init__("PII analysis", message)


class Job:
    def __init__(
        self,
        texts: Sequence[str],
        engine: str,
        max_chars: int,
        max_texts: int,
        quiet_max_chars: int | None = None,
    ) -> None:
        """``quiet_max_chars``: the bound on a batch while no chat work comes (default
        ``max_chars``); texts are still cut into segments of ``max_chars``."""
        self.count = len(texts)
        self.engine = engine
        """Which analyzer the worker runs: ``lean``, ``full`` or a ``pattern_engine``."""
        self.max_chars = max_chars
        self.quiet_max_chars = max_chars if quiet_max_chars is None else quiet_max_chars
        self.max_texts = max_texts
        # Texts are cut at no less than ``split``'s minimum; a batch still holds at least
        # one segment, so ``max_chars`` bounds the batches of short texts only.
        self.segments = split(texts, max(max_chars, MIN_SEGMENT_CHARS))
        self.found: list[list[PiiSpan] | None] = [None] * len(self.segments)
        self.next = 0
        self.missing = len(self.segments)
        self.future: asyncio.Future[list[list[PiiSpan]]] = (
            asyncio.get_running_loop().create_future()
        )
        if not self.segments:
            self.future.set_result([[] for _ in range(self.count)])

    def answer(self, segment: int, spans: list[PiiSpan]) -> None:
        if self.future.done() or self.found[segment] is not None:
            return
        self.found[segment] = spans
        self.missing -= 1
        if self.missing == 0:
            found = [spans or [] for spans in self.found]
            self.future.set_result(merge(self.segments, found, self.count))

    def fail(self, message: str) -> None:
        if not self.future.done():
            self.future.set_exception(AnalysisFailed(message))


@dataclass(frozen=True)
class Item:
    job: Job
    segment: int

    @property
    def text(self) -> str:
        return self.job.segments[self.segment].text


@dataclass
class Lane:
    name: str
    jobs: deque[Job] = field(default_factory=deque)
    retries: deque[Item] = field(default_factory=deque)

    def take(self, quiet: bool = False) -> list[Item]:
        """The next batch: a retried input alone, else segments from jobs in turn, all
        for the engine of the first job in line and within that job's bounds (its quiet
        bound if ``quiet``: no chat work comes; jobs for another engine keep their
        place)."""
        while self.retries:
            item = self.retries.popleft()
            if not item.job.future.done():
                return [item]
        batch: list[Item] = []
        chars = 0
        first: Job | None = None
        passed: list[Job] = []
        limit = 0
        while self.jobs:
            job = self.jobs.popleft()
            if job.future.done() or job.next >= len(job.segments):
                continue
            if first is None:
                first = job
                limit = job.quiet_max_chars if quiet else job.max_chars
            elif job.engine != first.engine:
                passed.append(job)
                continue
            segment: Segment = job.segments[job.next]
            if batch and (len(batch) >= first.max_texts or chars + len(segment.text) > limit):
                self.jobs.appendleft(job)
                break
            batch.append(Item(job, job.next))
            chars += len(segment.text)
            job.next += 1
            if job.next < len(job.segments):
                self.jobs.append(job)
        self.jobs.extendleft(reversed(passed))
        return batch
