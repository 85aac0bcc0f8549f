"""A large JSONL upload parsed and fingerprinted in pieces, by helper processes.

The file is cut into pieces of about ``PIECE_BYTES`` at line ends (smaller ones at its
end, so that all finish close together: ``cut_points``); the helpers
(``gateway.finetune.helpers``) and, with a single helper, this process (a thread) each
take the next piece not yet taken until none is left, each parsing it and fingerprinting
its examples. So none waits for another: the helpers run ``nice``-d, and on a busy host
one may get much less done than another (it then takes fewer pieces). The segments'
arithmetic is then shared the same way, in jobs of a stretch of the stream each
(``segment_jobs``). Given the local copy of the corpus (sent to each
helper once: ``hold_corpus``), each piece's examples and each job's segments are matched
where they are made; without it this process matches the examples meanwhile. The result
is the one-process result exactly: lines are split at ``\\n`` either way, each example's
fingerprints depend on its texts alone, and the bad lines of the pieces, in order, are
those of the whole file. What crosses between the processes is the helper's pieces'
bytes and examples, flat numpy arrays and stretches of the texts' letter streams.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from gateway.finetune.corpus_index import Snapshot
from gateway.finetune.examples import Example, checked, not_utf8, parse_lines
from gateway.finetune.helper import ScanHelper, request
from gateway.finetune.helpers import ScanHelpers
from gateway.finetune.matcher import Overlap, Unit
from gateway.finetune.overlaps import all_overlaps
from gateway.finetune.units import (
    TAIL_FROM,
    TAIL_PARTS,
    TAIL_SPLIT,
    SegmentArrays,
    SegmentJob,
    example_units,
    segment_arrays,
    segment_jobs,
    segment_passes,
    segments_of,
)

R = TypeVar("R")
_Job = tuple[Callable[..., R], tuple[Any, ...]]
"""A job for a helper: an importable function and its (picklable) arguments."""
SPLIT_MIN_BYTES = 1 << 20
"""Smaller uploads are scanned in this process alone: the helper's start and the
transfers would cost more than half of their work."""
PIECE_BYTES = 1 << 19
"""About this many bytes per piece (a quarter of that at the end of a large file:
``TAIL_SPLIT``): large enough that a piece's fixed costs (a round trip to the helper,
numpy's per-call overhead) stay a few percent."""


@dataclass(frozen=True, slots=True)
class Piece:
    """One piece's examples, fingerprinted (what the helper sends back)."""

    utf8: bool
    examples: list[Example] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    prints: NDArray[np.int64] = field(default_factory=lambda: np.empty(0, np.int64))
    """Every example's fingerprints, concatenated in example order."""
    sizes: list[int] = field(default_factory=list)
    """How many fingerprints each example has."""
    letters_of: dict[str, str] = field(default_factory=dict)
    """Each distinct text's letters (``example_units``)."""
    overlaps: list[Overlap] = field(default_factory=list)
    """The examples' overlaps, when the piece was matched too (``parse_piece``)."""
    matched: bool = False
    """Whether it was matched: then without ``prints`` and ``sizes`` (nothing reads the
    examples' fingerprints once their overlaps are found; they were ~half a reply)."""


Corpus = Snapshot | str | None
"""What a job matches against: a snapshot; in the helper, the token of the one it holds
(``hold_corpus``: sent once, not with every job); None: no match, fingerprints only."""
_HELD: dict[str, Snapshot] = {}
"""In the helper: the last snapshot sent, by its token."""


def hold_corpus(snapshot: Snapshot) -> None:
    """Keep ``snapshot`` for the jobs that name it (in the helper; the last one only)."""
    _HELD.clear()
    _HELD[snapshot.token] = snapshot


def holds_corpus(token: str) -> bool:
    return token in _HELD


def _snapshot(corpus: Snapshot | str) -> Snapshot:
    """A token unknown here (a helper restarted since it was sent) fails the job."""
    return _HELD[corpus] if isinstance(corpus, str) else corpus


class _Sharing:
    """Sends ``corpus`` to each of ``helpers`` that lacks it, pickled once for all (at
    the local copy's largest, ~150 MB of pickle: each more pickling of it was a CPU-s
    and as much memory again in this process), kept until each has it."""

    def __init__(self, corpus: Snapshot, helpers: int) -> None:
        self._corpus = corpus
        self._left = helpers
        self._job: asyncio.Future[bytes] | None = None

    async def to(self, helper: ScanHelper) -> str:
        """What ``helper``'s jobs name for the corpus: its token, sent first if need be."""
        if not await helper.run(holds_corpus, self._corpus.token):
            if self._job is None:
                self._job = asyncio.ensure_future(
                    asyncio.to_thread(request, hold_corpus, self._corpus)
                )
            await (await helper.submit_request(await asyncio.shield(self._job)))
        self._left -= 1
        if self._left <= 0:
            self._job = None
        return self._corpus.token


