"""The pool a gateway's settings ask for, and its workers started before anything else.

Start-up is bounded by the worker's model load (seconds), not by the gateway's own
imports, when the workers start first. A plain ``gateway serve`` starts one worker ahead
of everything, even of reading its settings (``spawn_ahead``, from ``gateway.entry``): it
imports Presidio and spaCy while the gateway loads its command line and settings.
``spawn_early`` then tells that worker what to load (or stops it when analysis is off),
starts any others the settings ask for, before the application (litestar,
Elasticsearch...) is imported, and hands the processes to ``create_app``; the lifespan's
pool adopts them. Importing this module loads nothing heavy.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from typing import TYPE_CHECKING

from gateway.analysis.config import PoolConfig, default_workers, pattern_engine
from gateway.analysis.launch import send_preload, spawn

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
        preload=(("lean",) if settings.message_pii_analysis else ("full",))
        + _scan_preload(settings),
    )


def _scan_preload(settings: Settings) -> tuple[str, ...]:
    """The pattern engine (every type, at the scan's score floor) when uploads are
    scanned without forced NER: warm before ready, it serves the types the policy names
    (``gateway.analysis.worker``), so the first upload after a start pays no set-up."""
    if not settings.finetune_pii_scan or settings.finetune_pii_ner:
        return ()
    return (pattern_engine(None, settings.finetune_pii_min_score),)


_ahead: list[subprocess.Popen[bytes]] = []
"""The worker ``spawn_ahead`` started, until ``spawn_early`` takes it."""


def spawn_ahead() -> None:
    """Start one worker before the settings are known; ``spawn_early`` configures it."""
    _ahead.append(spawn(sys.executable, None))


def take_ahead() -> list[subprocess.Popen[bytes]]:
    """The worker ``spawn_ahead`` started, if any; the caller now owns it."""
    ahead = _ahead.copy()
    _ahead.clear()
    return ahead


def spawn_early(settings: Settings) -> list[subprocess.Popen[bytes]]:
    """The pool's workers, started now (no event loop needed): the one started ahead, if
    any, told what to load, then new ones; none if analysis is off."""
    ahead = take_ahead()
    if not analysis_enabled(settings):
        stop_early(ahead)
        return []
    config = pool_config(settings)
    for process in ahead:
        send_preload(process, config.preload)
    return ahead + [
        spawn(config.python, config.preload) for _ in range(config.workers - len(ahead))
    ]


def stop_early(workers: list[subprocess.Popen[bytes]]) -> None:
    """Kill workers ``spawn_early`` started (start-up failed before the pool adopted them)."""
    for process in workers:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()
