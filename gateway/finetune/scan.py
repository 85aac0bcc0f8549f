"""The upload scan: parse -> fingerprint -> find overlapping chunks -> find PII.

What is matched: each example (every string of its line, decoded layers included) and
overlapping segments of the file's text read in order, so that a passage cut into many
small examples is whole again in a segment and a short excerpt in a long example is a
large part of some segment. The result holds line numbers, document ids, scores and PII
types with counts: never the examples' text, so it can go to the policy and the audit
log as it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gateway.errors import BadRequest
from gateway.finetune.examples import Example, is_jsonl, parse_examples, parse_text
from gateway.finetune.matcher import CorpusMatcher, Overlap, Unit
from gateway.finetune.pii_plan import DEFAULT_PLAN, PiiPlan
from gateway.finetune.pii_scan import AnalyzePatterns, PiiFinding, PiiScan
from gateway.fingerprint import (
    CHAR_K,
    CHAR_WINDOW,
    SCHEME,
    char_hashes,
    fingerprint_texts,
    ranges,
    sorted_distinct,
)
from gateway.fingerprint import letters as letter_stream
from gateway.pii.analyzer import PiiSpan

AnalyzeBatch = Callable[[list[str]], Awaitable[list[list[PiiSpan]]]]
PlanFor = Callable[[str], Awaitable[PiiPlan]]

FINE_TUNE = "fine-tune"
JSONL_PURPOSES = frozenset({FINE_TUNE, "batch", "evals"})
SEGMENT = 1500
"""Characters (letters and digits) per segment; segments overlap by half."""


@dataclass(slots=True)
class ScanResult:
    sha256: str
    bytes: int
    examples: int
    overlaps: list[Overlap]
    pii: list[PiiFinding]
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Governance fields of each overlapped document (never sent to the policy as is)."""
    text: bool = True
    """False when the file is not UTF-8 text and could not be scanned."""
    timings_ms: dict[str, float] = field(default_factory=dict)

    def policy_input(self, visible: frozenset[str] = frozenset()) -> dict[str, Any]:
        """What the fine-tune policy sees: ids, scores, PII types and counts; no text.

        ``visible``: the documents the uploader may retrieve (refusals name only those).
        """
        return {
            "scanned": True,
            "text": self.text,
            "fingerprint_scheme": SCHEME,
            "examples": self.examples,
            "matches": [match_fact(o, o.doc_id in visible) for o in self.overlaps],
            "pii": [finding.fact() for finding in self.pii],
        }


def match_fact(overlap: Overlap, visible: bool) -> dict[str, Any]:
    return {
        "line": overlap.line,
        "lines": list(overlap.lines),
        "doc_id": overlap.doc_id,
        "corpus": overlap.corpus,
        "classification": overlap.classification,
        "score": overlap.score,
        "shared": overlap.shared,
        "shared_chars": overlap.shared_chars,
        "visible": visible,
    }