def cut_points(content: bytes, size: int = PIECE_BYTES) -> list[int]:
    """Where each piece starts, and the file's end: after the first newline from every
    ``size`` bytes on (one piece: the file is one line, or smaller than ``size``); in a
    file of more than ``TAIL_FROM`` pieces, from every ``size // TAIL_SPLIT`` bytes on
    in its last ``TAIL_PARTS`` pieces' worth (``tail_start``)."""
    points = [0]
    tail = tail_start(len(content), size)
    while True:
        step = size if points[-1] < tail else size // TAIL_SPLIT
        cut = content.find(b"\n", points[-1] + max(1, step) - 1)
        if cut < 0 or cut + 1 >= len(content):
            return [*points, len(content)]
        points.append(cut + 1)


def tail_start(length: int, size: int) -> int:
    """Where the small pieces of a file of ``length`` bytes start (``cut_points``)."""
    return length - TAIL_PARTS * size if length > TAIL_FROM * size else length


def parse_piece(part: bytes | memoryview, first: int, chat: bool, corpus: Corpus = None) -> Piece:
    """The examples of ``part`` (lines ``first``...), their fingerprints and, given a
    ``corpus``, their overlaps with it (each example is matched on its own, so the
    pieces' overlaps in order are the whole file's); none when it has bad lines (the
    file is refused) or is not UTF-8."""
    try:
        # A byte-order mark may start the file (``parse_examples`` allows one).
        decoded = str(part, "utf-8-sig" if first == 1 else "utf-8")
    except UnicodeDecodeError:
        return Piece(utf8=False)
    examples, problems = parse_lines(decoded, chat=chat, first=first)
    if problems or not examples:
        return Piece(True, examples, problems)
    units, letters_of = example_units(examples)
    if corpus is not None:
        found = _matched(units, corpus)
        return Piece(True, examples, letters_of=letters_of, overlaps=found, matched=True)
    sizes = [len(unit.prints) for unit in units]
    return Piece(True, examples, [], np.concatenate([u.prints for u in units]), sizes, letters_of)


def _matched(units: list[Unit], corpus: Snapshot | str) -> list[Overlap]:
    snapshot = _snapshot(corpus)
    return all_overlaps(units, snapshot.holders, snapshot.table)


async def parse_in_pieces(
    content: bytes,
    chat: bool,
    helper: ScanHelpers,
    size: int | None = None,
    corpus: Snapshot | None = None,
) -> tuple[list[Example], list[Unit], dict[str, str], list[Overlap]]:
    """``parse_examples`` then ``example_units``, ``content``'s pieces (of ``size``,
    default ``PIECE_BYTES``) shared between the helpers and this process's thread
    (``ScanHelpers``), each taking the next one when done with its last; given a ``corpus``,
    the examples' overlaps with it instead of their units (none without)."""
    points = cut_points(content, size or PIECE_BYTES)
    firsts = [1]
    for begin, end in itertools.pairwise(points[:-1]):
        firsts.append(firsts[-1] + content.count(b"\n", begin, end))
    parts: list[Piece | None] = [None] * len(firsts)
    pending = iter(range(len(firsts)))  # shared: whichever side is free takes the next

    def here(n: int) -> Piece:
        piece = memoryview(content)[points[n] : points[n + 1]]
        return parse_piece(piece, firsts[n], chat, corpus)

    sharing = _Sharing(corpus, len(helper.helpers)) if corpus is not None else None

    def there(one: ScanHelper) -> Callable[[int], Awaitable[_Job[Piece]]]:
        shared: list[Corpus] = []

        async def job(n: int) -> _Job[Piece]:
            if sharing is not None and not shared:
                # With the helper's first piece (the others parse meanwhile).
                shared.append(await sharing.to(one))
            piece = content[points[n] : points[n + 1]]
            return parse_piece, (piece, firsts[n], chat, shared[0] if shared else None)

        return job

    await _queue(helper, pending, here, there, parts)
    done = [part for part in parts if part is not None]
    assert len(done) == len(parts)
    # In a thread: for a large file the merge (a unit per example) takes seconds, and on
    # the event loop it would stall chat and the scan's own policy calls (OPA timeouts).
    return await asyncio.to_thread(merged, done, chat=chat)


def merged(
    parts: Sequence[Piece], *, chat: bool
) -> tuple[list[Example], list[Unit], dict[str, str], list[Overlap]]:
    """The whole file's examples, units, letters and overlaps from its pieces' (in
    order); the file's BadRequest when any piece is not UTF-8 or has bad lines. No units
    of matched pieces (``Piece.matched``): their overlaps are found."""
    if not all(part.utf8 for part in parts):
        raise not_utf8()
    examples = checked(
        [e for part in parts for e in part.examples],
        [p for part in parts for p in part.problems],
        chat=chat,
    )
    units = [unit for part in parts for unit in _units(part)]
    letters_of: dict[str, str] = {}
    for part in parts:
        letters_of.update(part.letters_of)
    return examples, units, letters_of, [found for part in parts for found in part.overlaps]


