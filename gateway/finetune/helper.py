"""A helper process for the upload scan's CPU work, started on demand.

The scan's parse and fingerprints are Python and numpy: in one process they use one
core. A helper process takes part of a large upload (``gateway.finetune.pieces``). It is
spawned when a scan first asks for it (it loads numpy and the parser while the gateway
parses the first pieces), stays ``idle_s`` after its last job for the next scan, then exits
and is reaped: nothing of it is resident at rest, and ``aclose`` (the lifespan's end)
stops it. It runs ``nice``-d, so that requests served by the gateway come first, and it
dies with the gateway however that ends (``die_with_parent``).

A plain subprocess (``serve``) with length-prefixed pickles on
its standard streams, as the analysis workers do it with JSON: no multiprocessing, so no
resource-tracker process for the gateway's lifetime and no re-import of its main module.
The gateway unpickles only the few classes a reply holds (``_Reply``): a helper that read
a hostile upload cannot make the gateway call anything else.

Fail closed: a helper that dies during a job (killed, out of memory) or whose job raises
fails the job with DependencyUnavailable, and so the scan; the next job starts a new one.
A job cancelled midway kills the helper (its answer would come to the next job).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import pickle
import struct
import sys
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

from gateway.errors import DependencyUnavailable

R = TypeVar("R")

IDLE_S = 30.0
NICE = 5
STOP_GRACE_S = 5.0
_HEADER = struct.Struct(">Q")
_REPLY_CLASSES = frozenset(
    {
        ("numpy", "dtype"),
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy.core.numeric", "_frombuffer"),
        ("gateway.finetune.pieces", "Piece"),
        ("gateway.finetune.examples", "Example"),
        ("gateway.finetune.matcher", "Overlap"),
    }
)


class ScanHelper:
    """One helper process, started by the first job, stopped when idle (an async context
    manager: leaving it stops the helper). One job at a time."""

    def __init__(self, *, idle_s: float = IDLE_S, nice: int = NICE) -> None:
        self._idle_s = idle_s
        self._nice = nice
        self._process: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()
        self._idle: asyncio.TimerHandle | None = None
        self._reaping: set[asyncio.Task[None]] = set()
        self._answered = False

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
        """Whether a helper process is up."""
        return self._process is not None and self._process.returncode is None

    @property
    def pid(self) -> int | None:
        """The helper process's id, when one is up."""
        return self._process.pid if self.running and self._process is not None else None

    @property
    def ready(self) -> bool:
        """Whether a helper process is up and has answered a job (it loaded numpy)."""
        return self.running and self._answered

    @property
    def busy(self) -> bool:
        """Whether a job is being sent or done."""
        return self._lock.locked()

    async def run(self, func: Callable[..., R], *args: Any) -> R:
        """``func(*args)`` in the helper (an importable function; picklable arguments;
        a result of builtins, numpy arrays, ``Piece``, ``Example`` and ``Overlap``)."""
        return await (await self.submit(func, *args))

    async def submit(self, func: Callable[..., R], *args: Any) -> asyncio.Future[R]:
        """``run`` in two steps: this returns once the helper has done the job and
        sent its reply, and is free for the next; the future it returns is the reply
        decoded (in a thread). A caller with more jobs sends the next one first, so
        that the helper does not idle while this process reads the last reply (a
        piece's reply is ~1.5 MB of small objects: ~15 ms of CPU, more while a parse
        thread here holds the GIL)."""
        # In a thread: a job may carry the corpus's local copy (``pieces.hold_corpus``),
        # up to ~100 MB, which would stall the event loop for a tenth of a second.
        return await self.submit_request(await asyncio.to_thread(request, func, *args))

    async def submit_request(self, job: bytes) -> asyncio.Future[Any]:
        """``submit`` of a job pickled already (``request``): a corpus copy sent to
        several helpers is pickled once."""
        async with self._lock:
            if self._idle is not None:
                self._idle.cancel()
                self._idle = None
            process = self._process
            if process is None or process.returncode is not None:  # none, or died idle
                process = await self._start()
            assert process.stdin is not None
            assert process.stdout is not None
            try:
                process.stdin.write(_HEADER.pack(len(job)) + job)
                await process.stdin.drain()
                (size,) = _HEADER.unpack(await process.stdout.readexactly(_HEADER.size))
                body = await process.stdout.readexactly(size)
                self._answered = True
            except (ConnectionError, asyncio.IncompleteReadError) as exc:
                self._discard(process)
                raise DependencyUnavailable("scan helper", "the helper process stopped") from exc
            except BaseException:  # cancelled: its answer must not reach the next job
                self._discard(process)
                raise
            finally:
                if self._process is process:
                    self._idle = asyncio.get_running_loop().call_later(self._idle_s, self._stop)
        return asyncio.ensure_future(_decoded(body))

    async def aclose(self) -> None:
        """Stop the helper (it ends at end of input, killed after ``STOP_GRACE_S``) and
        reap it."""
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        if self._process is not None:
            self._stop()
        if self._reaping:
            await asyncio.gather(*self._reaping, return_exceptions=True)

    async def _start(self) -> asyncio.subprocess.Process:
        self._answered = False
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "from gateway.finetune.helper import serve; serve()",
            str(os.getpid()),
            str(self._nice),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        return self._process

    def _stop(self) -> None:
        """End of input: the helper exits; a task reaps it."""
        self._idle = None
        process, self._process = self._process, None
        if process is not None:
            self._reap(process, kill=False)

    def _discard(self, process: asyncio.subprocess.Process) -> None:
        if self._process is process:
            self._process = None
        self._reap(process, kill=True)

    def _reap(self, process: asyncio.subprocess.Process, *, kill: bool) -> None:
        task = asyncio.get_running_loop().create_task(_reap(process, kill=kill))
        self._reaping.add(task)
        task.add_done_callback(self._reaping.discard)


