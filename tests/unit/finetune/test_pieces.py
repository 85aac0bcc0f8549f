"""A large upload parsed and fingerprinted in pieces by two processes: the one-process
result."""

import asyncio
import functools
import itertools
import json
import operator
import threading
from typing import Any
from unittest.mock import patch

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import BadRequest, DependencyUnavailable
from gateway.finetune import units as units_module
from gateway.finetune.corpus_index import Snapshot
from gateway.finetune.examples import parse_examples
from gateway.finetune.helper import ScanHelper
from gateway.finetune.helpers import ScanHelpers
from gateway.finetune.matcher import Chunk, _local_overlaps, local_documents
from gateway.finetune.overlaps import Holders
from gateway.finetune.pieces import (
    _in_helper,
    cut_points,
    matched_segments,
    merged,
    parse_in_pieces,
    parse_piece,
    segment_overlaps_in_helper,
    segments_in_helper,
)
from gateway.finetune.units import example_units, segment_jobs, segment_passes, segment_units
from gateway.fingerprint import fingerprint_array

WORDS = ["alpha", "beta", "gamma", "delta", "Épée", "naïve", "x1", "42", "the", "Vault"]
_text = st.lists(st.sampled_from(WORDS), min_size=0, max_size=40).map(" ".join)
_good = st.builds(
    lambda q, a: json.dumps(
        {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
    ),
    st.sampled_from(["Explain this.", "Help", "What does it do?"]),
    _text,
)
_line = st.one_of(
    _good,
    _good,
    _good,
    st.just(""),
    st.just("not json"),
    st.just('{"messages": []}'),
    st.just('{"a": 1, "a": 2}'),
)


def _whole(content: bytes, chat: bool) -> tuple[object, object, object]:
    """The one-process result: examples, (line, fingerprints) per unit, letters."""
    try:
        examples = parse_examples(content, chat=chat)
    except BadRequest as exc:
        return "refused", exc.message, None
    units, letters_of = example_units(examples)
    return examples, [(u.lines, u.prints.tolist()) for u in units], letters_of


def _pieces(content: bytes, cuts: list[int], chat: bool) -> tuple[object, object, object]:
    points = [0, *sorted(set(cuts)), len(content)]
    parts = [
        parse_piece(memoryview(content)[begin:end], content.count(b"\n", 0, begin) + 1, chat)
        for begin, end in itertools.pairwise(points)
    ]
    try:
        examples, units, letters_of, _ = merged(parts, chat=chat)
    except BadRequest as exc:
        return "refused", exc.message, None
    return examples, [(u.lines, u.prints.tolist()) for u in units], letters_of


@settings(max_examples=80, deadline=None)
@given(st.lists(_line, max_size=30), st.data(), st.booleans(), st.booleans(), st.booleans())
def test_pieces_give_the_whole_file_s_result(
    lines: list[str], data: st.DataObject, chat: bool, broken: bool, bom: bool
) -> None:
    """Cut after any lines (or the file refused: bad lines, not UTF-8), the pieces'
    examples, fingerprints, letters or refusal message are the whole file's, a UTF-8
    byte-order mark at its start or not."""
    content = (b"\xef\xbb\xbf" if bom else b"") + "".join(line + "\n" for line in lines).encode()
    if broken and content:
        at = data.draw(st.integers(0, len(content) - 1))
        content = content[:at] + b"\xff" + content[at + 1 :]
    newlines = [i + 1 for i, byte in enumerate(content) if byte == 0x0A]
    cuts = data.draw(st.lists(st.sampled_from([0, *newlines]), max_size=5))
    assert _pieces(content, cuts, chat) == _whole(content, chat)


def test_more_than_the_reported_bad_lines_in_several_pieces_read_as_one_file() -> None:
    """Bad lines past the reading limit, spread over several pieces: the same message."""
    content = b"nope\n" * 1500
    assert _pieces(content, cut_points(content, 1000)[1:-1], True) == _whole(content, True)


async def test_the_pieces_and_segments_equal_the_one_process_result() -> None:
    """Through a real helper process: examples, units and segments as in one process."""
    lines = [
        json.dumps(
            {
                "messages": [
                    {"role": "system", "content": "You are a helpful assistant."},
                    {"role": "user", "content": f"question {n % 7}"},
                    {
                        "role": "assistant",
                        "content": " ".join(WORDS[(n + i) % 10] for i in range(60)),
                    },
                ]
            }
        )
        for n in range(300)
    ]
    content = "".join(line + "\n" for line in lines).encode()
    examples = parse_examples(content)
    units, letters_of = example_units(examples)
    async with ScanHelpers(1, nice=0) as helper:
        got, got_units, got_letters, _ = await parse_in_pieces(content, True, helper, 2000)
        segments = await segments_in_helper(got, got_letters, helper)
    assert got == examples
    assert got_letters == letters_of
    assert [(u.lines, u.prints.tolist()) for u in got_units] == [
        (u.lines, u.prints.tolist()) for u in units
    ]
    expected = segment_units(examples, letters_of)
    assert len(segments) == len(expected) > 0
    for have, want in zip(segments, expected, strict=True):
        assert have.lines == want.lines
        assert np.array_equal(have.prints, want.prints)
        assert have.owners is not None
        assert want.owners is not None
        assert np.array_equal(have.owners, want.owners)


def _corpus(texts: list[str]) -> Snapshot:
    """A local copy of a corpus of ``texts``, one chunk and document each."""
    prints = [fingerprint_array(text) for text in texts]
    chunks = [
        Chunk(
            f"c{n:03d}",
            int(np.count_nonzero(p & 1 == 0)),
            int(np.count_nonzero(p & 1)),
            {"doc_id": f"d{n % 3}", "corpus": "c", "classification": "restricted"},
        )
        for n, p in enumerate(prints)
    ]
    return Snapshot(Holders.of(prints), chunks)


_WORKERS = {
    "a helper and this process": lambda: ScanHelpers(1, nice=0),
    "two helpers": lambda: ScanHelpers(2, thread=False, nice=0),
    "two helpers and this process": lambda: ScanHelpers(2, thread=True, nice=0),
}


@pytest.mark.parametrize("workers", _WORKERS.values(), ids=_WORKERS.keys())
async def test_pieces_matched_in_several_processes_give_the_one_process_overlaps(
    workers: Any,
) -> None:
    """Examples matched in their pieces and segments in their jobs, by real helpers (and
    this process): the overlaps and documents of matching all units at once."""
    passage = [" ".join(WORDS[(n * 7 + i) % 10] + str(i % 13) for i in range(80)) for n in range(4)]
    corpus = _corpus(passage)
    words = passage[0].split() + passage[2].split()
    lines = [
        json.dumps(
            {
                "messages": [
                    {"role": "system", "content": "You are a helpful assistant."},
                    {"role": "user", "content": f"Word {n} please"},
                    {"role": "assistant", "content": " ".join(words[n : n + 3 + n % 40])},
                ]
            }
        )
        for n in range(len(words))
    ]
    content = "".join(line + "\n" for line in lines).encode()
    examples = parse_examples(content)
    units, letters_of = example_units(examples)
    expected = _local_overlaps([*units, *segment_units(examples, letters_of)], corpus)
    with patch.object(units_module, "SEGMENT_JOB", 1500):  # several segment jobs
        assert len(segment_jobs(segment_passes(examples, letters_of)[0])) > 3
        async with workers() as helper:
            got, _, got_letters, found = await parse_in_pieces(content, True, helper, 3000, corpus)
            found += await segment_overlaps_in_helper(got, got_letters, helper, corpus)
            # A second scan with the same snapshot: the helper holds it already.
            again = await parse_in_pieces(content, True, helper, 3000, corpus)
    assert len(expected[0]) > 10
    assert {len(o.lines) > 1 for o in expected[0]} == {True, False}
    assert found == expected[0]
    assert local_documents(found, corpus) == expected[1]
    assert again[3] == found[: len(again[3])]


async def test_a_helper_without_the_snapshot_a_job_names_fails_the_job() -> None:
    """Fail closed: a job naming a snapshot the helper does not hold (it restarted)
    fails, never matches against nothing."""
    corpus = _corpus(["alpha beta gamma delta " * 20])
    async with ScanHelper(nice=0) as helper:
        with pytest.raises(DependencyUnavailable, match="KeyError"):
            await helper.run(
                functools.partial(matched_segments, corpus=corpus.token),
                "ab" * 900,
                np.zeros(1, np.int64),
                np.ones(1, np.int64),
                None,
            )


async def test_a_bad_line_in_a_later_piece_refuses_the_file() -> None:
    """A later piece's bad line is reported with its line number in the file."""
    good = json.dumps(
        {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    )
    content = (good + "\n") * 14 + "not json\n" + (good + "\n") * 6
    async with ScanHelpers(1, nice=0) as helper:
        with pytest.raises(BadRequest, match="1 bad line\\(s\\): line 15: "):
            await parse_in_pieces(content.encode(), True, helper, 200)


async def test_the_merge_and_the_segment_passes_run_off_the_event_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """For a large file they take seconds: on the event loop they would stall chat and
    time out the scan's own policy call (a 50 MB upload ended in "opa unavailable")."""
    from gateway.finetune import pieces

    loop_thread = threading.get_ident()
    ran_in: dict[str, int] = {}

    def recorded(name: str, func: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            ran_in[name] = threading.get_ident()
            return func(*args, **kwargs)

        return call

    for name in ("merged", "segment_passes", "segments_of"):
        monkeypatch.setattr(pieces, name, recorded(name, getattr(pieces, name)))
    good = json.dumps(
        {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a b c"}]}
    )
    content = ((good + "\n") * 50).encode()
    async with ScanHelpers(1, nice=0) as helper:
        examples, _, letters_of, _ = await pieces.parse_in_pieces(content, True, helper)
        await pieces.segments_in_helper(examples, letters_of, helper)
    assert set(ran_in) == {"merged", "segment_passes", "segments_of"}
    assert loop_thread not in ran_in.values()


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=200).map(lambda b: b.replace(b"x", b"\n")), st.integers(1, 50))
def test_cut_points_cut_after_newlines_into_nonempty_pieces(content: bytes, size: int) -> None:
    """Every piece but the last ends with a newline, none is empty (unless the file is),
    and together they are the file."""
    points = cut_points(content, size)
    assert points[0] == 0
    assert points[-1] == len(content)
    pieces = [content[a:b] for a, b in itertools.pairwise(points)]
    assert b"".join(pieces) == content
    assert all(piece.endswith(b"\n") for piece in pieces[:-1])
    assert all(pieces) or pieces == [b""]


def test_a_large_file_ends_in_quarter_pieces() -> None:
    """The last two pieces' worth of a file of many pieces is cut into quarters, so that
    the process finishing last waits for at most a quarter piece of the other's; a file
    of a few pieces is cut as before."""
    line = b"x" * 99 + b"\n"
    sizes = [b - a for a, b in itertools.pairwise(cut_points(line * 100, 1000))]
    assert sizes == [1000] * 8 + [300] * 6 + [200]
    assert [b - a for a, b in itertools.pairwise(cut_points(line * 40, 1000))] == [1000] * 4


class _SlowHelper(ScanHelper):
    """A helper that answers its first job only after ``delay_s`` (a busy host), in this
    process; it records how many pieces it was given."""

    def __init__(self, delay_s: float) -> None:
        super().__init__()
        self.delay_s = delay_s
        self.jobs = 0

    async def submit(self, func: Any, *args: Any) -> asyncio.Future[Any]:
        self.jobs += 1
        if self.jobs == 1:
            await asyncio.sleep(self.delay_s)
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        done.set_result(func(*args))
        return done


async def test_a_slow_helper_takes_fewer_pieces_and_the_result_is_the_same() -> None:
    """While the helper is busy with one piece, this process parses the others: the
    helper's share follows its speed, and the result is still the one-process one."""
    line = json.dumps(
        {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a b"}]}
    )
    content = "".join(line.replace("a b", f"a b {n}") + "\n" for n in range(400)).encode()
    helper = _SlowHelper(delay_s=1.0)
    pool = ScanHelpers(1)
    pool.helpers = [helper]
    got, units, letters_of, _ = await parse_in_pieces(content, True, pool, len(content) // 8)
    assert helper.jobs == 1
    assert (got, [(u.lines, u.prints.tolist()) for u in units], letters_of) == _whole(content, True)


class _DecodedLate(ScanHelper):
    """Jobs run in this process; each reply is decoded only when the next job is sent
    (or, for the last one, after ``late_s``): which of the two it was is recorded."""

    def __init__(self, late_s: float = 0.2) -> None:
        super().__init__()
        self.late_s = late_s
        self.open: list[tuple[asyncio.Future[Any], Any]] = []
        self.decoded_by: list[str] = []

    async def submit(self, func: Any, *args: Any) -> asyncio.Future[Any]:
        self._decode("next job")
        reply: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.open.append((reply, func(*args)))
        asyncio.get_running_loop().call_later(self.late_s, self._decode, "timer")
        return reply

    def _decode(self, by: str) -> None:
        for reply, result in self.open:
            if not reply.done():
                reply.set_result(result)
                self.decoded_by.append(by)


async def test_the_helper_gets_its_next_job_before_its_last_reply_is_decoded() -> None:
    """The helper never idles while this process decodes its last reply: the next job
    is sent first, and every result still lands in its place."""
    helper = _DecodedLate()
    done: list[int | None] = [None] * 3

    async def job(n: int) -> tuple[Any, tuple[Any, ...]]:
        return operator.mul, (n, 10)

    await _in_helper(helper, iter(range(3)), job, done)
    assert done == [0, 10, 20]
    assert helper.decoded_by == ["next job", "next job", "timer"]


class _Here(ScanHelper):
    """A helper that runs its jobs on this process's event loop, up and answering
    (``ready``) from the first job on, or after its first job when ``cold_s`` (it then
    takes that long, as a helper loading numpy would)."""

    def __init__(self, cold_s: float = 0.0) -> None:
        super().__init__()
        self.cold_s = cold_s
        self.answered = False

    @property
    def ready(self) -> bool:
        return self.answered or not self.cold_s

    async def submit(self, func: Any, *args: Any) -> asyncio.Future[Any]:
        if not self.answered:
            await asyncio.sleep(self.cold_s)
        self.answered = True
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        done.set_result(func(*args))
        return done


def _where_parsed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records, for each piece parsed, whether it was on the event loop (a ``_Here``
    helper) or in a thread (this process's worker)."""
    from gateway.finetune import pieces

    loop_thread = threading.get_ident()
    where: list[str] = []
    parse = pieces.parse_piece

    def recorded(*args: Any) -> Any:
        where.append("helper" if threading.get_ident() == loop_thread else "thread")
        return parse(*args)

    monkeypatch.setattr(pieces, "parse_piece", recorded)
    return where


def _lines(count: int) -> bytes:
    line = json.dumps(
        {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a b"}]}
    )
    return "".join(line.replace("a b", f"a b {n}") + "\n" for n in range(count)).encode()


async def test_without_the_thread_helpers_that_are_up_take_every_piece(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A pool without the thread: once its helpers answer, this process only
    coordinates (its GIL stays free for the event loop); the result is the same."""
    where = _where_parsed(monkeypatch)
    content = _lines(400)
    pool = ScanHelpers(2, thread=False)
    pool.helpers = [_Here(), _Here()]
    got, units, letters_of, _ = await parse_in_pieces(content, True, pool, len(content) // 8)
    assert set(where) == {"helper"}
    assert len(where) > 8
    assert (got, [(u.lines, u.prints.tolist()) for u in units], letters_of) == _whole(content, True)


async def test_without_the_thread_this_process_parses_while_the_helpers_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Helpers not up yet (numpy loading): this process's thread takes pieces until one
    answers, so a first upload does not wait for their start; the result is the same."""
    where = _where_parsed(monkeypatch)
    content = _lines(400)
    pool = ScanHelpers(2, thread=False)
    pool.helpers = [_Here(cold_s=1.0), _Here(cold_s=1.0)]
    got, units, letters_of, _ = await parse_in_pieces(content, True, pool, len(content) // 8)
    assert where.count("helper") == 2
    assert where.count("thread") > 4
    assert (got, [(u.lines, u.prints.tolist()) for u in units], letters_of) == _whole(content, True)


async def test_a_corpus_sent_to_two_helpers_is_pickled_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The local copy of a large corpus is ~150 MB of pickle: both helpers of a pool get
    the same bytes, and hold the corpus after."""
    from gateway.finetune import pieces
    from gateway.finetune.helper import request

    pickled: list[object] = []

    def counted(func: Any, *args: Any) -> bytes:
        if func is pieces.hold_corpus:
            pickled.append(args[0])
        return request(func, *args)

    monkeypatch.setattr("gateway.finetune.pieces.request", counted)
    corpus = _corpus(["alpha beta gamma delta " * 20])
    async with ScanHelpers(2, nice=0) as pool:
        await asyncio.gather(
            *(one.run(operator.add, 1, 1) for one in pool.helpers)  # both up
        )
        examples = parse_examples(_lines(30))
        await segment_overlaps_in_helper(examples, example_units(examples)[1], pool, corpus)
        assert pickled == [corpus]
        assert [await one.run(pieces.holds_corpus, corpus.token) for one in pool.helpers] == [
            True,
            True,
        ]


def test_a_matched_piece_carries_its_overlaps_and_letters_not_its_fingerprints() -> None:
    """Matched with a corpus, a piece sends back no fingerprints and the merge makes no
    units of it: the examples, letters and overlaps are those of a piece without one."""
    passage = " ".join(WORDS[i % 10] + str(i % 13) for i in range(80))
    corpus = _corpus([passage])
    lines = [_chat(passage), _chat("alpha beta"), _chat(" ".join(reversed(passage.split())))]
    content = "".join(line + "\n" for line in lines).encode()
    plain = parse_piece(content, 1, True)
    matched = parse_piece(content, 1, True, corpus)
    assert matched.matched
    assert not len(matched.prints)
    assert not matched.sizes
    assert matched.overlaps
    examples, units, letters_of, found = merged([matched], chat=True)
    assert units == []
    assert examples == plain.examples
    assert letters_of == plain.letters_of
    expected = merged([plain], chat=True)[1]
    assert found == _local_overlaps(expected, corpus)[0]


def _chat(answer: str) -> str:
    messages = [{"role": "user", "content": "Say it"}, {"role": "assistant", "content": answer}]
    return json.dumps({"messages": messages})
