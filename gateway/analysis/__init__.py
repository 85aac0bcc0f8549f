"""Presidio analysis in supervised worker processes owned by the application lifespan.

``AnalysisPool`` starts the workers (``worker.py``, plain subprocesses speaking
length-prefixed JSON over their standard streams: no multiprocessing, no resource
tracker), schedules chat work before bulk work in bounded batches, replaces workers that
crash or hang, and stops them all when the lifespan ends. Workers die with the gateway
even when it is SIGKILLed (parent-death signal, plus a watch on the parent).

The names below are imported on first use: a worker process (``python -m
gateway.analysis.worker``) and ``gateway serve`` before it spawns the workers import
this package without the pool, asyncio or structlog.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.analysis.config import PoolConfig, default_workers
    from gateway.analysis.lanes import AnalysisFailed
    from gateway.analysis.pool import AnalysisPool

__all__ = ["AnalysisFailed", "AnalysisPool", "PoolConfig", "default_workers"]

_HOMES = {
    "AnalysisFailed": "gateway.analysis.lanes",
    "AnalysisPool": "gateway.analysis.pool",
    "PoolConfig": "gateway.analysis.config",
    "default_workers": "gateway.analysis.config",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
