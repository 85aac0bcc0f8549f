"""One analysis worker subprocess, seen from the gateway: start, run a batch, stop.

``spawn`` starts a worker without an event loop (``gateway serve`` calls it before it
imports the application, so the model loads while the gateway imports and starts); the
pool's first ``WorkerProcess`` of each slot then adopts it. Later workers are spawned
from the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from gateway.analysis.framing import FrameError, encode, read_frame_async
from gateway.analysis.launch import spawn, worker_env
from gateway.pii.analyzer import PiiSpan

__all__ = ["Sent", "WorkerError", "WorkerLost", "WorkerProcess", "spawn"]

STOP_GRACE_S = 2.0


class _Child(Protocol):
    """What this module needs of a worker: asyncio's Process, or an adopted Popen."""

    pid: int
    stdin: asyncio.StreamWriter | None
    stdout: asyncio.StreamReader | None

    @property
    def returncode(self) -> int | None: ...

    async def wait(self) -> int: ...


class _Adopted:
    """A worker spawned before the event loop ran, with its pipes on the loop."""

    def __init__(
        self,
        popen: subprocess.Popen[bytes],
        stdin: asyncio.StreamWriter,
        stdout: asyncio.StreamReader,
    ) -> None:
        self._popen = popen
        self.pid = popen.pid
        self.stdin: asyncio.StreamWriter | None = stdin
        self.stdout: asyncio.StreamReader | None = stdout

    @classmethod
    async def attach(cls, popen: subprocess.Popen[bytes]) -> _Adopted:
        loop = asyncio.get_running_loop()
        assert popen.stdin is not None
        assert popen.stdout is not None
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), popen.stdout)
        transport, protocol = await loop.connect_write_pipe(
            lambda: asyncio.StreamReaderProtocol(asyncio.StreamReader()), popen.stdin
        )
        return cls(popen, asyncio.StreamWriter(transport, protocol, None, loop), reader)

    @property
    def returncode(self) -> int | None:
        return self._popen.poll()

    async def wait(self) -> int:
        """Until the process has exited (a pidfd where there is one, else polling)."""
        while (code := self._popen.poll()) is None:
            try:
                fd = os.pidfd_open(self.pid)
            except (AttributeError, OSError):
                await asyncio.sleep(0.1)
                continue
            try:
                exited = asyncio.get_running_loop().create_future()
                asyncio.get_running_loop().add_reader(fd, exited.set_result, None)
                try:
                    await exited
                finally:
                    asyncio.get_running_loop().remove_reader(fd)
            finally:
                os.close(fd)
        if self.stdin is not None:
            self.stdin.close()
        return code


class WorkerLost(Exception):
    """The worker died, hung past its timeout or broke the protocol; it has been killed."""


class WorkerError(Exception):
    """The worker is alive but analysing this batch raised (named by exception type)."""


@dataclass(frozen=True, slots=True)
class Sent:
    """A batch handed to a worker and not yet answered."""

    texts: int
    timeout_s: float


class WorkerProcess:
    def __init__(
        self, python: str, preload: Sequence[str], spawned: subprocess.Popen[bytes] | None = None
    ) -> None:
        self._python = python
        self._preload = list(preload)
        self._spawned = spawned
        self._process: _Child | None = None
        self.engines: set[str] = set()
        self.load_s: float | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    async def start(self, timeout_s: float) -> None:
        """Spawn (or adopt) the worker in its own process group and wait until its
        engines are loaded."""
        started = time.perf_counter()
        spawned, self._spawned = self._spawned, None
        if spawned is not None:
            self._process = await _Adopted.attach(spawned)
        else:
            # Spawned from the event loop's thread: the parent-death signal follows the
            # thread that forked, so this must not run in a short-lived executor thread.
            self._process = await asyncio.create_subprocess_exec(
                self._python,
                "-m",
                "gateway.analysis.worker",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                start_new_session=True,
                env=worker_env(self._preload),
            )
        reply = await self._receive(timeout_s)
        if not reply.get("ready"):
            await self.kill()
            raise WorkerLost("worker did not report ready")
        self.engines = set(self._preload)
        self.load_s = time.perf_counter() - started

    async def run(self, engine: str, texts: list[str], timeout_s: float) -> list[list[PiiSpan]]:
        """Spans per text from ``engine`` (``lean``, ``full`` or a pattern engine);
        WorkerError if analysis raised, WorkerLost if the worker is gone."""
        sent = await self.send(engine, texts, timeout_s)
        return await self.answer(sent)

    async def send(self, engine: str, texts: list[str], timeout_s: float) -> Sent:
        """Hand the worker a batch without waiting for its answer: it reads batches in
        order, so one can wait in its input while it analyses the last (``answer``
        collects the answers in the order sent). WorkerLost if the worker is gone."""
        process = self._process
        if process is None or process.stdin is None:
            raise WorkerLost("worker not started")
        if engine not in self.engines:
            timeout_s *= 4  # the engine loads first (seconds)
        try:
            process.stdin.write(encode({"engine": engine, "texts": texts}))
            # A worker that stops reading (hung on the batch before) must not hold us.
            await asyncio.wait_for(process.stdin.drain(), timeout_s)
        except (ConnectionError, RuntimeError) as exc:
            await self.kill()
            raise WorkerLost("worker input closed") from exc
        except TimeoutError as exc:
            await self.kill()
            raise WorkerLost(f"worker read no input within {timeout_s:g} s") from exc
        return Sent(len(texts), timeout_s)

    async def answer(self, sent: Sent) -> list[list[PiiSpan]]:
        """The answer to the oldest batch sent and not yet answered: spans per text,
        WorkerError if its analysis raised, WorkerLost if the worker is gone or silent
        for the batch's timeout (counted from this call)."""
        reply = await self._receive(sent.timeout_s)
        self.engines = {str(e) for e in reply.get("engines", [])}
        if "error" in reply:
            raise WorkerError(str(reply["error"]))
        spans = reply.get("spans")
        if not isinstance(spans, list) or len(spans) != sent.texts:
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

    async def exited(self) -> None:
        """Returns when the worker process has ended (however that happened)."""
        if self._process is not None:
            await self._process.wait()

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
