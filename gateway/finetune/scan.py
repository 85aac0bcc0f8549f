"""The upload scan: parse -> fingerprint -> find overlapping chunks, and find PII.

What is matched: each example (every string of its line, decoded layers included) and
overlapping segments of the file's text read in order, so that a passage cut into many
small examples is whole again in a segment and a short excerpt in a long example is a
large part of some segment. The result holds line numbers, document ids, scores and PII
types with counts: never the examples' text, so it can go to the policy and the audit
log as it is.

A large JSONL upload is parsed and fingerprinted in pieces shared among helper processes
(``gateway.finetune.pieces``), with the same result; with a local copy of the corpus
(``CorpusMatcher.local_snapshot``), each piece's examples and each job's segments are
matched where they were made, so that the helpers match too. The fingerprinting and the match's
arithmetic are numpy (``gateway.finetune.units``, ``gateway.finetune.overlaps``),
imported on the first scan: the gateway starts without it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from gateway.finetune import file_text
from gateway.finetune.examples import (
    Example,
    is_jsonl,
    parse_examples,
    request_example,
    run_blocks,
    text_blocks,
)
from gateway.finetune.helpers import ScanHelpers
from gateway.finetune.matcher import CorpusMatcher, Overlap, Unit, local_documents
from gateway.finetune.pii_plan import DEFAULT_PLAN, PiiPlan
from gateway.finetune.pii_scan import AnalyzePatterns, PiiFinding, PiiScan
from gateway.fingerprint_scheme import SCHEME
from gateway.pii.analyzer import PiiSpan

if TYPE_CHECKING:
    from gateway.finetune.corpus_index import Snapshot

T = TypeVar("T")
AnalyzeBatch = Callable[[list[str]], Awaitable[list[list[PiiSpan]]]]
PlanFor = Callable[[str], Awaitable[PiiPlan]]

FINE_TUNE = "fine-tune"
PDF_SECONDS = 60.0
"""How long a PDF's text layer may take to read before the file counts as unreadable."""
JSONL_PURPOSES = frozenset({FINE_TUNE, "batch", "evals"})


