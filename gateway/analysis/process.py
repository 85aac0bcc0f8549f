"""One analysis worker subprocess, seen from the gateway: start, run a batch, stop."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Sequence
from typing import Any

from gateway.analysis.framing import FrameError, encode, read_frame_async
from gateway.analysis.worker import PARENT_ENV, PRELOAD_ENV
from gateway.pii.analyzer import PiiSpan

STOP_GRACE_S = 2.0


class WorkerLost(Exception):
    """The worker died, hung past its timeout or broke the protocol; it has been killed."""


class WorkerError(Exception):
    """The worker is alive but analysing this batch raised (named by exception type)."""


class WorkerProcess:
    def __init__(self, python: str, preload: Sequence[str]) -> None:
        self._python = python
        self._preload = list(preload)
        self._process: asyncio.subprocess.Process | None = None
        self.engines: set[bool] = set()
        self.load_s: float | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    async def start(self, timeout_s: float) -> None:
        """Spawn the worker in its own process group and wait until its engines are loaded."""
        # The worker needs none of the gateway's settings, secrets included.
        env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
        env[PARENT_ENV] = str(os.getpid())
        env[PRELOAD_ENV] = ",".join(self._preload)
        started = time.perf_counter()
        # Spawned from the event loop's thread: the parent-death signal follows the
        # thread that forked, so this must not run in a short-lived executor thread.
        self._process = await asyncio.create_subprocess_exec(
            self._python,
            "-m",
            "gateway.analysis.worker",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            start_new_session=True,
            env=env,
        )
        reply = await self._receive(timeout_s)
        if not reply.get("ready"):
            await self.kill()
            raise WorkerLost("worker did not report ready")
        self.engines = {lean == "lean" for lean in self._preload}
        self.load_s = time.perf_counter() - started

    async def run(self, lean: bool, texts: list[str], timeout_s: float) -> list[list[PiiSpan]]:
        """Spans per text; WorkerError if analysis raised, WorkerLost if the worker is gone."""
        process = self._process
        if process is None or process.stdin is None:
            raise WorkerLost("worker not started")
        if lean not in self.engines:
            timeout_s *= 4  # the engine loads first (seconds)
        try:
            process.stdin.write(encode({"lean": lean, "texts": texts}))
            await process.stdin.drain()
        except (ConnectionError, RuntimeError) as exc:
            await self.kill()
            raise WorkerLost("worker input closed") from exc
        reply = await self._receive(timeout_s)
        self.engines = {bool(e) for e in reply.get("engines", [])}
        if "error" in reply:
            raise WorkerError(str(reply["error"]))
        spans = reply.get("spans")
        if not isinstance(spans, list) or len(spans) != len(texts):
            await self.kill()
            raise WorkerLost("worker answered out of protocol")
        return spans

    async def _receive(self, timeout_s: float) -> dict[str, Any]:
        process = self._process
        if process is None or process.stdout is None:
            raise WorkerLost("worker not started")
        try:
            reply = await asyncio.wait_for(read_frame_async(process.stdout), timeout_s)
        except TimeoutError as exc:
            await self.kill()
            raise WorkerLost(f"worker gave no answer within {timeout_s:g} s") from exc
        except FrameError as exc:
            await self.kill()
            raise WorkerLost("worker exited") from exc
        if not isinstance(reply, dict):
            await self.kill()
            raise WorkerLost("worker answered out of protocol")
        return reply

    async def kill(self) -> None:
        """SIGKILL the worker's whole process group and reap it."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.returncode is None:  # once reaped, its group id may belong to another
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
        await process.wait()

    async def stop(self) -> None:
        """Close the worker's input (it exits), then kill whatever is left of its group."""
        process = self._process
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), STOP_GRACE_S)
        await self.kill()