def request(func: Callable[..., Any], *args: Any) -> bytes:
    """``func(*args)`` as a job a helper reads (``ScanHelper.submit_request``)."""
    return pickle.dumps((func, args), protocol=5)


async def _reap(process: asyncio.subprocess.Process, *, kill: bool) -> None:
    if kill and process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
    if process.stdin is not None:
        process.stdin.close()
    try:
        await asyncio.wait_for(process.wait(), STOP_GRACE_S)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


class _Reply(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _REPLY_CLASSES:
            raise pickle.UnpicklingError(f"{module}.{name} is not a reply's class")
        return super().find_class(module, name)


async def _decoded(body: bytes) -> Any:
    try:
        ok, value = await asyncio.to_thread(_load_reply, body)
    except pickle.UnpicklingError as exc:
        raise DependencyUnavailable("scan helper", "unexpected reply") from exc
    if not ok:
        raise DependencyUnavailable("scan helper", f"the job failed ({value})")
    return value


def _load_reply(body: bytes) -> tuple[bool, Any]:
    ok, value = _Reply(io.BytesIO(body)).load()
    return bool(ok), value


def serve() -> None:
    """The helper's loop (``python -c``; arguments: the gateway's pid, the niceness): a
    job per frame on stdin, its reply as a frame on stdout, until end of input."""
    from gateway.analysis.worker import die_with_parent

    parent, nice = int(sys.argv[1]), int(sys.argv[2])
    die_with_parent(parent)
    if nice:
        os.nice(nice)
    import gateway.finetune.pieces  # noqa: F401  # numpy and the parser, before the first job

    source, sink = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but replies on the reply stream
    while len(header := source.read(_HEADER.size)) == _HEADER.size:
        (size,) = _HEADER.unpack(header)
        # The gateway's own requests (its pipe, no one else's): not untrusted data.
        func, args = pickle.loads(source.read(size))  # noqa: S301
        try:
            reply = (True, func(*args))
        except Exception as exc:  # noqa: BLE001 - any failure is the job's, as its type only (a message could quote the upload)
            reply = (False, type(exc).__name__)
        body = pickle.dumps(reply, protocol=5)
        sink.write(_HEADER.pack(len(body)) + body)
        sink.flush()