class UploadScanner:
    def __init__(
        self,
        matcher: CorpusMatcher,
        analyze: AnalyzeBatch | None,
        pii_min_score: float = 0.5,
        *,
        pii_ner: bool = False,
        pii_plan: PlanFor | None = None,
        analyze_patterns: AnalyzePatterns | None = None,
    ) -> None:
        """``pii_plan``: what the PII scan looks for, per purpose (the policy's
        ``pii_scan``); without it, every pattern type and no NER. ``pii_ner`` forces NER.
        ``analyze_patterns``: the pattern-only lane's analyzer (see ``PiiScan``)."""
        self._matcher = matcher
        self._pii = (
            PiiScan(analyze, pii_min_score, ner=pii_ner, analyze_patterns=analyze_patterns)
            if analyze
            else None
        )
        self._plan = pii_plan

    async def scan(self, content: bytes, purpose: str = FINE_TUNE) -> ScanResult:
        """BadRequest for a malformed file; DependencyUnavailable if a search fails."""
        clock = time.perf_counter()
        sha256 = hashlib.sha256(content).hexdigest()
        examples, units, parsed = await asyncio.to_thread(self._prepare, content, purpose)
        if examples is None:
            return ScanResult(sha256, len(content), 0, [], [], text=False)
        printed = time.perf_counter()
        # The corpus match and the PII scan run at once: the PII work is mostly in the
        # analysis workers' processes, the match in this one and Elasticsearch.
        ended: list[float] = []
        match = asyncio.ensure_future(self._matcher.overlaps(units))
        match.add_done_callback(lambda _: ended.append(time.perf_counter()))
        pii: list[PiiFinding] = []
        try:
            if self._pii and purpose == FINE_TUNE:
                plan = await self._plan(purpose) if self._plan else DEFAULT_PLAN
                pii = await self._pii.scan(examples, plan)
            pii_done = time.perf_counter()
            overlaps, documents = await match
        finally:
            # Cancelled when the PII scan failed; awaited either way, so that a failed
            # match's exception is never left unretrieved.
            if not match.done():
                match.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await match
        searched = ended[0]
        done = max(searched, pii_done)
        return ScanResult(
            sha256=sha256,
            bytes=len(content),
            examples=len(examples),
            overlaps=overlaps,
            pii=pii,
            documents=documents,
            timings_ms={
                "parse": _ms(parsed - clock),
                "fingerprint": _ms(printed - parsed),
                # From the end of fingerprinting: the two run at the same time.
                "search": _ms(searched - printed),
                "pii": _ms(pii_done - printed),
                "total": _ms(done - clock),
            },
        )

    async def recheck(self, content: bytes, purpose: str, since: str) -> ScanResult:
        """The corpus match alone, against chunks ingested after ``since``."""
        found, units, _ = await asyncio.to_thread(self._prepare, content, purpose)
        examples = found or []
        overlaps, documents = await self._matcher.overlaps(units, since=since)
        return ScanResult(
            hashlib.sha256(content).hexdigest(),
            len(content),
            len(examples),
            overlaps,
            [],
            documents,
        )

    def _prepare(
        self, content: bytes, purpose: str
    ) -> tuple[list[Example] | None, list[Unit], float]:
        """Parse and fingerprint (CPU-bound: run in a worker thread, off the event loop);
        also returns when parsing ended, for the timings."""
        examples = read_examples(content, purpose)
        parsed = time.perf_counter()
        if examples is None:
            return None, [], parsed
        return examples, units_of(examples), parsed


def units_of(examples: list[Example]) -> list[Unit]:
    """Each example and each segment of the file, fingerprinted.

    Every distinct text is fingerprinted once (system prompts and stock questions repeat
    on every line), all of them in one vectorised pass (``fingerprint_texts``).
    """
    distinct = list(dict.fromkeys(text for example in examples for text in example.texts))
    prints, streams = fingerprint_texts(distinct)
    where = {text: index for index, text in enumerate(distinct)}
    units = [
        Unit((example.line,), _merged([prints[where[text]] for text in example.texts]))
        for example in examples
    ]
    letters_of = dict(zip(distinct, streams, strict=True))
    return [*units, *segment_units(examples, letters_of)]


def _merged(prints: list[NDArray[np.int64]]) -> NDArray[np.int64]:
    if len(prints) == 1:
        return prints[0]
    if not prints:
        return np.empty(0, np.int64)
    return sorted_distinct(np.concatenate(prints))


def read_examples(content: bytes, purpose: str) -> list[Example] | None:
    """The file's examples (JSONL lines or text blocks); None when it is not UTF-8 text."""
    if purpose in JSONL_PURPOSES:
        return parse_examples(content, chat=purpose == FINE_TUNE)
    if is_jsonl(content):
        return parse_examples(content, chat=False)
    try:
        return parse_text(content)
    except BadRequest:  # not UTF-8 text: whether such a file may pass is the policy's call
        return None


