"""The scan's pieces that need no services: decoding, segments, PII candidate windows."""

import asyncio
import base64
import json
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.finetune import pii_scan
from gateway.finetune.decode import hidden_texts, walk_strings
from gateway.finetune.examples import Example
from gateway.finetune.pii_plan import PiiPlan
from gateway.finetune.pii_scan import PiiScan
from gateway.finetune.scan import UploadScanner
from gateway.finetune.units import (
    SEGMENT,
    first_occurrences,
    segment_passes,
    segment_units,
    units_of,
)
from gateway.fingerprint import (
    CHAR_K,
    CHAR_WINDOW,
    char_hashes,
    fingerprint_array,
    fingerprint_set,
    letters,
)
from gateway.pii.types import PiiSpan

SECRET = "the break glass vault opens with two of three hardware tokens"


def test_walk_strings_visits_keys_and_values_in_order() -> None:
    """Keys and values at any depth, in document order."""
    assert list(walk_strings({"a": ["b", {"c": "d"}], "e": 1})) == ["a", "b", "c", "d", "e"]


def test_walk_strings_survives_deep_nesting() -> None:
    """Iterative: ten thousand levels do not exhaust the stack."""
    value: object = "x"
    for _ in range(10_000):
        value = [value]
    assert list(walk_strings(value)) == ["x"]


def test_layers_of_encoding_are_all_decoded() -> None:
    """base64 of hex of \\u-escaped JSON: each layer's text is found."""
    escaped = json.dumps({"note": "".join(f"\\u{ord(c):04x}" for c in SECRET)})
    layered = base64.b64encode(escaped.encode().hex().encode()).decode()
    assert any(SECRET in text for text in hidden_texts(layered))


def test_binary_blobs_and_short_tokens_are_ignored() -> None:
    """A random key or hash decodes to binary: nothing is added."""
    assert hidden_texts("sha256=" + "ab" * 32) == []
    assert hidden_texts(base64.b64encode(bytes(range(200))).decode()) == []
    assert hidden_texts("short Zm9v") == []


def test_percent_encoded_text_is_decoded() -> None:
    """URL-encoded prose is scanned as prose."""
    encoded = "".join(f"%{b:02X}" for b in SECRET.encode())
    assert SECRET in hidden_texts(encoded)


@given(st.text(max_size=400))
def test_decoding_never_raises(text: str) -> None:
    """Any string, however hostile, decodes or is left alone."""
    hidden_texts(text)


