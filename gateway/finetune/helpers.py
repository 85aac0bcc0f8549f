"""A small pool of scan helper processes, and whether this process's thread works too.

A large upload's pieces and segment jobs are a shared queue (``gateway.finetune.pieces``):
each helper of the pool (``gateway.finetune.helper.ScanHelper``: spawned on demand,
``nice``-d, idle exit, dies with the gateway, fails its job closed) takes the next one
when done with its last. With ``thread`` off, this process's thread takes pieces only
until a helper has answered once (while the helpers start: numpy and the parser load),
then only coordinates: its GIL stays free for the event loop and the replies' decoding,
which a scan thread here slowed by ~0.5 CPU-s per 5 MB (and chat with it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

from gateway.finetune.helper import IDLE_S, NICE, ScanHelper

R = TypeVar("R")


class ScanHelpers:
    """``count`` helpers (an async context manager: leaving it stops them all)."""

    def __init__(
        self,
        count: int = 1,
        *,
        thread: bool | None = None,
        idle_s: float = IDLE_S,
        nice: int = NICE,
    ) -> None:
        """``thread``: whether this process's thread takes pieces all along; default
        only with a single helper."""
        if count < 1:
            raise ValueError("a pool has at least one helper")
        self.helpers = [ScanHelper(idle_s=idle_s, nice=nice) for _ in range(count)]
        self.thread = count == 1 if thread is None else thread

    async def __aenter__(self) -> ScanHelpers:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def run(self, func: Callable[..., R], *args: Any) -> R:
        """``func(*args)`` in a helper (``ScanHelper.run``): the first not busy."""
        free = [helper for helper in self.helpers if not helper.busy]
        return await (free or self.helpers)[0].run(func, *args)

    async def aclose(self) -> None:
        """Stop every helper and reap it."""
        await asyncio.gather(*(helper.aclose() for helper in self.helpers))