def _units(piece: Piece) -> list[Unit]:
    if piece.matched:
        return []
    bounds = np.cumsum([0, *piece.sizes]).tolist()
    return [
        Unit((example.line,), piece.prints[bounds[n] : bounds[n + 1]])
        for n, example in enumerate(piece.examples)
    ]


async def segments_in_helper(
    examples: list[Example], letters_of: dict[str, str], helper: ScanHelpers
) -> list[Unit]:
    """``segment_units``, its arithmetic in jobs (``segment_jobs``) shared between the
    helper and a thread of this process as the pieces are; the streams are built and
    the units made in threads, off the event loop, as ``parse_in_pieces`` merges."""
    arrays = await _shared_jobs(examples, letters_of, helper, segment_arrays, segment_arrays)
    return await asyncio.to_thread(_segments_of_passes, arrays)


async def segment_overlaps_in_helper(
    examples: list[Example], letters_of: dict[str, str], helper: ScanHelpers, corpus: Snapshot
) -> list[Overlap]:
    """The segments' overlaps with ``corpus`` (``segments_in_helper``, each job's
    segments matched where they are made: each segment is matched on its own)."""
    helpers = helper.helpers
    sharing = _Sharing(corpus, len(helpers))
    shared = (await asyncio.gather(*(sharing.to(one) for one in helpers)))[0]
    found = await _shared_jobs(
        examples,
        letters_of,
        helper,
        functools.partial(matched_segments, corpus=corpus),
        functools.partial(matched_segments, corpus=shared),
    )
    return [overlap for one in found for overlap in one]


def matched_segments(
    stream: str,
    starts: NDArray[np.int64],
    lines: NDArray[np.int64],
    limit: int | None,
    *,
    corpus: Snapshot | str,
) -> list[Overlap]:
    """A ``segment_jobs`` job's segments' overlaps with ``corpus``."""
    return _matched(segments_of(segment_arrays(stream, starts, lines, limit)), corpus)


async def _shared_jobs(
    examples: list[Example],
    letters_of: dict[str, str],
    helper: ScanHelpers,
    here: Callable[..., R],
    there: Callable[..., R],
) -> list[R]:
    """``here`` (in a thread) or ``there`` (in a helper) of each segment job, in order."""
    jobs = await asyncio.to_thread(_jobs, examples, letters_of)
    done: list[R | None] = [None] * len(jobs)

    def local(n: int) -> R:
        return here(*jobs[n])

    def remote(_: ScanHelper) -> Callable[[int], Awaitable[_Job[R]]]:
        async def job(n: int) -> _Job[R]:
            return there, jobs[n]

        return job

    await _queue(helper, iter(range(len(jobs))), local, remote, done)
    return done  # type: ignore[return-value]  # every job done


async def _queue(
    workers: ScanHelpers,
    pending: Iterator[int],
    here: Callable[[int], R],
    there: Callable[[ScanHelper], Callable[[int], Awaitable[_Job[R]]]],
    done: list[R | None],
) -> None:
    """Each job ``n`` of ``pending`` taken by whichever worker is free: this process's
    thread (``here(n)``; without ``thread``, only while no helper has answered yet) or a
    helper (the function and arguments ``there(helper)(n)`` gives); results in
    ``done[n]``."""
    helpers, thread = workers.helpers, workers.thread

    async def local() -> None:
        while thread or not any(one.ready for one in helpers):
            n = next(pending, None)
            if n is None:
                return
            done[n] = await asyncio.to_thread(here, n)

    await _both(local(), *(_in_helper(one, pending, there(one), done) for one in helpers))


async def _in_helper(
    helper: ScanHelper,
    pending: Iterator[int],
    job: Callable[[int], Awaitable[_Job[R]]],
    done: list[R | None],
) -> None:
    """The helper's side of a shared queue: job ``n`` (the function and arguments
    ``job(n)`` gives) for each ``n`` it takes from ``pending``, its result into
    ``done[n]``. Each reply is decoded in a thread of this process while the helper
    already does its next job (``ScanHelper.submit``): waiting for it, the helper idled
    some 10 % of a large scan."""
    replies: list[tuple[int, asyncio.Future[R]]] = []
    try:
        for n in pending:
            func, args = await job(n)
            replies.append((n, await helper.submit(func, *args)))
        for n, reply in replies:
            done[n] = await reply
    finally:
        for _, reply in replies:
            if not reply.done():
                reply.cancel()
            elif not reply.cancelled():
                reply.exception()  # retrieved: a failed job fails the scan above


def _jobs(examples: list[Example], letters_of: dict[str, str]) -> list[SegmentJob]:
    return [job for stream in segment_passes(examples, letters_of) for job in segment_jobs(stream)]


async def _both(*work: Coroutine[Any, Any, None]) -> None:
    """Run ``work`` together; the others cancelled when one fails."""
    workers = [asyncio.ensure_future(one) for one in work]
    try:
        await asyncio.gather(*workers)
    finally:
        for worker in workers:
            if not worker.done():
                worker.cancel()


def _segments_of_passes(arrays: list[SegmentArrays | None]) -> list[Unit]:
    return [unit for one in arrays for unit in segments_of(one)]
