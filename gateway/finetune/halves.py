"""A large JSONL upload parsed and fingerprinted in two halves, one in a helper process.

The first half is parsed and its examples fingerprinted in this process (a thread) while
the helper (``gateway.finetune.helper``) does the same with the second; the helper then
fingerprints the file's segments while this process matches the examples. The result is
the one-process result exactly: lines are split at ``\\n`` either way, each example's
fingerprints depend on its texts alone, and the bad lines of the two halves, in order,
are those of the whole file. What crosses between the processes is the second half's
bytes and examples, flat numpy arrays and the texts' letter streams.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from gateway.finetune.examples import Example, checked, not_utf8, parse_lines
from gateway.finetune.helper import ScanHelper
from gateway.finetune.matcher import Unit
from gateway.finetune.units import (
    example_units,
    segment_arrays,
    segment_stream,
    segments_of,
)

SPLIT_MIN_BYTES = 1 << 20
"""Smaller uploads are scanned in this process alone: the helper's start and the
transfers would cost more than half of their work."""


@dataclass(frozen=True, slots=True)
class Half:
    """One half's examples, fingerprinted (what the helper sends back)."""

    utf8: bool
    examples: list[Example] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    prints: NDArray[np.int64] = field(default_factory=lambda: np.empty(0, np.int64))
    """Every example's fingerprints, concatenated in example order."""
    sizes: list[int] = field(default_factory=list)
    """How many fingerprints each example has."""
    letters_of: dict[str, str] = field(default_factory=dict)
    """Each distinct text's letters (``example_units``)."""


def split_point(content: bytes) -> int:
    """Where the second half starts: after the first newline from the middle on (0: the
    file is one line)."""
    cut = content.find(b"\n", len(content) // 2)
    return 0 if cut < 0 else cut + 1


def parse_half(part: bytes | memoryview, first: int, chat: bool) -> Half:
    """The examples of ``part`` (lines ``first``...) and their fingerprints; none when it
    has bad lines (the file is refused) or is not UTF-8."""
    try:
        # A byte-order mark may start the file (``parse_examples`` allows one).
        decoded = str(part, "utf-8-sig" if first == 1 else "utf-8")
    except UnicodeDecodeError:
        return Half(utf8=False)
    examples, problems = parse_lines(decoded, chat=chat, first=first)
    if problems or not examples:
        return Half(True, examples, problems)
    units, letters_of = example_units(examples)
    sizes = [len(unit.prints) for unit in units]
    return Half(True, examples, [], np.concatenate([u.prints for u in units]), sizes, letters_of)


async def parse_in_halves(
    content: bytes, chat: bool, helper: ScanHelper
) -> tuple[list[Example], list[Unit], dict[str, str]]:
    """``parse_examples`` then ``example_units``, each half of ``content`` in a process."""
    cut = split_point(content)
    first = content.count(b"\n", 0, cut) + 1
    remote = asyncio.ensure_future(helper.run(parse_half, content[cut:], first, chat))
    try:
        local = await asyncio.to_thread(parse_half, memoryview(content)[:cut], 1, chat)
        second = await remote
    finally:
        if not remote.done():
            remote.cancel()
    # In a thread: for a large file the merge (a unit per example) takes seconds, and on
    # the event loop it would stall chat and the scan's own policy calls (OPA timeouts).
    return await asyncio.to_thread(merged, local, second, chat=chat)


def merged(
    first: Half, second: Half, *, chat: bool
) -> tuple[list[Example], list[Unit], dict[str, str]]:
    """The whole file's examples, units and letters from its two halves' (in order); the
    file's BadRequest when either half is not UTF-8 or has bad lines."""
    if not (first.utf8 and second.utf8):
        raise not_utf8()
    examples = checked(
        [*first.examples, *second.examples], [*first.problems, *second.problems], chat=chat
    )
    units = [*_units(first), *_units(second)]
    return examples, units, {**first.letters_of, **second.letters_of}


def _units(half: Half) -> list[Unit]:
    bounds = np.cumsum([0, *half.sizes]).tolist()
    return [
        Unit((example.line,), half.prints[bounds[n] : bounds[n + 1]])
        for n, example in enumerate(half.examples)
    ]


async def segments_in_helper(
    examples: list[Example], letters_of: dict[str, str], helper: ScanHelper
) -> list[Unit]:
    """``segment_units``, its arithmetic in the helper (the stream is built and the units
    made in threads, off the event loop, as ``parse_in_halves`` merges)."""
    stream, starts, lines = await asyncio.to_thread(segment_stream, examples, letters_of)
    arrays = await helper.run(segment_arrays, stream, starts, lines)
    return await asyncio.to_thread(segments_of, arrays)
