"""verify(): walk every segment and name the first record where the trail stops holding.

Checks, in log order: segment numbering and the segment each rotation checkpoint
announced; that each line is a record whose hash matches its content (edits); that it
follows its predecessor by ``prev_hash`` and ``seq`` (deletions, insertions, reordering);
that each checkpoint seals the record before it and carries a valid signature (a
rewritten chain); then that the log reaches the newest checkpoint the head file
remembers (truncation). Records after the last checkpoint are an "unsealed tail": a
warning, normal for a live log, since their deletion could not be told from here.

A directory holds one chain per writer (``gateway.audit.segments``); each is verified on
its own and gets its own report, and a record naming another writer than its chain's is
an error (moved between chains). ``verify_all`` checks every chain of one or several
directories (replicas' logs), scanning all their segments in one pool of processes.
"""

from __future__ import annotations

import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from gateway.audit.chain import GENESIS_HASH, hash_matches, missing_fields
from gateway.audit.checkpoint import (
    CHECKPOINT_KIND,
    head_writers,
    is_signed,
    read_head,
    signature_valid,
    signing_key,
)
from gateway.audit.scan import Full, Run, SegmentScan, scan_segment
from gateway.audit.segments import (
    all_segments,
    iter_lines,
    list_segments,
    segment_name,
    segment_number,
)

Severity = Literal["error", "warning"]
Signatures = Literal["valid", "unsigned", "unchecked", "none"]


@dataclass(frozen=True)
class Location:
    """Where a record is: segment file, line number (from 1), seq and audit id if known."""

    segment: str | None
    line: int | None = None
    seq: int | None = None
    audit_id: str | None = None

    def __str__(self) -> str:
        where = (self.segment or "?") + (f":{self.line}" if self.line is not None else "")
        seq = f" seq {self.seq}" if self.seq is not None else ""
        audit_id = f" ({self.audit_id})" if self.audit_id else ""
        return where + seq + audit_id


@dataclass(frozen=True)
class Problem:
    severity: Severity
    code: str
    message: str
    location: Location | None = None

    def __str__(self) -> str:
        where = f" at {self.location}" if self.location else ""
        return f"{self.severity}: {self.code}{where}: {self.message}"


@dataclass
class VerifyReport:
    """The outcome: ``ok`` unless an error was found; ``first_error`` names the record."""

    directory: str
    writer: str | None = None
    """The chain's writer id; None for the legacy chain (written without one)."""
    records: int = 0
    segments: int = 0
    checkpoints: int = 0
    last_seq: int = 0
    last_hash: str = GENESIS_HASH
    sealed: bool = False
    signatures: Signatures = "none"
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def first_error(self) -> Problem | None:
        errors = self.errors
        return errors[0] if errors else None

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, **asdict(self)}


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
            report = _Verifier(directory, key, writer).replay(paths, chain_scans)
        if report is None or not report.ok:
            report = _Verifier(directory, key, writer).run()
        reports.append(report)
    return reports


def summarize(reports: list[VerifyReport]) -> VerifyReport:
    """One report standing for several chains (for a view with room for one): counts
    summed, every problem prefixed with its chain, sealed only if all are, the weakest
    signature status; last seq and hash only when there is a single chain."""
    if len(reports) == 1:
        return reports[0]
    directories = sorted({report.directory for report in reports})
    summary = VerifyReport(", ".join(directories), last_hash="")
    order: list[Signatures] = ["unsigned", "unchecked", "valid", "none"]
    for report in reports:
        summary.records += report.records
        summary.segments += report.segments
        summary.checkpoints += report.checkpoints
        chain = "legacy chain" if report.writer is None else f"writer {report.writer}"
        summary.problems += [
            Problem(p.severity, p.code, f"[{chain}] {p.message}", p.location)
            for p in report.problems
        ]
    summary.sealed = bool(reports) and all(report.sealed for report in reports)
    statuses = [report.signatures for report in reports if report.signatures != "none"]
    summary.signatures = min(statuses, key=order.index) if statuses else "none"
    return summary


def _scan_one(job: tuple[Path, str | None]) -> SegmentScan:
    return scan_segment(*job)


def _scan_all(jobs: list[tuple[Path, str | None]], workers: int) -> list[SegmentScan]:
    if workers <= 1 or len(jobs) <= 1:
        return [_scan_one(job) for job in jobs]
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=context) as pool:
        return list(pool.map(_scan_one, jobs))


class _Broken(Exception):
    def __init__(self, code: str, message: str, location: Location | None) -> None:
        super().__init__(message)
        self.problem = Problem("error", code, message, location)


