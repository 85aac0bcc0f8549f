"""Shared rate limits: what admission costs a request, and what one sync costs.

    uv run python tests/bench/bench_limits.py                      # needs the local stack
    uv run python tests/bench/bench_limits.py --callers 10 100 1000 --json out.json

1. admission: CPU microseconds per ``CallerLimiter.admit`` (requests and tokens per
   minute, counts known from a sync), over ``--callers`` distinct callers. This is all a
   request pays on the hot path: no Elasticsearch round trip.
2. sync: one ``LimitSync`` round against the real Elasticsearch, with every caller
   having new use since the last round (the worst case: one update per caller and
   window in one ``_bulk``), and with no new use (one ``_mget``). Median wall time and
   this process's CPU per round, with the load average (the machine is shared).
Not a test: the numbers go to stdout (and ``--json``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

from gateway.elastic import ChunkIndex
from gateway.limit_sync import LimitSync
from gateway.limits import CallerLimiter, CallerLimits
from gateway.settings import load_settings

LIMITS = CallerLimits(requests_per_minute=1_000_000, tokens_per_minute=1_000_000_000)


def bench_admission(callers: int, admissions: int) -> float:
    """CPU microseconds per admit, counts known (as after a sync)."""
    limiter = CallerLimiter(shared=True)
    subjects = [f"user-{n}" for n in range(callers)]
    for subject in subjects:
        limiter.needs_sync(subject, LIMITS)
    limiter.learned([(item, 0) for item in limiter.to_sync()], 1)
    started = time.process_time()
    for n in range(admissions):
        limiter.admit(subjects[n % callers], LIMITS, 120)()
    return (time.process_time() - started) / admissions * 1e6


async def bench_sync(callers: int, rounds: int) -> dict[str, float]:
    """Median wall ms and CPU ms of one round, with and without new use."""
    settings = load_settings(index_prefix=f"gateway-bench-{uuid.uuid4().hex[:8]}")
    limiter = CallerLimiter()
    subjects = [f"user-{n}" for n in range(callers)]
    writes: list[tuple[float, float]] = []
    reads: list[tuple[float, float]] = []
    async with (
        ChunkIndex.from_settings(settings) as index,
        LimitSync(limiter, index.client, settings.index_prefix, interval_s=3600) as sync,
    ):
        try:
            await sync.round()
            for _ in range(rounds):
                for subject in subjects:
                    limiter.admit(subject, LIMITS, 50)()
                writes.append(await _timed(sync))
                reads.append(await _timed(sync))
        finally:
            await index.client.indices.delete(index=sync.index, ignore_unavailable=True)
    return {
        "write_round_wall_ms": statistics.median(w for w, _ in writes),
        "write_round_cpu_ms": statistics.median(c for _, c in writes),
        "read_round_wall_ms": statistics.median(w for w, _ in reads),
        "read_round_cpu_ms": statistics.median(c for _, c in reads),
    }


async def _timed(sync: LimitSync) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    await sync.round()
    return (time.perf_counter() - wall) * 1e3, (time.process_time() - cpu) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--callers", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--admissions", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results: dict[str, Any] = {"load_average_before": [round(x, 2) for x in os.getloadavg()]}
    for callers in args.callers:
        row: dict[str, float] = {"admit_cpu_us": bench_admission(callers, args.admissions)}
        row.update(asyncio.run(bench_sync(callers, args.rounds)))
        results[f"callers_{callers}"] = row
        print(f"{callers:>6} callers: " + ", ".join(f"{k} {v:.2f}" for k, v in row.items()))
    results["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    print(f"load average {results['load_average_before']} -> {results['load_average_after']}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
