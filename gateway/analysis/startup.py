"""The pool a gateway's settings ask for, and its workers started before anything else.

Start-up is bounded by the worker's model load (seconds), not by the gateway's own
imports, when the workers start first: ``gateway serve`` calls ``spawn_early`` right
after reading its settings, before it imports the application (litestar, Elasticsearch,
numpy...), and hands the processes to ``create_app``; the lifespan's pool adopts them.
Importing this module loads nothing heavy.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from typing import TYPE_CHECKING

from gateway.analysis.config import PoolConfig, default_workers
from gateway.analysis.launch import spawn

if TYPE_CHECKING:
    from gateway.settings import Settings


def analysis_enabled(settings: Settings) -> bool:
    return settings.message_pii_analysis or settings.finetune_pii_scan


def pool_config(settings: Settings) -> PoolConfig:
    return PoolConfig(
        workers=settings.pii_workers or default_workers(),
        batch_max_chars=settings.pii_batch_max_chars,
        batch_timeout_s=settings.pii_batch_timeout_s,
        start_timeout_s=settings.pii_worker_start_timeout_s,
        request_timeout_s=settings.pii_request_timeout_s,
        # Only chat needs an engine at once; the full one loads on the first bulk job.
        preload=("lean",) if settings.message_pii_analysis else ("full",),
    )


def spawn_early(settings: Settings) -> list[subprocess.Popen[bytes]]:
    """Start the pool's workers now (no event loop needed); none if analysis is off."""
    if not analysis_enabled(settings):
        return []
    config = pool_config(settings)
    return [spawn(config.python, config.preload) for _ in range(config.workers)]


def stop_early(workers: list[subprocess.Popen[bytes]]) -> None:
    """Kill workers ``spawn_early`` started (start-up failed before the pool adopted them)."""
    for process in workers:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
