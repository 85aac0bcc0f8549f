"""``gateway serve --workers N``: N gateway processes on one listening socket.

The supervisor binds ``host:port`` once and hands the socket to N worker processes
(``gateway.serving.worker``), each a complete gateway: its own event loop, clients, PII
analysis pool and audit chain. A worker accepts connections only once its lifespan has
started, so a worker still starting (or restarting) takes no traffic; the kernel hands
each new connection to one of the workers waiting on the socket.

Guarantees kept from the single process:
- **Audit before forward**: each worker appends to its own chain (writer id
  ``<GATEWAY_AUDIT_WRITER_ID>-w<i>``, or ``w<i>``), durably, before its upstream call; a
  restarted worker continues its chain. The writer also holds an exclusive lock on its
  chain, so two processes can never write one chain, whatever the configuration.
- **Fail closed**: a worker that cannot start (exit code 3, e.g. a refused audit log)
  stops the whole server with that code, as a single process would; a worker that dies
  later is restarted (backoff 0.5 s doubling to 30 s) while the others keep serving.
- **PII analysis per worker**: each worker owns its Presidio pool, so its readiness and
  fail-closed answers depend on nothing another process holds (a shared pool would be a
  cross-process single point of failure behind an IPC server). The machine's budget is
  split instead: without ``GATEWAY_PII_WORKERS``, each worker gets
  ``max(1, default // N)`` Presidio processes (default: one per core beyond the first).
- **No orphans**: SIGTERM/SIGINT to the supervisor stops every worker gracefully (then
  SIGKILL after the grace period); if the supervisor itself is killed (SIGKILL), each
  worker gets SIGTERM from the kernel (``PR_SET_PDEATHSIG``) and shuts down gracefully,
  closing its PII workers.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from types import FrameType

import structlog

from gateway.analysis import default_workers
from gateway.audit.segments import check_writer
from gateway.serving.server import GRACEFUL_SHUTDOWN_S, STARTUP_FAILURE
from gateway.settings import Settings

log = structlog.get_logger("gateway.supervisor")

_POLL_S = 0.1
_BACKOFF_INITIAL_S = 0.5
_BACKOFF_MAX_S = 30.0
_STABLE_S = 60.0
"""A worker that ran this long resets its restart backoff."""


def writer_ids(settings: Settings, workers: int) -> list[str]:
    """One audit writer id per worker: ``<base>-w<i>`` (``w<i>`` without a base)."""
    base = settings.audit_writer_id
    ids = [f"{base}-w{i}" if base else f"w{i}" for i in range(1, workers + 1)]
    for writer in ids:
        check_writer(writer)
    return ids


def pii_workers_each(workers: int) -> int:
    """Presidio processes per gateway worker when not configured: the single-process
    default, shared out over the workers (at least one each)."""
    return max(1, default_workers() // workers)


@dataclass
class _Worker:
    index: int
    writer_id: str
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restart_at: float | None = None
    backoff: float = _BACKOFF_INITIAL_S
    exits: list[int] = field(default_factory=list)


class Supervisor:
    """Run ``workers`` gateway processes until SIGTERM/SIGINT; ``run`` returns the exit code."""

    def __init__(self, settings: Settings, workers: int) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.settings = settings
        self.workers = [_Worker(i + 1, w) for i, w in enumerate(writer_ids(settings, workers))]
        self._stop_signal: int | None = None
        self._socket: socket.socket | None = None

    def run(self) -> int:
        self._socket = _listen(self.settings.host, self.settings.port)
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)
        }
        host, port = self._socket.getsockname()[:2]
        log.info("supervisor_started", host=host, port=port, workers=len(self.workers))
        try:
            return self._loop()
        finally:
            self._stop_all()
            self._socket.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self._stop_signal = signum

    def _loop(self) -> int:
        for worker in self.workers:
            self._spawn(worker)
        while self._stop_signal is None:
            now = time.monotonic()
            for worker in self.workers:
                if worker.process is not None:
                    code = worker.process.poll()
                    if code is None:
                        continue
                    if self._exited(worker, code, now):
                        return STARTUP_FAILURE
                elif worker.restart_at is not None and now >= worker.restart_at:
                    self._spawn(worker)
            time.sleep(_POLL_S)
        log.info("supervisor_stopping", signal=signal.Signals(self._stop_signal).name)
        return 0

    def _exited(self, worker: _Worker, code: int, now: float) -> bool:
        """Handle a worker's exit; True if the whole server must stop (start-up failed)."""
        worker.process = None
        worker.exits.append(code)
        if code == STARTUP_FAILURE:
            log.error("worker_start_failed", worker=worker.index, writer_id=worker.writer_id)
            return True
        if now - worker.started_at >= _STABLE_S:
            worker.backoff = _BACKOFF_INITIAL_S
        worker.restart_at = now + worker.backoff
        log.error(
            "worker_exited",
            worker=worker.index,
            writer_id=worker.writer_id,
            code=code,
            restart_in_s=worker.backoff,
        )
        worker.backoff = min(worker.backoff * 2, _BACKOFF_MAX_S)
        return False

    def _spawn(self, worker: _Worker) -> None:
        assert self._socket is not None
        fd = self._socket.fileno()
        env = {**os.environ, "GATEWAY_AUDIT_WRITER_ID": worker.writer_id}
        if self.settings.pii_workers is None:
            env["GATEWAY_PII_WORKERS"] = str(pii_workers_each(len(self.workers)))
        worker.process = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
            [
                sys.executable,
                "-m",
                "gateway.serving.worker",
                "--fd",
                str(fd),
                "--parent",
                str(os.getpid()),
            ],
            env=env,
            pass_fds=(fd,),
        )
        worker.started_at, worker.restart_at = time.monotonic(), None
        log.info(
            "worker_started",
            worker=worker.index,
            writer_id=worker.writer_id,
            pid=worker.process.pid,
        )

    def _stop_all(self) -> None:
        """SIGTERM every worker, wait for the graceful shutdown, SIGKILL what remains."""
        running = [w.process for w in self.workers if w.process is not None]
        for process in running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + GRACEFUL_SHUTDOWN_S + 5
        for process in running:
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.error("worker_killed", pid=process.pid)  # noqa: TRY400 (no traceback to show)
                process.kill()
                process.wait()
        for worker in self.workers:
            worker.process = None


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family, backlog=2048)
    sock.set_inheritable(True)
    return sock
