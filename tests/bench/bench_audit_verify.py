"""Audit verify benchmark: records per second of ``gateway audit verify``.

    uv run python tests/bench/bench_audit_verify.py                  # 300k records
    uv run python tests/bench/bench_audit_verify.py --records 1000000 --json out.json

Writes a signed log of ``--records`` realistic request records (bench_audit's, five
chunks each, ~2.9 KB a line) with the writer (group commit through concurrent appends,
``--segment-mb`` segments), then times, on the same log: the record-by-record walk
(parse, re-serialise canonically, hash: what verify did before), ``verify`` on one
process (segment scans on the stored bytes), and ``verify`` with one worker per CPU
(what the CLI runs). Not a test: the numbers go to stdout (and ``--json``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from gateway.audit import AuditLog, verify
from gateway.audit.checkpoint import signing_key
from gateway.audit.verify import _Verifier
from tests.bench.bench_audit import KEY, request_record


async def write(directory: Path, records: int, segment_bytes: int) -> None:
    async with AuditLog(directory, hmac_key=KEY, segment_max_bytes=segment_bytes) as audit:

        async def worker(first: int) -> None:
            for n in range(first, records, 64):
                await audit.append("request", request_record(n))

        await asyncio.gather(*(worker(w) for w in range(64)))


def timed(label: str, check: Any, records: int) -> dict[str, Any]:
    started = time.perf_counter()
    report = check()
    seconds = time.perf_counter() - started
    assert report.ok, report.first_error
    assert report.records >= records, report.records
    return {
        "what": label,
        "seconds": round(seconds, 2),
        "records_per_s": round(report.records / seconds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=300_000)
    parser.add_argument("--segment-mb", type=int, default=32)
    parser.add_argument("--dir", type=Path, help="audit directory (default: a temporary one)")
    parser.add_argument("--json", dest="json_path", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-verify-") as temporary:
        directory = args.dir or Path(temporary) / "audit"
        started = time.perf_counter()
        asyncio.run(write(directory, args.records, args.segment_mb * 1024 * 1024))
        size = sum(p.stat().st_size for p in directory.glob("audit-*.jsonl"))
        workers = os.cpu_count() or 1
        results = {
            "records": args.records,
            "log_mb": round(size / 1e6, 1),
            "segments": len(list(directory.glob("audit-*.jsonl"))),
            "write_s": round(time.perf_counter() - started, 1),
            "cpus": workers,
            "runs": [
                timed(
                    "record-by-record walk (before)",
                    lambda: _Verifier(directory, signing_key(KEY)).run(),
                    args.records,
                ),
                timed("verify, 1 process", lambda: verify(directory, KEY), args.records),
                timed(
                    f"verify, {workers} workers",
                    lambda: verify(directory, KEY, workers=workers),
                    args.records,
                ),
            ],
        }
    print(json.dumps(results, indent=2))
    if args.json_path:
        args.json_path.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