def test_segments_rejoin_a_passage_cut_into_pieces() -> None:
    """Three-word examples of one passage: some segment holds the passage's shingles."""
    words = (SECRET + " " + SECRET.upper()).split()
    examples = [
        Example(n + 1, ("Stock question?", " ".join(words[i : i + 3])))
        for n, i in enumerate(range(0, len(words), 3))
    ]
    whole = {fp for fp in fingerprint_set(SECRET) if fp & 1}
    units = segment_units(examples)
    assert units
    assert any(len(whole & set(unit.prints.tolist())) >= len(whole) // 2 for unit in units)
    assert all(unit.owners is not None and len(unit.owners) == len(unit.prints) for unit in units)


def test_a_cut_up_passage_written_twice_still_rejoins() -> None:
    """The same file of two-word pieces twice over (upsampling): every piece repeats,
    yet the first copy's pieces still join up in a segment."""
    words = (SECRET + " " + SECRET.upper()).split()
    once = [" ".join(words[i : i + 2]) for i in range(0, len(words), 2)]
    examples = [Example(n + 1, ("Stock question?", piece)) for n, piece in enumerate(once * 2)]
    whole = {fp for fp in fingerprint_set(SECRET) if fp & 1}
    units = segment_units(examples)
    assert any(len(whole & set(unit.prints.tolist())) >= len(whole) // 2 for unit in units)


def _filler(seed: int, words: int = 400) -> str:
    """Distinct long text (no repeat for ``first_occurrences`` to drop)."""
    vocabulary = [
        "planning",
        "budget",
        "roadmap",
        "hiring",
        "review",
        "weekly",
        "team",
        "update",
        "channel",
        "goals",
    ]
    pick = random.Random(seed).choice
    return " ".join(pick(vocabulary) for _ in range(words))


def test_pieces_between_long_texts_rejoin_in_the_short_texts_pass() -> None:
    """A passage cut into two-word examples, each followed by an example of long
    distinct filler: no segment of the file read in order holds two pieces, but the
    second pass (short texts only) joins them."""
    words = SECRET.split()
    examples: list[Example] = []
    for n in range(0, len(words), 2):
        examples.append(Example(len(examples) + 1, (" ".join(words[n : n + 2]),)))
        examples.append(Example(len(examples) + 1, (_filler(n),)))
    whole = {fp for fp in fingerprint_set(SECRET) if fp & 1}
    units = segment_units(examples)
    assert any(len(whole & set(unit.prints.tolist())) >= len(whole) // 2 for unit in units)
    (first, _, _), (shorts, starts, lines) = segment_passes(examples)
    assert letters(SECRET) not in first
    assert shorts == letters(SECRET)  # the short texts' segments hold no filler
    assert len(starts) == len(lines) == len(examples)


def test_the_short_texts_pass_is_left_out_when_no_text_is_long() -> None:
    examples = [Example(n + 1, (word,)) for n, word in enumerate(SECRET.split())]
    ((stream, starts, lines),) = segment_passes(examples)
    assert stream == letters(SECRET)
    assert lines.tolist() == [example.line for example in examples]
    assert starts.tolist() == [0, *np.cumsum([len(letters(w)) for w in SECRET.split()])[:-1]]


def test_first_occurrences_keep_each_text_where_it_first_comes() -> None:
    """A repeated text stays in the first example holding it and nowhere after."""
    examples = [Example(1, ("sys", "a")), Example(2, ("sys", "b", "b")), Example(3, ("a", "c"))]
    assert first_occurrences(examples) == [["sys", "a"], ["b"], ["c"]]


def test_a_numbered_template_is_a_repeat_and_words_rejoin() -> None:
    """One word per example under "Word N of the memo is": the template with another
    number is a repeat, so the words join up in a segment."""
    examples = [
        Example(n + 1, (f"Word {n} of the memo is", word)) for n, word in enumerate(SECRET.split())
    ]
    firsts = first_occurrences(examples)
    assert firsts[0] == ["Word 0 of the memo is", SECRET.split()[0]]
    assert all(len(texts) <= 1 for texts in firsts[1:])
    whole = {fp for fp in fingerprint_set(SECRET) if fp & 1}
    units = segment_units(examples)
    assert any(len(whole & set(unit.prints.tolist())) >= len(whole) // 2 for unit in units)


def test_segment_owners_are_lines_of_the_file() -> None:
    """Every segment fingerprint is attributed to a line that exists."""
    examples = [Example(n * 2 + 1, (f"{SECRET} number {n}",)) for n in range(40)]
    lines = {e.line for e in examples}
    for unit in segment_units(examples):
        assert unit.owners is not None
        assert set(np.unique(unit.owners).tolist()) <= lines


def test_a_clean_line_before_governed_text_is_not_named() -> None:
    """A fingerprint of the second line's own text is attributed to that line, never to
    the clean line whose trailing windows reach into it."""
    examples = [
        Example(1, ("Use slicing with a step of minus one to reverse a list.",)),
        Example(2, (SECRET + " and " + SECRET.upper(),)),
    ]
    governed = {fp for fp in fingerprint_set(examples[1].texts[0]) if fp & 1}
    clean = {fp for fp in fingerprint_set(examples[0].texts[0]) if fp & 1}
    owned_by_line_one = set()
    for unit in segment_units(examples):
        assert unit.owners is not None
        prints, owners = unit.prints.tolist(), unit.owners.tolist()
        owned_by_line_one |= {fp for fp, line in zip(prints, owners, strict=True) if line == 1}
    assert owned_by_line_one
    assert not (owned_by_line_one & (governed - clean))


async def test_without_ner_types_the_pattern_lane_scans_and_the_pool_is_idle() -> None:
    """With no NER type wanted, identifiers are found by patterns alone: the NER pool is
    never called, and NER-only types are not reported."""
    sent: list[str] = []

    async def analyze(texts: list[str]) -> list[list[dict[str, object]]]:
        sent.extend(texts)
        return [[] for _ in texts]

    scan = PiiScan(analyze, 0.5, ner=False)  # type: ignore[arg-type]
    prose = "What does the Python module pathlib do? " * 20
    plan = PiiPlan(scan=True, types=("EMAIL_ADDRESS", "PHONE_NUMBER"), ner=False)
    found = await scan.scan(
        [Example(1, (prose,)), Example(2, (prose + " mail ann@example.com",))], plan
    )
    assert sent == []
    assert [(f.type, f.lines) for f in found] == [("EMAIL_ADDRESS", (2,))]


def fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


async def test_identifiers_in_fullwidth_or_with_invisible_characters_are_found() -> None:
    """An e-mail address in fullwidth letters, and a card number with zero-width spaces
    between its digits, are found like their plain forms."""

    async def never(texts: list[str]) -> list[list[PiiSpan]]:
        raise AssertionError("no NER in a pattern plan")

    scan = PiiScan(never, 0.5, ner=False)
    plan = PiiPlan(scan=True, types=("EMAIL_ADDRESS", "CREDIT_CARD"), ner=False)
    found = await scan.scan(
        [
            Example(1, (f"write to {fullwidth('john.doe@example.org')} today",)),
            Example(2, ("card " + "\u200b".join("4111 1111 1111 1111") + " on file",)),
        ],
        plan,
    )
    assert sorted((f.type, f.lines) for f in found) == [
        ("CREDIT_CARD", (2,)),
        ("EMAIL_ADDRESS", (1,)),
    ]


async def test_a_pattern_plan_goes_to_the_pool_pattern_engine_when_there_is_one() -> None:
    """With the pool's pattern lane given, candidate windows go there with the plan's
    types and the scan's minimum score (never to the NER pool or an in-process lane),
    and its spans are reported."""
    asked: list[tuple[list[str], tuple[str, ...] | None, float]] = []

    async def never(texts: list[str]) -> list[list[PiiSpan]]:
        raise AssertionError("no NER in a pattern plan")

    async def patterns(
        texts: list[str], types: tuple[str, ...] | None, floor: float
    ) -> list[list[PiiSpan]]:
        asked.append((texts, types, floor))
        return [
            [PiiSpan(type="EMAIL_ADDRESS", start=t.index("ann"), end=len(t), score=1.0)]
            for t in texts
        ]

    scan = PiiScan(never, 0.5, ner=False, analyze_patterns=patterns)
    plan = PiiPlan(scan=True, types=("EMAIL_ADDRESS",), ner=False)
    found = await scan.scan([Example(1, ("x",)), Example(2, ("mail ann@example.com",))], plan)
    assert asked == [(["mail ann@example.com"], ("EMAIL_ADDRESS",), 0.5)]
    assert [(f.type, f.lines) for f in found] == [("EMAIL_ADDRESS", (2,))]


def _emails_at_signs(texts: list[str]) -> list[list[PiiSpan]]:
    """A stand-in pattern lane: an e-mail span in each text holding an ``@``."""
    return [
        [PiiSpan(type="EMAIL_ADDRESS", start=0, end=5, score=1.0)] if "@" in t else []
        for t in texts
    ]


def _orders_and_mails(count: int) -> list[Example]:
    """Lines 1 to ``count``: an e-mail address on every third, an order number else."""
    return [
        Example(n, (f"order {n:05d} shipped" if n % 3 else f"mail u{n}@example.com",))
        for n in range(1, count + 1)
    ]


async def test_a_large_scan_goes_to_the_pool_as_a_series_of_bounded_jobs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each job the pool gets is bounded (so it is answered within the pool's request
    timeout), and the spans come back to the right lines."""
    monkeypatch.setattr(pii_scan, "PATTERN_JOB_CHARS", 100)
    jobs: list[list[str]] = []

    async def never(texts: list[str]) -> list[list[PiiSpan]]:
        raise AssertionError("no NER in a pattern plan")

    async def patterns(
        texts: list[str], types: tuple[str, ...] | None, floor: float
    ) -> list[list[PiiSpan]]:
        jobs.append(texts)
        return _emails_at_signs(texts)

    examples = _orders_and_mails(30)
    scan = PiiScan(never, 0.5, ner=False, analyze_patterns=patterns)
    plan = PiiPlan(scan=True, types=None, ner=False)
    found = await scan.scan(examples, plan)
    assert len(jobs) > 3
    assert all(sum(map(len, job)) < 100 + 60 for job in jobs)
    assert [(f.type, f.lines) for f in found] == [("EMAIL_ADDRESS", tuple(range(3, 31, 3)))]


async def test_the_next_pool_job_is_submitted_while_the_last_is_analysed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two jobs of one upload are in the pool at once (the worker does not idle between
    them), never more; the spans still come back to the right lines."""
    monkeypatch.setattr(pii_scan, "PATTERN_JOB_CHARS", 100)
    running, most = 0, 0

    async def never(texts: list[str]) -> list[list[PiiSpan]]:
        raise AssertionError("no NER in a pattern plan")

    async def patterns(
        texts: list[str], types: tuple[str, ...] | None, floor: float
    ) -> list[list[PiiSpan]]:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.01 * random.random())
        running -= 1
        return _emails_at_signs(texts)

    examples = _orders_and_mails(60)
    scan = PiiScan(never, 0.5, ner=False, analyze_patterns=patterns)
    found = await scan.scan(examples, PiiPlan(scan=True, types=None, ner=False))
    assert most == 2
    assert [(f.type, f.lines) for f in found] == [("EMAIL_ADDRESS", tuple(range(3, 61, 3)))]


async def test_a_failed_pool_job_cancels_the_one_submitted_behind_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The scan fails with the first job's error and leaves no job of its own running."""
    monkeypatch.setattr(pii_scan, "PATTERN_JOB_CHARS", 100)
    cancelled: list[bool] = []

    async def never(texts: list[str]) -> list[list[PiiSpan]]:
        raise AssertionError("no NER in a pattern plan")

    async def patterns(
        texts: list[str], types: tuple[str, ...] | None, floor: float
    ) -> list[list[PiiSpan]]:
        if not cancelled:
            cancelled.append(False)
            raise RuntimeError("worker lost")
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise
        return [[] for _ in texts]

    examples = [Example(n, (f"order {n:05d} shipped",)) for n in range(1, 31)]
    scan = PiiScan(never, 0.5, ner=False, analyze_patterns=patterns)
    with pytest.raises(RuntimeError, match="worker lost"):
        await scan.scan(examples, PiiPlan(scan=True, types=None, ner=False))
    assert cancelled == [False, True]


def test_pattern_lane_windows_surround_candidates_only() -> None:
    """Without NER, text with no digit or @ is never analysed; windows are bounded."""
    scan = PiiScan(None, 0.5, ner=False)  # type: ignore[arg-type]
    prose = "What does the Python module pathlib do? " * 20
    pieces = scan._all_pieces([Example(1, (prose,)), Example(2, (prose + " mail a@b.org",))], False)
    assert [line for line, _ in pieces] == [2]
    assert "a@b.org" in pieces[0][1]
    assert len(pieces[0][1]) < 200


async def test_an_ner_plan_sends_every_string_to_the_pool() -> None:
    """When the policy wants an NER type, whole strings go to the NER pool and its NER
    findings are reported."""
    sent: list[str] = []

    async def analyze(texts: list[str]) -> list[list[dict[str, object]]]:
        sent.extend(texts)
        return [[{"type": "PERSON", "start": 0, "end": 4, "score": 0.85}] for _ in texts]

    scan = PiiScan(analyze, 0.5, ner=False)  # type: ignore[arg-type]
    plan = PiiPlan(scan=True, types=("PERSON",), ner=True)
    found = await scan.scan([Example(1, ("Anna wrote the module.",))], plan)
    assert sent == ["Anna wrote the module."]
    assert [(f.type, f.lines) for f in found] == [("PERSON", (1,))]


async def test_a_plan_without_scan_finds_nothing() -> None:
    """A purpose the policy does not scan for PII is not analysed."""
    scan = PiiScan(None, 0.5, ner=False)  # type: ignore[arg-type]
    plan = PiiPlan(scan=False, types=(), ner=False)
    assert await scan.scan([Example(1, ("mail ann@example.com",))], plan) == []


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(st.text(max_size=120), min_size=1, max_size=3), min_size=1, max_size=8))
def test_units_of_a_file_equal_the_per_text_computation(texts: list[list[str]]) -> None:
    """Batched fingerprints give each example and segment exactly its per-text prints."""
    examples = [Example(n + 1, tuple(t)) for n, t in enumerate(texts)]
    batched = units_of(examples)
    segments = segment_units(examples)
    singles = [np.unique(np.concatenate([fingerprint_array(t) for t in e.texts])) for e in examples]
    assert len(batched) == len(examples) + len(segments)
    for unit, example, prints in zip(batched, examples, singles, strict=False):
        assert unit.lines == (example.line,)
        assert np.array_equal(unit.prints, prints)
    for got, want in zip(batched[len(examples) :], segments, strict=True):
        assert got.lines == want.lines
        assert np.array_equal(got.prints, want.prints)
        assert got.owners is not None
        assert want.owners is not None
        assert np.array_equal(got.owners, want.owners)


def _reference_segments(
    examples: list[Example],
) -> list[tuple[tuple[int, ...], list[int], list[int]]]:
    """The segments as first written: window by window, one ``np.unique`` per segment
    (of each pass, ``segment_passes``)."""
    found = []
    for stream, starts, lines in segment_passes(examples):
        hashes = char_hashes(stream, CHAR_K)
        if len(hashes) <= CHAR_WINDOW:
            continue
        count = len(hashes) - CHAR_WINDOW + 1
        minima = hashes[:count].copy()
        for j in range(1, CHAR_WINDOW):
            np.minimum(minima, hashes[j : j + count], out=minima)
        windows = np.arange(count)
        chosen = windows + (CHAR_WINDOW - 1)
        for j in range(CHAR_WINDOW - 1, -1, -1):
            hit = hashes[j : j + count] == minima
            chosen[hit] = windows[hit] + j
        minima |= np.int64(1)
        owner = lines[np.searchsorted(starts, chosen, side="right") - 1]
        step = SEGMENT // 2
        for begin in range(0, max(1, count - step), step):
            end = min(count, begin + SEGMENT - CHAR_K - CHAR_WINDOW + 2)
            prints, first = np.unique(minima[begin:end], return_index=True)
            owners = owner[begin:end][first]
            found.append((tuple(sorted(set(owners.tolist()))), prints.tolist(), owners.tolist()))
    return found


_WORDS_ST = st.lists(st.sampled_from(["alpha", "beta", "gamma", "delta", "ab", "x"]), max_size=400)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_WORDS_ST, st.booleans()), min_size=1, max_size=12))
def test_segments_equal_the_window_by_window_definition(
    parts: list[tuple[list[str], bool]],
) -> None:
    """Segments built from runs of windows hold exactly the prints and owners of the
    window-by-window definition, for files of one to many segments."""
    examples = [
        Example(n + 1, ("Stock prompt",) if stock else (" ".join(words), "Stock prompt"))
        for n, (words, stock) in enumerate(parts)
    ]
    got = []
    for unit in segment_units(examples):
        assert unit.owners is not None
        got.append((unit.lines, unit.prints.tolist(), unit.owners.tolist()))
    assert got == _reference_segments(examples)