def segment_units(examples: list[Example], letters_of: dict[str, str] | None = None) -> list[Unit]:
    """Overlapping segments of the file's letters and digits, read in order.

    Texts repeated across examples (system prompts, stock questions) are left out, so
    that the pieces of a passage cut into many examples join up; each example is still
    matched with them on its own. One pass of character shingles over the whole stream;
    a segment's fingerprints are the minima of the windows starting inside it, each
    attributed to the line where its own shingle starts.
    """
    repeated = Counter(text for example in examples for text in set(example.texts))
    streams = [
        letter_stream("\n".join(text for text in example.texts if repeated[text] == 1))
        if letters_of is None
        else "".join(letters_of[text] for text in example.texts if repeated[text] == 1)
        for example in examples
    ]
    starts = np.cumsum([0, *(len(s) for s in streams)])
    hashes = char_hashes("".join(streams), CHAR_K)
    if len(hashes) <= CHAR_WINDOW:
        return []
    # Each window's minimum and where it is (the first place): a fingerprint belongs to
    # the line its shingle starts in, not the line its window starts in, so that a window
    # reaching from a clean line into governed text does not name the clean line.
    count = len(hashes) - CHAR_WINDOW + 1
    minima = hashes[:count].copy()
    for j in range(1, CHAR_WINDOW):
        np.minimum(minima, hashes[j : j + count], out=minima)
    chosen = np.full(count, CHAR_WINDOW - 1, dtype=np.int64)
    for j in range(CHAR_WINDOW - 2, -1, -1):
        np.copyto(chosen, j, where=hashes[j : j + count] == minima)
    chosen += np.arange(count)
    minima |= np.int64(1)
    # Neighbouring windows mostly share their minimum: work on runs of windows with the
    # same chosen shingle (one value, one line) instead of on every window.
    run_start = np.flatnonzero(np.r_[True, chosen[1:] != chosen[:-1]])
    run_end = np.r_[run_start[1:], count]
    lines = np.array([example.line for example in examples], dtype=np.int64)
    run_line = lines[np.searchsorted(starts, chosen[run_start], side="right") - 1]
    run_value = minima[run_start]
    step, span = SEGMENT // 2, SEGMENT - CHAR_K - CHAR_WINDOW + 2
    segments = len(range(0, max(1, count - step), step))
    # Segment s holds the windows [s * step, s * step + span); each run is in a few.
    first = np.maximum(0, (run_start - span) // step + 1)
    last = np.minimum(segments - 1, (run_end - 1) // step)
    fan = np.maximum(last - first + 1, 0)
    run = np.repeat(np.arange(len(run_start)), fan)
    segment = np.repeat(first, fan) + ranges(fan)
    # Per segment, each value once, from its earliest run: one stable sort of a key that
    # orders by segment, then by value (its rank among the runs' values); ``run`` is
    # ascending already, so the sort keeps the earliest run first among equal keys.
    rank = _dense_rank(run_value)
    key = segment * (int(rank.max()) + 1) + rank[run]
    order = np.argsort(key, kind="stable")
    key, run, segment = key[order], run[order], segment[order]
    fresh = np.r_[True, key[1:] != key[:-1]]
    run, segment = run[fresh], segment[fresh]
    value = run_value[run]
    owner = run_line[run]
    bounds = np.searchsorted(segment, np.arange(segments + 1)).tolist()
    units: list[Unit] = []
    for begin, end in itertools.pairwise(bounds):
        owners = owner[begin:end]
        units.append(Unit(tuple(sorted_distinct(owners).tolist()), value[begin:end], owners))
    return units


def _dense_rank(values: NDArray[np.int64]) -> NDArray[np.int64]:
    """Each value's rank among the distinct values (equal values, equal ranks)."""
    order = np.argsort(values)
    ordered = values[order]
    rank = np.empty(len(values), dtype=np.int64)
    rank[order] = np.cumsum(np.r_[False, ordered[1:] != ordered[:-1]])
    return rank


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)
