"""A helper process for the upload scan's CPU work, started on demand.

The scan's parse and fingerprints are Python and numpy: in one process they use one
core. A helper process takes half of a large upload (``gateway.finetune.halves``). It is
spawned when a scan first asks for it (it loads numpy and the parser while the gateway
parses its own half), stays ``idle_s`` after its last job for the next scan, then exits
and is reaped: nothing of it is resident at rest, and ``aclose`` (the lifespan's end)
stops it. It runs ``nice``-d, so that requests served by the gateway come first.

Fail closed: a helper that dies during a job (killed, out of memory) fails the job with
DependencyUnavailable, and so the scan; the next job starts a new helper.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from types import TracebackType
from typing import Any, TypeVar

from gateway.errors import DependencyUnavailable

R = TypeVar("R")

IDLE_S = 30.0
NICE = 5


class ScanHelper:
    """One helper process, started by the first job, stopped when idle (an async context
    manager: leaving it stops the helper)."""

    def __init__(self, *, idle_s: float = IDLE_S, nice: int = NICE) -> None:
        self._idle_s = idle_s
        self._nice = nice
        self._pool: ProcessPoolExecutor | None = None
        self._busy = 0
        self._idle: asyncio.TimerHandle | None = None

    async def __aenter__(self) -> ScanHelper:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    @property
    def running(self) -> bool:
        """Whether a helper process is up (or starting)."""
        return self._pool is not None

    async def run(self, func: Callable[..., R], *args: Any) -> R:
        """``func(*args)`` in the helper (picklable function, arguments and result)."""
        pool = self._pool or self._start()
        self._busy += 1
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        try:
            try:
                future = pool.submit(func, *args)
            except BrokenProcessPool:  # it stopped while idle: this job gets a new one
                self._discard(pool)
                pool = self._start()
                future = pool.submit(func, *args)
            return await asyncio.wrap_future(future)
        except BrokenProcessPool as exc:
            self._discard(pool)
            raise DependencyUnavailable("scan helper", "the helper process stopped") from exc
        finally:
            self._busy -= 1
            if not self._busy and self._pool is not None:
                self._idle = asyncio.get_running_loop().call_later(self._idle_s, self._stop)

    async def aclose(self) -> None:
        """Stop the helper (after the job it is running, if any) and reap it."""
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)

    def _start(self) -> ProcessPoolExecutor:
        self._pool = ProcessPoolExecutor(
            1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_initialize,
            initargs=(self._nice,),
        )
        return self._pool

    def _discard(self, pool: ProcessPoolExecutor) -> None:
        if self._pool is pool:
            self._pool = None
        pool.shutdown(wait=False, cancel_futures=True)

    def _stop(self) -> None:
        """Idle: let the helper exit (the executor's thread reaps it)."""
        self._idle = None
        pool, self._pool = self._pool, None
        if pool is not None and not self._busy:
            pool.shutdown(wait=False, cancel_futures=True)


def _initialize(nice: int) -> None:
    """In the helper: lower its priority, load what its jobs use."""
    if nice:
        os.nice(nice)
    import gateway.finetune.halves  # noqa: F401  # numpy and the parser, before the first job