async def test_the_pii_scan_starts_before_the_examples_are_fingerprinted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The PII lane gets its first windows while the examples are still being
    fingerprinted (it needs only the parsed examples), and both results are kept."""
    import asyncio
    import threading
    from typing import Any

    from gateway.finetune import scan as scan_module
    from gateway.finetune.scan import UploadScanner

    asked = threading.Event()
    original = scan_module._example_units

    def fingerprint(examples: list[Example]) -> Any:
        assert asked.wait(10), "fingerprinting ended before the PII scan began"
        return original(examples)

    monkeypatch.setattr(scan_module, "_example_units", fingerprint)

    class Matcher:
        async def state(self) -> str | None:

            return "state"

        async def overlaps(self, units: Any, since: Any = None, *, more: Any = None) -> Any:
            if more is not None:
                await more
            return [], {}

    async def never(texts: list[str]) -> list[list[PiiSpan]]:
        raise AssertionError("no NER in a pattern plan")

    async def patterns(
        texts: list[str], types: tuple[str, ...] | None, floor: float
    ) -> list[list[PiiSpan]]:
        asked.set()
        await asyncio.sleep(0)
        return [
            [PiiSpan(type="EMAIL_ADDRESS", start=0, end=len(t), score=1.0)] if "@" in t else []
            for t in texts
        ]

    scanner = UploadScanner(Matcher(), never, analyze_patterns=patterns)  # type: ignore[arg-type]
    line = {
        "messages": [
            {"role": "user", "content": "Where?"},
            {"role": "assistant", "content": "write to ann@example.com today"},
        ]
    }
    result = await scanner.scan((json.dumps(line) + "\n").encode())
    assert [(f.type, f.lines) for f in result.pii] == [("EMAIL_ADDRESS", (1,))]
    assert result.overlaps == []


async def test_a_match_and_pii_scan_ending_in_the_same_turn_give_a_result(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The PII scan and the corpus match woken by the same event: the scan returns its
    result and both stage times, never a KeyError for a time not yet recorded."""
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    waiting: list[str] = []
    both = asyncio.Event()

    def wait_at_the_gate(who: str) -> None:
        waiting.append(who)
        if len(waiting) == 2:
            both.set()

    class Matcher:
        async def state(self) -> str | None:

            return "state"

        async def overlaps(
            self, units: object, *, more: asyncio.Future[object] | None = None
        ) -> tuple[list[object], dict[str, object]]:
            if more is not None:
                more.cancel()
            wait_at_the_gate("match")
            await gate
            return [], {}

    async def pii(examples: object, purpose: str) -> list[object]:
        wait_at_the_gate("pii")
        await gate
        return []

    scanner = UploadScanner(Matcher(), None)  # type: ignore[arg-type]
    monkeypatch.setattr(scanner, "_find_pii", pii)
    line = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "ok"}]}
    scan = asyncio.ensure_future(scanner.scan(json.dumps(line).encode()))
    await both.wait()
    gate.set_result(None)
    result = await scan
    assert {"search", "pii", "total"} <= result.timings_ms.keys()
