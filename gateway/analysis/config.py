"""How many analysis workers, how work is batched, and what they load first.

Kept apart from the pool so that ``gateway serve`` can start the workers before it
imports asyncio, structlog or the application.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass


def default_workers() -> int:
    """One worker per core beyond the first (the event loop's), at least 1, at most 4."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(4, (cores or 1) - 1))


def pattern_engine(types: Sequence[str] | None, floor: float = 0.0) -> str:
    """The worker engine name of the pattern-only analyzer for ``types`` (None: all),
    wanting scores from ``floor`` up (``PatternAnalyzer``'s)."""
    name = "patterns:" + ("*" if types is None else ",".join(sorted(types)))
    return f"{name}@{floor!r}" if floor > 0 else name


PIPE_SAFE_BYTES = 48 * 1024
"""What a worker's input pipe (64 KiB on Linux) and the write buffer surely take unread."""
JSON_BYTES_PER_CHAR = 6
"""A job frame is ASCII JSON: a character is at most a ``\\uXXXX`` escape."""
JSON_BYTES_PER_TEXT = 3
"""Quotes and comma around each text of a frame."""
FRAME_OVERHEAD_BYTES = 2048
"""The frame's header and keys, and the engine's name (a pattern engine names its types)."""


@dataclass(frozen=True)
class PoolConfig:
    workers: int = 1
    """Worker processes (each holds its own spaCy model)."""
    batch_max_chars: int = 1024
    """Most characters in one batch; also the longest segment a text is cut into."""
    batch_max_texts: int = 64
    """Most texts in one batch."""
    pattern_batch_max_chars: int = 512
    """The same for the pattern-only engine (fine-tune scans without NER), whose inputs
    are short windows. While chat comes, a chat text waits for at most one bulk batch on
    its worker (the first after a quiet spell: ``bulk_in_flight`` of them): this bounds
    what a large upload adds to chat latency. On digit-dense text one costs a
    worker ~0.9 CPU-ms warm (1,024 characters: ~1.6; 2,048: ~3.1; a quarter of it
    Presidio's fixed cost per call). 1,024 scanned faster but measured a worse chat p50
    while a 5 MB upload was scanned (one run each on a loaded machine)."""
    pattern_batch_quiet_chars: int = 6144
    """The bound on a pattern-engine batch while no chat work came for ``chat_quiet_s``:
    nothing waits behind it, and Presidio's fixed cost per call (~0.23 ms) is paid twelve
    times less often than at 512. A batch takes a worker ~7 ms on digit-dense text: at
    2,048 (~2.5 ms) the two batches a worker holds ran out while the gateway's event loop
    ran 10 to 40 ms late (the corpus match's threads hold the GIL during the same
    upload), and the worker idled for most of the match. 6,144 is about the most whose
    frame still fits a worker's input pipe unread (``bulk_batches_held``); the first chat
    text after a quiet spell waits for up to two such batches."""
    bulk_in_flight: int = 2
    """Bulk batches a worker may hold at once while no chat work came for
    ``chat_quiet_s``: the one it analyses and the next, already sent, so it does not wait
    for the gateway's event loop between batches (on a busy loop, most of a small batch's
    round trip). While chat comes, one: a chat text waits for at most one bulk batch."""
    chat_quiet_s: float = 1.0
    """How long after the last chat job bulk batches go one at a time again."""

    def bulk_batches_held(self) -> int:
        """``bulk_in_flight``, or 1 when a bulk batch might not fit in a worker's input
        pipe unread: sending it would then wait for the worker to finish the batch before
        (no timeout runs yet), and a worker writing a large answer meanwhile would wait
        for the gateway to read it (a deadlock)."""
        largest = max(self.batch_max_chars, self.pattern_batch_quiet_chars)
        texts = max(self.batch_max_texts, self.pattern_batch_max_texts)
        frame = largest * JSON_BYTES_PER_CHAR + texts * JSON_BYTES_PER_TEXT + FRAME_OVERHEAD_BYTES
        return self.bulk_in_flight if frame <= PIPE_SAFE_BYTES else 1

    pattern_batch_max_texts: int = 2048
    """Most texts in one pattern-engine batch (candidate windows are short)."""
    batch_timeout_s: float = 30.0
    """A worker silent this long on one batch is hung: it is killed and replaced."""
    start_timeout_s: float = 120.0
    """A worker not ready this long after spawning is killed and started again."""
    request_timeout_s: float = 120.0
    """A job not analysed this long after submission fails (503)."""
    preload: tuple[str, ...] = ("lean",)
    """Engines loaded before a worker reports ready (``lean`` for chat, ``full`` for bulk);
    the others load on first use."""
    python: str = sys.executable
    """Interpreter that runs the workers."""
