"""The supervised pool: two lanes (chat before bulk), bounded batches, replaced workers.

Callers submit a job (texts) to a lane. Texts are cut into bounded segments
(``segments.py``); each free worker takes its next batch from the chat lane, and from the
bulk lane only when no chat work waits. While no chat has come for ``chat_quiet_s``, a
worker holds up to ``bulk_in_flight`` bulk batches (the one it analyses and the next,
already in its input), so it does not idle while the gateway collects an answer; while
chat comes, one. So bulk work delays a chat text by at most one batch per worker (the
first after a quiet spell: ``bulk_in_flight``). Within a lane, jobs take turns segment
by segment, so one large job cannot hold back a small one either.

A batch whose worker dies or hangs (``batch_timeout_s``) has its worker killed and
replaced; a batch that fails, either way, is retried one input at a time so the failure
lands on the input that caused it, and the others are answered. A job that fails, times
out (``request_timeout_s``) or meets a pool in which no worker can start, raises
``AnalysisFailed`` (503): the caller fails closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import structlog

from gateway.analysis.config import PoolConfig, pattern_engine
from gateway.analysis.lanes import AnalysisFailed, Item, Job, Lane
from gateway.analysis.process import Sent, WorkerError, WorkerLost, WorkerProcess
from gateway.pii.analyzer import PiiSpan

log = structlog.get_logger("gateway.analysis")

_RESTART_BACKOFF_S = (0.2, 1.0, 5.0, 30.0)


@dataclass
class _Slot:
    number: int
    state: str = "starting"  # starting | ready | failed | stopped
    pid: int | None = None
    restarts: int = 0
    load_s: float | None = None


class AnalysisPool:
    """Lifespan-owned pool: ``async with AnalysisPool(config) as pool``.

    Entering spawns the workers and returns at once (models load in the background);
    ``ready_workers`` says how many can serve, and jobs wait for the first.
    """

    def __init__(self, config: PoolConfig, spawned: Sequence[subprocess.Popen[bytes]] = ()) -> None:
        self._config = config
        # Workers started before the event loop ran, adopted by the first slots.
        self._spawned = list(spawned)
        self._chat = Lane("chat")
        self._bulk = Lane("bulk")
        self._work = asyncio.Event()
        self._slots = [_Slot(n) for n in range(config.workers)]
        self._tasks: list[asyncio.Task[None]] = []
        self._processes: dict[int, WorkerProcess] = {}
        self._closing = False
        self._served = asyncio.Event()  # set while at least one worker is ready
        self._pending: set[Job] = set()  # queued or in flight
        self._chat_at = float("-inf")  # when chat work last came (time.monotonic)

    async def __aenter__(self) -> AnalysisPool:
        self._tasks = [
            asyncio.create_task(self._supervise(slot), name=f"analysis-worker-{slot.number}")
            for slot in self._slots
        ]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Fail what is queued, stop every worker (closing its input, then SIGKILL)."""
        self._closing = True
        self._fail_pending("the gateway is shutting down")
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await asyncio.gather(*(p.stop() for p in self._processes.values()))
        for never_adopted in self._spawned:
            never_adopted.kill()
            never_adopted.wait()
        self._spawned.clear()
        self._processes.clear()
        for slot in self._slots:
            slot.state, slot.pid = "stopped", None

    # -- the interface callers use ---------------------------------------------------

    async def analyze(self, texts: Sequence[str]) -> list[list[PiiSpan]]:
        """Full spaCy pipeline, bulk lane (fine-tune scans): scores as Presidio gives them."""
        return await self._submit(self._bulk, texts, "full")

    async def analyze_messages(self, texts: Sequence[str]) -> list[list[PiiSpan]]:
        """Lean pipeline, chat lane: callers' messages, ahead of any bulk work."""
        return await self._submit(self._chat, texts, "lean")

    async def analyze_patterns(
        self, texts: Sequence[str], types: Sequence[str] | None, floor: float = 0.0
    ) -> list[list[PiiSpan]]:
        """Pattern recognizers only (``gateway.finetune.pii_patterns``), bulk lane: the
        fine-tune scan's lane when the policy asks for no NER type. Spans scoring below
        ``floor`` may be left out."""
        return await self._submit(self._bulk, texts, pattern_engine(types, floor))

    def ready_workers(self) -> int:
        return sum(slot.state == "ready" for slot in self._slots)

    def status(self) -> dict[str, Any]:
        """For /readyz: can any worker serve, and what each one is doing."""
        return {
            "ready_workers": self.ready_workers(),
            "workers": [
                {"state": s.state, "pid": s.pid, "restarts": s.restarts} for s in self._slots
            ],
            "queued": {
                "chat": sum(len(j.segments) - j.next for j in self._chat.jobs),
                "bulk": sum(len(j.segments) - j.next for j in self._bulk.jobs),
            },
        }

    def pids(self) -> list[int]:
        return [slot.pid for slot in self._slots if slot.pid is not None]

    async def wait_ready(self, timeout_s: float) -> None:
        """Until a worker can serve (tests, benchmarks and the CLI)."""
        await asyncio.wait_for(self._served.wait(), timeout_s)

    async def _submit(self, lane: Lane, texts: Sequence[str], engine: str) -> list[list[PiiSpan]]:
        if self._closing:
            raise AnalysisFailed("the gateway is shutting down")
        if self._slots and all(slot.state == "failed" for slot in self._slots):
            raise AnalysisFailed("no analysis worker can start")
        config = self._config
        patterns = engine.startswith("patterns:")
        job = Job(
            texts,
            engine,
            config.pattern_batch_max_chars if patterns else config.batch_max_chars,
            config.pattern_batch_max_texts if patterns else config.batch_max_texts,
            config.pattern_batch_quiet_chars if patterns else None,
        )
        if job.future.done():
            return job.future.result()
        if lane is self._chat:
            self._chat_at = time.monotonic()
        lane.jobs.append(job)
        self._pending.add(job)
        self._work.set()
        try:
            return await asyncio.wait_for(job.future, self._config.request_timeout_s)
        except TimeoutError:
            raise AnalysisFailed(
                f"not analysed within {self._config.request_timeout_s:g} s"
            ) from None
        finally:
            self._pending.discard(job)

    # -- supervision -----------------------------------------------------------------

    async def _supervise(self, slot: _Slot) -> None:
        """Keep one worker running: start it, feed it, replace it when it is lost."""
        failures = 0
        while not self._closing:
            spawned = self._spawned.pop() if self._spawned else None
            process = WorkerProcess(self._config.python, self._config.preload, spawned)
            self._processes[slot.number] = process
            slot.state = "starting"
            try:
                await process.start(self._config.start_timeout_s)
            except (WorkerLost, OSError) as exc:
                await process.kill()
                slot.state, slot.pid = "failed", None
                log.error(  # noqa: TRY400 - the reason is the whole story
                    "analysis_worker_start_failed", worker=slot.number, reason=str(exc)
                )
                self._after_state_change()
                await asyncio.sleep(_RESTART_BACKOFF_S[min(failures, len(_RESTART_BACKOFF_S) - 1)])
                failures += 1
                continue
            failures = 0
            slot.state, slot.pid, slot.load_s = "ready", process.pid, process.load_s
            log.info(
                "analysis_worker_ready",
                worker=slot.number,
                pid=process.pid,
                load_s=round(process.load_s or 0, 3),
            )
            self._after_state_change()
            try:
                reason = await self._serve(process)
            except Exception:  # a bug here must not leave a slot that never serves again
                log.exception("analysis_supervisor_error", worker=slot.number)
                await process.kill()
                reason = "supervisor error"
            slot.restarts += 1
            slot.state, slot.pid = "starting", None
            self._after_state_change()
            log.warning("analysis_worker_replaced", worker=slot.number, reason=reason)

    def _after_state_change(self) -> None:
        if self.ready_workers():
            self._served.set()
        else:
            self._served.clear()
        if self._slots and all(slot.state == "failed" for slot in self._slots):
            # No worker can start: fail closed now rather than at the request timeout.
            self._fail_pending("no analysis worker can start")

    def _fail_pending(self, message: str) -> None:
        for job in list(self._pending):
            job.fail(message)

    async def _serve(self, process: WorkerProcess) -> str:
        """Run batches on one worker until it is lost; returns why.

        An idle worker that dies is noticed at once (not at its next batch), so /readyz
        and the restart follow the death itself.
        """
        death = asyncio.create_task(process.exited())
        try:
            return await self._serve_until_lost(process, death)
        finally:
            death.cancel()

    async def _serve_until_lost(self, process: WorkerProcess, death: asyncio.Task[None]) -> str:
        # Batches sent to the worker and not yet answered, oldest first: at most one,
        # or ``bulk_in_flight`` while all of them are bulk work (the worker reads the
        # next while the gateway collects the last answer; chat then waits for at most
        # that many bulk batches).
        sent: deque[tuple[Lane, list[Item], Sent]] = deque()
        while True:
            if not sent:
                waited = await self._wait_for_batch(death)
                if waited is None:
                    await process.kill()
                    return "worker exited while idle"
                lost = await self._send(process, *waited, sent)
                if lost is not None:
                    return lost
            lost = await self._send_more_bulk(process, sent)
            if lost is not None:
                return lost
            lane, batch, handed = sent.popleft()
            try:
                found = await process.answer(handed)
            except WorkerLost as exc:
                self._batch_failed(lane, batch, str(exc))
                for held_lane, waiting, _ in sent:  # never reached: back, blamed on none
                    self._requeue(held_lane, waiting)
                return str(exc)
            except WorkerError as exc:
                self._batch_failed(lane, batch, f"analysis raised {exc}")
                continue
            for item, spans in zip(batch, found, strict=True):
                item.job.answer(item.segment, spans)

    async def _wait_for_batch(self, death: asyncio.Task[None]) -> tuple[Lane, list[Item]] | None:
        """The next batch of either lane, or None if the worker died meanwhile."""
        next_batch = asyncio.create_task(self._next_batch())
        await asyncio.wait({next_batch, death}, return_when=asyncio.FIRST_COMPLETED)
        if not next_batch.done():
            next_batch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await next_batch
        if not next_batch.done() or next_batch.cancelled():
            return None
        return next_batch.result()

    async def _send_more_bulk(
        self, process: WorkerProcess, sent: deque[tuple[Lane, list[Item], Sent]]
    ) -> str | None:
        """Behind bulk batches already sent, more bulk ones up to ``bulk_in_flight``,
        unless chat work waits (it goes next, on its own) or came within
        ``chat_quiet_s`` (then a chat text waits for at most one bulk batch)."""
        quiet_since = self._chat_at + self._config.chat_quiet_s
        while len(sent) < self._config.bulk_batches_held() and sent[-1][0] is self._bulk:
            if self._chat.jobs or self._chat.retries or time.monotonic() < quiet_since:
                return None
            batch = self._bulk.take(quiet=True)
            if not batch:
                return None
            lost = await self._send(process, self._bulk, batch, sent)
            if lost is not None:
                return lost
        return None

    async def _send(
        self,
        process: WorkerProcess,
        lane: Lane,
        batch: list[Item],
        sent: deque[tuple[Lane, list[Item], Sent]],
    ) -> str | None:
        """Hand ``batch`` to the worker; on losing it, every batch it held is retried
        and the reason returned."""
        try:
            handed = await process.send(
                batch[0].job.engine, [item.text for item in batch], self._config.batch_timeout_s
            )
        except WorkerLost as exc:
            # The oldest batch held is the one the worker was analysing: retried as a
            # failed batch; the others it never reached (this one included) go back.
            if sent:
                oldest_lane, oldest, _ = sent.popleft()
                self._batch_failed(oldest_lane, oldest, str(exc))
                for held_lane, held, _ in sent:
                    self._requeue(held_lane, held)
                self._requeue(lane, batch)
            else:
                self._batch_failed(lane, batch, str(exc))
            return str(exc)
        sent.append((lane, batch, handed))
        return None

    def _requeue(self, lane: Lane, batch: list[Item]) -> None:
        """Inputs of a batch the worker never reached: retried alone, blamed on none."""
        lane.retries.extend(batch)
        self._work.set()

    async def _next_batch(self) -> tuple[Lane, list[Item]]:
        while True:
            quiet = time.monotonic() >= self._chat_at + self._config.chat_quiet_s
            for lane in (self._chat, self._bulk):
                batch = lane.take(quiet=quiet and lane is self._bulk)
                if batch:
                    return lane, batch
            self._work.clear()
            await self._work.wait()

    def _batch_failed(self, lane: Lane, batch: list[Item], reason: str) -> None:
        """Retry a failed batch's inputs one by one; an input failing alone fails its job."""
        log.warning("analysis_batch_failed", lane=lane.name, inputs=len(batch), reason=reason)
        if len(batch) == 1:
            batch[0].job.fail("analysis of this request's text failed")
            return
        lane.retries.extend(batch)
        self._work.set()
