"""Audit verify benchmark: records per second of ``gateway audit verify``.

    uv run python tests/bench/bench_audit_verify.py                  # 300k records, 2 chains
    uv run python tests/bench/bench_audit_verify.py --records 1000000 --chains 4 --json out.json
    uv run python tests/bench/bench_audit_verify.py --records 1000000 --dir /tmp/log --keep

(run twice with ``--keep``, the second run reuses the log the first wrote in ``--dir``:
writing a million records takes minutes)

Writes a signed log of ``--records`` realistic request records (bench_audit's, five
chunks each, ~2.9 KB a line) as ``--chains`` writers appending at once into one
directory (as ``gateway serve --workers N`` does; group commit through concurrent
appends, ``--segment-mb`` segments), then times, on the same log, ``--repeat`` times each
(the median is reported): the record-by-record walk (parse, re-serialise canonically,
hash: what verify did before), ``verify_all`` on one process (segment scans on the stored
bytes), and ``verify_all`` with one worker per CPU (what the CLI runs). Wall-clock
throughput depends on what else the machine runs, so each row also gives CPU seconds
(this process and its workers) and records per CPU second, and the run reports the load
average before and after. Not a test: the numbers go to stdout (and ``--json``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gateway.audit import AuditLog
from gateway.audit.checkpoint import signing_key
from gateway.audit.report import VerifyReport
from gateway.audit.verify import chains, verify_all
from gateway.audit.walk import Verifier
from tests.bench.bench_audit import KEY, request_record


async def write(directory: Path, records: int, segment_bytes: int, writers: int = 1) -> None:
    """``records`` requests over ``writers`` chains (legacy chain when 1), 64 appending
    tasks per writer."""

    async def chain(writer: str | None, share: range) -> None:
        async with AuditLog(
            directory, hmac_key=KEY, segment_max_bytes=segment_bytes, writer_id=writer
        ) as audit:

            async def task(first: int) -> None:
                for n in share[first::64]:
                    await audit.append("request", request_record(n))

            await asyncio.gather(*(task(t) for t in range(64)))

    ids = [None] if writers == 1 else [f"w{i}" for i in range(1, writers + 1)]
    await asyncio.gather(*(chain(w, range(i, records, len(ids))) for i, w in enumerate(ids)))


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(
    label: str, check: Callable[[], list[VerifyReport]], records: int, repeat: int
) -> dict[str, Any]:
    walls, cpus = [], []
    for _ in range(repeat):
        cpu, started = _cpu(), time.perf_counter()
        reports = check()
        walls.append(time.perf_counter() - started)
        cpus.append(_cpu() - cpu)
        assert all(r.ok for r in reports), [r.first_error for r in reports]
        assert sum(r.records for r in reports) >= records
    wall, cpu = statistics.median(walls), statistics.median(cpus)
    return {
        "what": label,
        "seconds": round(wall, 2),
        "records_per_s": round(records / wall),
        "cpu_seconds": round(cpu, 2),
        "records_per_cpu_s": round(records / cpu),
        "cpu_us_per_record": round(cpu / records * 1e6, 2),
        "all_seconds": [round(w, 2) for w in walls],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=300_000)
    parser.add_argument("--chains", type=int, default=2, help="writers appending at once")
    parser.add_argument("--segment-mb", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per row (median)")
    parser.add_argument("--skip-walk", action="store_true", help="skip the slow reference walk")
    parser.add_argument("--dir", type=Path, help="audit directory (default: a temporary one)")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="reuse the log already in --dir (written by an earlier run with the same "
        "--records and --chains) instead of writing one",
    )
    parser.add_argument("--json", dest="json_path", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-verify-") as temporary:
        directory = args.dir or Path(temporary) / "audit"
        started = time.perf_counter()
        if not (args.keep and any(directory.glob("audit-*.jsonl"))):
            if any(directory.glob("audit-*")):
                parser.error(f"{directory} already holds an audit log: pass --keep to reuse it")
            asyncio.run(write(directory, args.records, args.segment_mb * 1024 * 1024, args.chains))
        write_s = time.perf_counter() - started
        size = sum(p.stat().st_size for p in directory.glob("audit-*.jsonl"))
        workers = os.cpu_count() or 1
        load_before = os.getloadavg()
        total = args.records + 2 * args.chains  # + close checkpoints, at least
        runs = []
        if not args.skip_walk:
            key = signing_key(KEY)
            runs.append(
                timed(
                    "record-by-record walk (before)",
                    lambda: [Verifier(directory, key, w).run() for w in chains(directory)],
                    args.records,
                    1,
                )
            )
        runs += [
            timed(
                "verify, 1 process",
                lambda: verify_all([directory], KEY),
                args.records,
                args.repeat,
            ),
            timed(
                f"verify, {workers} workers",
                lambda: verify_all([directory], KEY, workers=workers),
                args.records,
                args.repeat,
            ),
        ]
        results = {
            "records": args.records,
            "records_with_checkpoints_at_least": total,
            "chains": len(chains(directory)),
            "log_mb": round(size / 1e6, 1),
            "segments": len(list(directory.glob("audit-*.jsonl"))),
            "write_s": round(write_s, 1),
            "cpus": workers,
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "runs": runs,
        }
    print(json.dumps(results, indent=2))
    if args.json_path:
        args.json_path.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
