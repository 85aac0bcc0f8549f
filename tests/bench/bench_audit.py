"""Audit benchmark: what a durable, hash-chained append costs a request.

    uv run python tests/bench/bench_audit.py                 # 100 req/s for 20 s, then max
    uv run python tests/bench/bench_audit.py --dir /var/lib/gateway/bench --json out.json

Appends a realistic request record (five chunks with redaction summaries, as the chat
path writes them) with durability on (fdatasync before ``append`` returns), a signing
key and the default checkpoint interval, into a fresh directory (a temporary one unless
``--dir``; run it on the disk the gateway will use). Measures, per ``append``:
1. paced: open-loop arrivals at ``--rate`` per second for ``--duration`` s, the way
   requests arrive (a slow append does not delay the next arrival);
2. sequential: one append after another (no group commit possible);
3. saturated: ``--concurrency`` workers appending back to back, the maximum throughput.
Not a test: the numbers go to stdout (and ``--json``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from gateway.audit import AuditLog, verify

KEY = "bench-key-" + "x" * 32


def request_record(n: int) -> dict[str, Any]:
    """A request record shaped like gateway/http/chat.py's, with five retrieved chunks."""
    return {
        "request_id": f"req_{n:012d}",
        "endpoint": "chat.completions",
        "subject": f"user{n % 200}",
        "groups": ["engineering", "support"],
        "key_id": f"user{n % 200}-laptop",
        "client_address": "10.1.2.3",
        "user_agent": "OpenAI/Python 1.51.0",
        "model": "gpt-4o-mini",
        "stream": n % 2 == 0,
        "policy_decision_ids": [f"4f1c2b7e-0000-4000-8000-{n:012d}"],
        "allowed": True,
        "policy_revision": "rev-20260101-abcdef",
        "retrieval": {"enabled": True, "query_sha256": "d" * 64},
        "upstream_body_sha256": "e" * 64,
        "chunks": [
            {
                "doc_id": f"doc-{(n + k) % 997}",
                "doc_version": "7f3a9c",
                "chunk_id": f"doc-{(n + k) % 997}#{k}",
                "corpus": ["handbook", "tickets", "contracts"][k % 3],
                "classification": ["internal", "confidential"][k % 2],
                "sha256_injected": "a" * 64,
                "sha256_original": "b" * 64,
                "redactions": [
                    {"entity_type": "EMAIL_ADDRESS", "operator": "replace", "count": 2},
                    {"entity_type": "PERSON", "operator": "mask", "count": 1},
                ],
            }
            for k in range(5)
        ],
    }


def summary(latencies_s: list[float], elapsed_s: float, commits: int) -> dict[str, Any]:
    ms = sorted(x * 1000 for x in latencies_s)
    quantiles = statistics.quantiles(ms, n=100, method="inclusive")
    return {
        "appends": len(ms),
        "p50_ms": round(quantiles[49], 3),
        "p90_ms": round(quantiles[89], 3),
        "p99_ms": round(quantiles[98], 3),
        "max_ms": round(ms[-1], 3),
        "throughput_per_s": round(len(ms) / elapsed_s, 1),
        "commits": commits,
        "records_per_commit": round(len(ms) / max(commits, 1), 2),
    }


async def paced(audit: AuditLog, rate: float, duration_s: float) -> dict[str, Any]:
    latencies: list[float] = []
    tasks: set[asyncio.Task[None]] = set()

    async def one(n: int) -> None:
        record = request_record(n)  # built by the chat path before it audits
        started = time.perf_counter()
        await audit.append("request", record)
        latencies.append(time.perf_counter() - started)

    commits = audit.commits
    start = time.perf_counter()
    for n in range(int(rate * duration_s)):
        delay = start + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(n))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await asyncio.gather(*tasks)
    result = summary(latencies, time.perf_counter() - start, audit.commits - commits)
    return {"rate_per_s": rate, "duration_s": duration_s, **result}


async def sequential(audit: AuditLog, count: int) -> dict[str, Any]:
    latencies = []
    commits = audit.commits
    start = time.perf_counter()
    for n in range(count):
        record = request_record(n)
        started = time.perf_counter()
        await audit.append("request", record)
        latencies.append(time.perf_counter() - started)
    return summary(latencies, time.perf_counter() - start, audit.commits - commits)


async def saturated(audit: AuditLog, concurrency: int, duration_s: float) -> dict[str, Any]:
    latencies: list[float] = []
    commits = audit.commits
    start = time.perf_counter()
    deadline = start + duration_s

    async def worker(w: int) -> None:
        n = w
        while time.perf_counter() < deadline:
            record = request_record(n)
            started = time.perf_counter()
            await audit.append("request", record)
            latencies.append(time.perf_counter() - started)
            n += concurrency

    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    result = summary(latencies, time.perf_counter() - start, audit.commits - commits)
    return {"concurrency": concurrency, "duration_s": duration_s, **result}


async def run(args: argparse.Namespace, directory: Path) -> dict[str, Any]:
    record_bytes = len(json.dumps(request_record(0), separators=(",", ":"))) + 250
    results: dict[str, Any] = {"directory": str(directory), "record_bytes": record_bytes}
    async with AuditLog(directory, hmac_key=KEY) as audit:
        results["paced"] = await paced(audit, args.rate, args.duration)
        results["sequential"] = await sequential(audit, args.sequential)
        results["saturated"] = await saturated(audit, args.concurrency, args.max_duration)
    started = time.perf_counter()
    report = verify(directory, KEY)
    results["verify"] = {
        "ok": report.ok,
        "records": report.records,
        "seconds": round(time.perf_counter() - started, 2),
    }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=100.0, help="paced appends per second")
    parser.add_argument("--duration", type=float, default=20.0, help="paced run, seconds")
    parser.add_argument("--sequential", type=int, default=2000, help="sequential appends")
    parser.add_argument("--concurrency", type=int, default=32, help="saturated workers")
    parser.add_argument("--max-duration", type=float, default=5.0, help="saturated run, s")
    parser.add_argument("--dir", type=Path, help="audit directory (default: a temporary one)")
    parser.add_argument("--json", dest="json_path", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as temporary:
        directory = args.dir or Path(temporary) / "audit"
        results = asyncio.run(run(args, directory))
    print(json.dumps(results, indent=2))
    if args.json_path:
        args.json_path.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