@dataclass(slots=True)
class ScanResult:
    sha256: str
    bytes: int
    examples: int
    overlaps: list[Overlap]
    pii: list[PiiFinding]
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Governance fields of each overlapped document (never sent to the policy as is)."""
    format: str = "jsonl"
    """How the file was read (``FileRead.format``)."""
    media_type: str | None = None
    """What a binary file's first bytes announce (``file_text.media_type``)."""
    timings_ms: dict[str, float] = field(default_factory=dict)
    corpus_state: str | None = None
    """The corpus's state read before the match (``CorpusMatcher.state``): the match
    holds for it; None when unknown (or for a request's text)."""

    @property
    def text(self) -> bool:
        """False when the file is not text the gateway could read (only its readable
        runs were matched)."""
        return self.format != "binary"

    def policy_input(self, visible: frozenset[str] = frozenset()) -> dict[str, Any]:
        """What the fine-tune policy sees: ids, scores, PII types and counts; no text.

        ``visible``: the documents the uploader may retrieve (refusals name only those).
        """
        return {
            "scanned": True,
            "text": self.text,
            "format": self.format,
            "media_type": self.media_type,
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
        helper: ScanHelpers | None = None,
    ) -> None:
        """``pii_plan``: what the PII scan looks for, per purpose (the policy's
        ``pii_scan``); without it, every pattern type and no NER. ``pii_ner`` forces NER.
        ``analyze_patterns``: the pattern-only lane's analyzer (see ``PiiScan``).
        ``helper``: helper processes for large JSONL uploads (``gateway.finetune.pieces``);
        without, everything runs in this one."""
        self._matcher = matcher
        self._helper = helper
        self._pii = (
            PiiScan(analyze, pii_min_score, ner=pii_ner, analyze_patterns=analyze_patterns)
            if analyze
            else None
        )
        self._plan = pii_plan

    async def corpus_state(self) -> str | None:
        """The corpus's state now (``CorpusMatcher.state``)."""
        return await self._matcher.state()

    async def scan(self, content: bytes, purpose: str = FINE_TUNE) -> ScanResult:
        """BadRequest for a malformed file; DependencyUnavailable if a search fails."""
        clock = time.perf_counter()
        sha256 = hashlib.sha256(content).hexdigest()
        pieces = await self._in_pieces(content, purpose)
        state = await self._state_before_match(pieces)
        if pieces:
            read = FileRead(pieces[0], "jsonl")
        else:
            layer = await self._pdf_layer(content, purpose)
            read = await asyncio.to_thread(read_examples, content, purpose, layer)
        examples = read.examples
        parsed = time.perf_counter()
        # The PII scan starts as soon as the examples are parsed (in pieces: and
        # fingerprinted, so the ``fingerprint`` stage is ~0), and runs while they are
        # fingerprinted and matched: its work is mostly in the analysis workers'
        # processes, the match's in this one and Elasticsearch. The segments are
        # fingerprinted while the examples are matched (in the helper, or in a thread:
        # numpy lets go of the GIL for much of both).
        ended: dict[str, float] = {}
        pii_scan = asyncio.ensure_future(_timed(ended, "pii", self._find_pii(examples, purpose)))
        tasks: list[asyncio.Future[Any]] = [pii_scan]
        try:
            units = pieces[1] if pieces else await asyncio.to_thread(_example_units, examples)
            printed = time.perf_counter()
            if pieces is not None and pieces[2] is not None:
                matched = self._matched_in_pieces(examples, units, pieces[2])
            else:
                segments = asyncio.ensure_future(
                    self._segments(examples, units, in_helper=pieces is not None)
                )
                tasks.append(segments)
                matched = self._matcher.overlaps(units, more=segments)
            match = asyncio.ensure_future(_timed(ended, "search", matched))
            tasks.append(match)
            pii = await pii_scan
            overlaps, documents = await match
        finally:
            # Cancelled when a step failed; awaited either way, so that a failed task's
            # exception is never left unretrieved.
            for task in tasks:
                if not task.done():
                    task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        searched, pii_done = ended["search"], ended["pii"]
        done = max(searched, pii_done)
        return ScanResult(
            sha256=sha256,
            bytes=len(content),
            examples=len(examples),
            overlaps=overlaps,
            pii=pii,
            documents=documents,
            format=read.format,
            media_type=file_text.media_type(content) if not read.text else None,
            timings_ms={
                "parse": _ms(parsed - clock),
                "fingerprint": _ms(printed - parsed),
                # From the end of fingerprinting resp. parsing: both overlap it.
                "search": _ms(searched - printed),
                "pii": _ms(pii_done - parsed),
                "total": _ms(done - clock),
            },
            corpus_state=state,
        )

    async def _find_pii(self, examples: list[Example], purpose: str) -> list[PiiFinding]:
        if not self._pii or purpose != FINE_TUNE:
            return []
        plan = await self._plan(purpose) if self._plan else DEFAULT_PLAN
        return await self._pii.scan(examples, plan)

    async def match_request(self, body: dict[str, Any]) -> ScanResult:
        """A request body's own text matched against the corpus: what a job request
        sends the upstream besides its files (no segments: one example)."""
        example = await asyncio.to_thread(request_example, body)  # decoding: off the loop
        examples = [example] if example else []
        units = await asyncio.to_thread(_example_units, examples)
        overlaps, documents = await self._matcher.overlaps(units)
        return ScanResult("", 0, len(examples), overlaps, [], documents, format="json")

    async def recheck(self, content: bytes, purpose: str) -> ScanResult:
        """The corpus match alone, against the corpus as it is now (a stored file used)."""
        pieces = await self._in_pieces(content, purpose)
        state = await self._state_before_match(pieces)
        if pieces:
            read, units = FileRead(pieces[0], "jsonl"), pieces[1]
        else:
            read = await asyncio.to_thread(read_examples, content, purpose)
            units = await asyncio.to_thread(_example_units, read.examples)
        if pieces is not None and pieces[2] is not None:
            overlaps, documents = await self._matched_in_pieces(read.examples, units, pieces[2])
        else:
            segments = await self._segments(read.examples, units, in_helper=pieces is not None)
            overlaps, documents = await self._matcher.overlaps([*units, *segments])
        return ScanResult(
            hashlib.sha256(content).hexdigest(),
            len(content),
            len(read.examples),
            overlaps,
            [],
            documents,
            format=read.format,
            corpus_state=state,
        )

    async def _state_before_match(
        self, pieces: tuple[list[Example], ExampleUnits, Matched | None] | None
    ) -> str | None:
        """The corpus state the match holds for: the local copy's when the pieces were
        matched with it (exactly the state matched against), else read now, before the
        match (which then sees this state or a later one)."""
        if pieces is not None and pieces[2] is not None:
            return pieces[2].snapshot.state
        return await self.corpus_state()

    async def _pdf_layer(self, content: bytes, purpose: str) -> str | bool | None:
        """A PDF upload's text layer, read in the helper process within ``PDF_SECONDS``
        (pypdf is pure Python: a small hostile PDF can take minutes); None when it
        cannot be read in time (the file is then binary: the policy's call). True: not
        a PDF, or no helper (read in a thread)."""
        if self._helper is None or jsonl_chat(content, purpose) is not None:
            return True
        if not file_text.is_pdf(content):
            return True
        try:
            return await asyncio.wait_for(
                self._helper.run(file_text.pdf_text, content), PDF_SECONDS
            )
        except TimeoutError:
            return None

    async def _in_pieces(
        self, content: bytes, purpose: str
    ) -> tuple[list[Example], ExampleUnits, Matched | None] | None:
        """The examples and their units, parsed and fingerprinted in two processes, and
        matched there with the local copy of the corpus when there is one (then no
        units, their letters only: the segments are cut from them); None when this
        upload is not for that (no helper, a small or plain-text file)."""
        if self._helper is None:
            return None
        from gateway.finetune.pieces import SPLIT_MIN_BYTES, parse_in_pieces  # numpy

        chat = jsonl_chat(content, purpose)
        if chat is None or len(content) < SPLIT_MIN_BYTES:
            return None
        snapshot = await self._matcher.local_snapshot()
        examples, units, letters_of, found = await parse_in_pieces(
            content, chat, self._helper, corpus=snapshot
        )
        matched = Matched(snapshot, found) if snapshot is not None else None
        return examples, ExampleUnits(units, letters_of), matched

    async def _matched_in_pieces(
        self, examples: list[Example], units: ExampleUnits, matched: Matched
    ) -> tuple[list[Overlap], dict[str, dict[str, Any]]]:
        """The examples' overlaps found with the pieces, then the segments' (matched in
        their jobs): what ``CorpusMatcher.overlaps`` gives for all units against the
        same snapshot."""
        from gateway.finetune.pieces import segment_overlaps_in_helper

        assert self._helper is not None
        found = list(matched.examples)
        if examples:
            found += await segment_overlaps_in_helper(
                examples, units.letters_of, self._helper, matched.snapshot
            )
        return found, local_documents(found, matched.snapshot)

    async def _segments(
        self, examples: list[Example], units: ExampleUnits, *, in_helper: bool
    ) -> list[Unit]:
        """The segments; fingerprinted in the helper when the examples were (pieces)."""
        if in_helper and self._helper is not None and examples:
            from gateway.finetune.pieces import segments_in_helper

            return await segments_in_helper(examples, units.letters_of, self._helper)
        return await asyncio.to_thread(_segments, examples, units)


