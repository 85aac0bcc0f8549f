"""Per-stage timings: a Server-Timing header on each response and Prometheus histograms.

The registry belongs to the running app (created in the lifespan), not to the module, so
tests and several apps in one process never share counters.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.stage_seconds = Histogram(
            "gateway_stage_seconds",
            "Time spent per request stage",
            ["stage"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.requests = Counter(
            "gateway_chat_requests",
            "Chat requests by outcome",
            ["outcome"],
            registry=self.registry,
        )
        self.auth_failures = Counter(
            "gateway_auth_failures",
            "Requests refused for a missing or invalid credential, by reason",
            ["reason"],
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "gateway_rate_limited",
            "Requests refused by a per-caller limit, by limit",
            ["limit"],
            registry=self.registry,
        )
        self.chunks_injected = Counter(
            "gateway_chunks_injected", "Chunks injected into prompts", registry=self.registry
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)


class StageTimer:
    """Collects one request's stage durations."""

    def __init__(self, metrics: GatewayMetrics) -> None:
        self._metrics = metrics
        self.durations: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.record(name, time.perf_counter() - started)

    def record(self, name: str, seconds: float) -> None:
        self.durations[name] = self.durations.get(name, 0.0) + seconds
        self._metrics.stage_seconds.labels(stage=name).observe(seconds)

    def server_timing(self) -> str:
        """``Server-Timing: authorize;dur=1.2, retrieve;dur=4.0`` (milliseconds)."""
        return ", ".join(
            f"{name};dur={seconds * 1000:.2f}" for name, seconds in self.durations.items()
        )
