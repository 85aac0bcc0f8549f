"""verify(): walk every segment and name the first record where the trail stops holding.

A directory holds one chain per writer (``gateway.audit.segments``); each is verified on
its own and gets its own report, and a record naming another writer than its chain's is
an error (moved between chains). ``verify_all`` checks every chain of one or several
directories (replicas' logs), scanning all their segments in one pool of processes
(``gateway.audit.scan``: records checked on their stored bytes), then replaying the
scans through the walk's checks (``gateway.audit.walk``); only if something is wrong is
the chain walked again record by record, to name the first problem exactly.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from gateway.audit.checkpoint import head_writers, signing_key
from gateway.audit.report import (
    Location,
    Problem,
    Severity,
    Signatures,
    VerifyReport,
    summarize,
)
from gateway.audit.scan import SegmentScan, scan_segment
from gateway.audit.segments import all_segments, list_segments
from gateway.audit.walk import Verifier

__all__ = [
    "Location",
    "Problem",
    "Severity",
    "Signatures",
    "VerifyReport",
    "chains",
    "summarize",
    "verify",
    "verify_all",
]


def verify(
    directory: Path,
    hmac_key: str | bytes | None = None,
    *,
    workers: int = 1,
    writer: str | None = None,
) -> VerifyReport:
    """Check ``writer``'s chain in ``directory`` (None: the legacy chain); with
    ``hmac_key``, check checkpoint signatures too.

    Segments are scanned on their stored bytes (``gateway.audit.scan``), in ``workers``
    processes when more than one (forked: call it so only from a single-threaded
    program, such as the CLI). Only if the scans or the replay over them find anything
    wrong is the log walked again record by record, to name the first problem exactly
    as before.
    """
    return verify_all([Path(directory)], hmac_key, workers=workers, writers=[writer])[0]


def chains(directory: Path) -> list[str | None]:
    """The writer ids of the chains in ``directory``, legacy (None) first; a chain is
    known by its segments or by its head file (whose segments may all be gone)."""
    found = set(all_segments(Path(directory))) | head_writers(Path(directory))
    return sorted(found, key=lambda writer: (writer is not None, writer or ""))


def verify_all(
    directories: list[Path],
    hmac_key: str | bytes | None = None,
    *,
    workers: int = 1,
    writers: list[str | None] | None = None,
) -> list[VerifyReport]:
    """One report per chain of every directory, in directory order then writer order.

    ``writers`` restricts the check to those chains (default: every chain found; a
    directory without any gets one empty legacy report). All segments of all chains are
    scanned together, in ``workers`` forked processes when more than one.
    """
    key = signing_key(hmac_key)
    todo = [
        (Path(directory), writer)
        for directory in directories
        for writer in (writers if writers is not None else chains(Path(directory)) or [None])
    ]
    segments = [list_segments(directory, writer) for directory, writer in todo]
    jobs = [
        (path, writer) for (_d, writer), paths in zip(todo, segments, strict=True) for path in paths
    ]
    scans = iter(_scan_all(jobs, workers))
    reports = []
    for (directory, writer), paths in zip(todo, segments, strict=True):
        chain_scans = [next(scans) for _path in paths]
        report = None
        if all(scan.usual for scan in chain_scans):
            report = Verifier(directory, key, writer).replay(paths, chain_scans)
        if report is None or not report.ok:
            report = Verifier(directory, key, writer).run()
        reports.append(report)
    return reports


def _scan_one(job: tuple[Path, str | None]) -> SegmentScan:
    return scan_segment(*job)


def _scan_all(jobs: list[tuple[Path, str | None]], workers: int) -> list[SegmentScan]:
    if workers <= 1 or len(jobs) <= 1:
        return [_scan_one(job) for job in jobs]
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=context) as pool:
        return list(pool.map(_scan_one, jobs))