@dataclass(frozen=True, slots=True)
class Matched:
    """The examples' overlaps found as they were parsed, and the corpus they are with."""

    snapshot: Snapshot
    examples: list[Overlap]


class ExampleUnits(list[Unit]):
    """The examples' units, and each text's letters (what the segments are cut from)."""

    def __init__(self, units: list[Unit], letters_of: dict[str, str]) -> None:
        super().__init__(units)
        self.letters_of = letters_of


def _example_units(examples: list[Example]) -> ExampleUnits:
    from gateway.finetune.units import example_units  # numpy: loaded on the first scan

    return ExampleUnits(*example_units(examples))


def _segments(examples: list[Example], units: ExampleUnits) -> list[Unit]:
    from gateway.finetune.units import segment_units

    return segment_units(examples, units.letters_of) if examples else []


@dataclass(frozen=True, slots=True)
class FileRead:
    examples: list[Example]
    format: str
    """``jsonl``, ``text`` (UTF-8 or another text encoding), ``pdf`` (its text layer) or
    ``binary`` (its readable runs only: see ``gateway.finetune.file_text``)."""

    @property
    def text(self) -> bool:
        return self.format != "binary"


def read_examples(content: bytes, purpose: str, pdf_layer: str | bool | None = True) -> FileRead:
    """The file's examples: JSONL lines, or blocks of its text or readable runs.
    ``pdf_layer``: a PDF's text layer read already (None: unreadable), or True to read
    it here."""
    chat = jsonl_chat(content, purpose)
    if chat is not None:
        return FileRead(parse_examples(content, chat=chat), "jsonl")
    found = file_text.decoded(content, None if pdf_layer is True else (lambda _: pdf_layer or None))
    if found is not None:
        kind, text, exact = found
        blocks = text_blocks(text)
        if not exact:
            blocks += run_blocks(file_text.readable_runs(content))
        return FileRead(blocks, kind)
    # Whether a file the gateway cannot read may pass is the policy's call
    # (``binary_purposes``); what it can read of it is matched all the same.
    return FileRead(run_blocks(file_text.readable_runs(content)), "binary")


def check_format(content: bytes, purpose: str) -> None:
    """BadRequest naming the bad lines of a JSONL upload: what the uploader is told at
    once. Other files are read by the scan."""
    if jsonl_chat(content, purpose) is not None:
        read_examples(content, purpose)


def jsonl_chat(content: bytes, purpose: str) -> bool | None:
    """Whether the file is read as JSONL of chat examples (True), of any objects
    (False), or as plain text (None)."""
    if purpose in JSONL_PURPOSES:
        return purpose == FINE_TUNE
    return False if is_jsonl(content) else None


async def _timed(ended: dict[str, float], key: str, work: Awaitable[T]) -> T:
    """``work``'s result, its end time recorded in ``ended[key]`` before the task is done
    (a done-callback would run later: after a scan that awaited both tasks resumed, when
    they ended in the same turn of the event loop)."""
    try:
        return await work
    finally:
        ended[key] = time.perf_counter()


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)