class _Verifier:
    def __init__(self, directory: Path, key: bytes | None, writer: str | None = None) -> None:
        self.directory = directory
        self.key = key
        self.writer = writer
        self.report = VerifyReport(str(directory), writer)
        self.last: tuple[dict[str, Any], Location] | None = None
        self.announced: str | None = None  # the segment a rotation checkpoint named
        self.rotated = False  # a rotation checkpoint was seen in the current segment
        self.unannounced: str | None = None  # previous segment ended without rotating
        self.checkpoints: dict[int, tuple[str, Location]] = {}
        self.last_checkpoint_seq = 0
        self.first_unsealed: Location | None = None
        self.unsigned: Location | None = None
        self.signed = False

    def run(self) -> VerifyReport:
        segments = list_segments(self.directory, self.writer)
        self.report.segments = len(segments)
        try:
            for index, path in enumerate(segments):
                previous = segment_number(segments[index - 1].name) if index else 0
                self._segment(path, previous, is_last=index == len(segments) - 1)
            self._announced_segment()
            self._head()
        except _Broken as broken:
            self.report.problems.append(broken.problem)
            return self.report
        self._tail()
        self._signatures()
        return self.report

    def replay(self, segments: list[Path], scans: list[SegmentScan]) -> VerifyReport:
        """``run`` over scans that found every ordinary record locally sound: the full
        checks for each segment's first record and every checkpoint, a summary step for
        the runs of records in between."""
        self.report.segments = len(segments)
        try:
            for index, (path, scan) in enumerate(zip(segments, scans, strict=True)):
                self._enter(path, segment_number(segments[index - 1].name) if index else 0)
                for item in scan.items:
                    if isinstance(item, Full):
                        self._record(item.record, Location(path.name, item.line))
                    else:
                        self._advance(path.name, item)
            self._announced_segment()
            self._head()
        except _Broken as broken:
            self.report.problems.append(broken.problem)
            return self.report
        self._tail()
        self._signatures()
        return self.report

    def _advance(self, segment: str, run: Run) -> None:
        """What ``_record`` does for ``run.count`` sound ordinary records in a row."""
        if self.first_unsealed is None:
            self.first_unsealed = Location(
                segment, run.first_line, run.first_seq, run.first_audit_id
            )
        self.report.records += run.count
        self.report.last_seq, self.report.last_hash = run.last_seq, run.last_hash
        self.last = (
            {"kind": run.last_kind},
            Location(segment, run.last_line, run.last_seq, run.last_audit_id),
        )

    def _enter(self, path: Path, previous: int) -> None:
        expected = self.announced or segment_name(previous + 1, self.writer)
        if path.name != expected:
            raise _Broken(
                "missing_segment",
                f"segment {expected} is missing; this is the first record after the gap",
                _first_location(path),
            )
        if previous and self.announced is None:
            self.unannounced = segment_name(previous)
        self.announced, self.rotated = None, False

    def _segment(self, path: Path, previous: int, *, is_last: bool) -> None:
        self._enter(path, previous)
        for number, _offset, raw, complete in iter_lines(path):
            location = Location(path.name, number)
            if not complete:
                if not is_last:
                    raise _Broken("torn_line", "an incomplete line inside the log", location)
                self.report.problems.append(
                    Problem(
                        "warning",
                        "torn_tail",
                        "incomplete last line (a write cut short by a crash): not a record; "
                        "the writer truncates it when it next opens the log",
                        location,
                    )
                )
                return
            self._record(_parse(raw, location), location)

    def _record(self, record: dict[str, Any], where: Location) -> None:
        seq = record.get("seq")
        location = Location(
            where.segment,
            where.line,
            seq if isinstance(seq, int) else None,
            str(record["audit_id"]) if record.get("audit_id") is not None else None,
        )
        missing = missing_fields(record)
        if missing:
            raise _Broken("not_a_record", f"missing {', '.join(missing)}", location)
        if not hash_matches(record):
            raise _Broken("hash_mismatch", "content does not match its hash (edited)", location)
        if record.get("writer") != self.writer:
            raise _Broken(
                "wrong_writer",
                f"the record names writer {record.get('writer')!r}, not this chain's "
                f"{self.writer!r}: moved from another chain",
                location,
            )
        expected = self.report.last_seq + 1
        if record["prev_hash"] != self.report.last_hash or seq != expected:
            raise _Broken(
                "broken_link",
                f"expected seq {expected} following hash {self.report.last_hash[:12]}..., "
                f"found seq {seq} following {str(record['prev_hash'])[:12]}...: a record "
                "before it was deleted, inserted or moved",
                location,
            )
        if self.rotated:
            raise _Broken("after_rotation", "a record after its segment's rotation", location)
        if self.unannounced is not None:
            raise _Broken(
                "missing_rotation",
                f"segment {self.unannounced} ended without its rotation checkpoint",
                location,
            )
        if record["kind"] == CHECKPOINT_KIND:
            self._checkpoint(record, location)
        elif self.first_unsealed is None:
            self.first_unsealed = location
        self.report.records += 1
        self.report.last_seq, self.report.last_hash = int(record["seq"]), str(record["hash"])
        self.last = (record, location)

    def _checkpoint(self, record: dict[str, Any], location: Location) -> None:
        if (
            record.get("covers_seq") != self.report.last_seq
            or record.get("covers_hash") != self.report.last_hash
            or record.get("segment") != location.segment
        ):
            raise _Broken(
                "bad_checkpoint", "does not seal the record before it in this segment", location
            )
        if is_signed(record):
            self.signed = True
            if self.key is not None and not signature_valid(self.key, record):
                raise _Broken(
                    "bad_signature",
                    "checkpoint signature is invalid (forged, or signed with another key): "
                    f"records after seq {self.last_checkpoint_seq} cannot be trusted",
                    location,
                )
        else:
            if self.key is not None and self.signed:
                raise _Broken(
                    "unsigned_checkpoint", "an unsigned checkpoint after signed ones", location
                )
            self.unsigned = self.unsigned or location
        if record.get("reason") == "rotation":
            self.announced, self.rotated = str(record.get("next_segment")), True
        self.report.checkpoints += 1
        self.checkpoints[int(record["seq"])] = (str(record["hash"]), location)
        self.last_checkpoint_seq = int(record["seq"])
        self.first_unsealed = None

    def _announced_segment(self) -> None:
        if self.announced is not None and self.last is not None:
            raise _Broken(
                "missing_segment",
                f"segment {self.announced}, named by this rotation checkpoint, is missing",
                self.last[1],
            )

    def _head(self) -> None:
        try:
            head = read_head(self.directory, self.writer)
        except ValueError as exc:
            raise _Broken("bad_head", str(exc), None) from exc
        if head is None:
            if self.checkpoints:
                raise _Broken(
                    "missing_head",
                    "the head file is gone, so truncation cannot be ruled out "
                    "(reopening the log with the writer rewrites it)",
                    None,
                )
            return
        head_seq = int(head["seq"])
        if head_seq > self.report.last_seq:
            last = self.last[1] if self.last else Location(segment_name(1, self.writer), 0)
            authentic = ""
            if self.key is not None:
                valid = is_signed(head) and signature_valid(self.key, head)
                authentic = " (its signature is valid)" if valid else " (its signature is invalid)"
            raise _Broken(
                "truncated",
                f"the log ends at seq {self.report.last_seq} but the head file names a "
                f"checkpoint at seq {head_seq}{authentic}: records from here on were removed",
                Location(last.segment, (last.line or 0) + 1, self.report.last_seq + 1, None),
            )
        found = self.checkpoints.get(head_seq)
        if found is None or found[0] != head.get("hash"):
            raise _Broken(
                "head_mismatch",
                "the head file's checkpoint is not the record at this seq",
                found[1] if found else Location(None, None, head_seq, None),
            )

    def _tail(self) -> None:
        if self.last is None:
            return
        self.report.sealed = self.last[0]["kind"] == CHECKPOINT_KIND
        if not self.report.sealed:
            first, last = self.last_checkpoint_seq + 1, self.report.last_seq
            self.report.problems.append(
                Problem(
                    "warning",
                    "unsealed_tail",
                    f"{last - first + 1} records (seq {first}..{last}) follow the last "
                    "checkpoint: normal while the log is being written",
                    self.first_unsealed,
                )
            )

    def _signatures(self) -> None:
        if not self.report.checkpoints:
            return
        if not self.signed:
            self.report.signatures = "unsigned"
            if self.key is None:
                self.report.problems.append(
                    Problem("warning", "unsigned", "checkpoints are not signed", self.unsigned)
                )
            else:  # the key holder expects signatures: a forger without it drops them
                self.report.problems.append(
                    Problem(
                        "error",
                        "unsigned",
                        "a key was given but no checkpoint is signed: written without the "
                        "key, or rewritten by someone without it",
                        self.unsigned,
                    )
                )
            return
        self.report.signatures = "valid" if self.key is not None else "unchecked"
        if self.key is None:
            self.report.problems.append(
                Problem("warning", "unchecked", "no key given: signatures were not checked")
            )
        elif self.unsigned is not None:
            self.report.problems.append(
                Problem(
                    "warning",
                    "unsigned_before_key",
                    "checkpoints before the first signed one are unsigned",
                    self.unsigned,
                )
            )


def _parse(raw: bytes, location: Location) -> dict[str, Any]:
    try:
        record = json.loads(raw)
    except ValueError as exc:
        raise _Broken("not_a_record", "the line is not JSON", location) from exc
    if not isinstance(record, dict):
        raise _Broken("not_a_record", "the line is not a JSON object", location)
    return record


def _first_location(path: Path) -> Location:
    for number, _offset, raw, _complete in iter_lines(path):
        try:
            record = json.loads(raw)
            return Location(path.name, number, int(record["seq"]), str(record["audit_id"]))
        except (ValueError, KeyError, TypeError):
            return Location(path.name, number)
    return Location(path.name)
