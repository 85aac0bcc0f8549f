"""Run a CPU-heavy step off the event loop when its input is large.

A thread still holds the GIL while it runs Python code, but the interpreter switches
threads every few milliseconds, so the event loop keeps answering (``/healthz``, other
requests' I/O) while a large body is redacted or restored. Small inputs stay inline:
handing them to a thread would cost more than the work.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import ParamSpec, TypeVar

OFFLOAD_MIN_SIZE = 64 * 1024
# How many characters one PII span counts for when sizing redaction work.
SPAN_WEIGHT = 200

P = ParamSpec("P")
R = TypeVar("R")


async def run_sized(size: int, func: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
    """``func(*args, **kwargs)``, in a worker thread when ``size`` (characters or bytes of
    input) is at least ``OFFLOAD_MIN_SIZE``."""
    if size < OFFLOAD_MIN_SIZE:
        return func(*args, **kwargs)
    return await asyncio.to_thread(func, *args, **kwargs)
