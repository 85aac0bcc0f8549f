"""Presidio analysis in supervised worker processes owned by the application lifespan.

``AnalysisPool`` starts the workers (``worker.py``, plain subprocesses speaking
length-prefixed JSON over their standard streams: no multiprocessing, no resource
tracker), schedules chat work before bulk work in bounded batches, replaces workers that
crash or hang, and stops them all when the lifespan ends. Workers die with the gateway
even when it is SIGKILLed (parent-death signal, plus a watch on the parent).
"""

from gateway.analysis.pool import AnalysisFailed, AnalysisPool, PoolConfig, default_workers

__all__ = ["AnalysisFailed", "AnalysisPool", "PoolConfig", "default_workers"]
