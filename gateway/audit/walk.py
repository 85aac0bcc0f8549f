"""The record-by-record walk: verify's state machine over one chain.

Checks, in log order: segment numbering and the segment each rotation checkpoint
announced; that each line is a record whose hash matches its content (edits); that it
follows its predecessor by ``prev_hash`` and ``seq`` (deletions, insertions, reordering);
that each checkpoint seals the record before it and carries a valid signature (a
rewritten chain); then that the log reaches the newest checkpoint the head file
remembers (truncation). Records after the last checkpoint are an "unsealed tail": a
warning, normal for a live log, since their deletion could not be told from here.

``run`` reads every line itself and stops at the first problem; ``replay`` goes over
segment scans (``gateway.audit.scan``) that already checked the ordinary records, with
the same checks for what the scans hand over in full.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gateway.audit.chain import line_hash_matches, missing_fields
from gateway.audit.checkpoint import (
    CHECKPOINT_KIND,
    is_signed,
    read_head,
    signature_valid,
)
from gateway.audit.report import Location, Problem, VerifyReport
from gateway.audit.scan import Full, Run, SegmentScan
from gateway.audit.segments import iter_lines, list_segments, segment_name, segment_number


class Broken(Exception):
    def __init__(self, code: str, message: str, location: Location | None) -> None:
        super().__init__(message)
        self.problem = Problem("error", code, message, location)


class Verifier:
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
        except Broken as broken:
            self.report.problems.append(broken.problem)
            return self.report
        return self._finish()

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
                        self._record(item.record, Location(path.name, item.line), item.raw)
                    else:
                        self._advance(path.name, item)
            self._announced_segment()
            self._head()
        except Broken as broken:
            self.report.problems.append(broken.problem)
            return self.report
        return self._finish()

    def _finish(self) -> VerifyReport:
        """The checks after an unbroken walk: the tail and the signatures."""
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
            raise Broken(
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
                    raise Broken("torn_line", "an incomplete line inside the log", location)
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
            self._record(_parse(raw, location), location, raw)

    def _record(self, record: dict[str, Any], where: Location, raw: bytes) -> None:
        seq = record.get("seq")
        location = Location(
            where.segment,
            where.line,
            seq if isinstance(seq, int) else None,
            str(record["audit_id"]) if record.get("audit_id") is not None else None,
        )
        missing = missing_fields(record)
        if missing:
            raise Broken("not_a_record", f"missing {', '.join(missing)}", location)
        if not line_hash_matches(raw, record):
            raise Broken("hash_mismatch", "content does not match its hash (edited)", location)
        if record.get("writer") != self.writer:
            raise Broken(
                "wrong_writer",
                f"the record names writer {record.get('writer')!r}, not this chain's "
                f"{self.writer!r}: moved from another chain",
                location,
            )
        expected = self.report.last_seq + 1
        if record["prev_hash"] != self.report.last_hash or seq != expected:
            raise Broken(
                "broken_link",
                f"expected seq {expected} following hash {self.report.last_hash[:12]}..., "
                f"found seq {seq} following {str(record['prev_hash'])[:12]}...: a record "
                "before it was deleted, inserted or moved",
                location,
            )
        if self.rotated:
            raise Broken("after_rotation", "a record after its segment's rotation", location)
        if self.unannounced is not None:
            raise Broken(
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
            raise Broken(
                "bad_checkpoint", "does not seal the record before it in this segment", location
            )
        if is_signed(record):
            self.signed = True
            if self.key is not None and not signature_valid(self.key, record):
                raise Broken(
                    "bad_signature",
                    "checkpoint signature is invalid (forged, or signed with another key): "
                    f"records after seq {self.last_checkpoint_seq} cannot be trusted",
                    location,
                )
        else:
            if self.key is not None and self.signed:
                raise Broken(
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
            raise Broken(
                "missing_segment",
                f"segment {self.announced}, named by this rotation checkpoint, is missing",
                self.last[1],
            )

    def _head(self) -> None:
        try:
            head = read_head(self.directory, self.writer)
        except ValueError as exc:
            raise Broken("bad_head", str(exc), None) from exc
        if head is None:
            if self.checkpoints:
                raise Broken(
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
            raise Broken(
                "truncated",
                f"the log ends at seq {self.report.last_seq} but the head file names a "
                f"checkpoint at seq {head_seq}{authentic}: records from here on were removed",
                Location(last.segment, (last.line or 0) + 1, self.report.last_seq + 1, None),
            )
        found = self.checkpoints.get(head_seq)
        if found is None or found[0] != head.get("hash"):
            raise Broken(
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
        raise Broken("not_a_record", "the line is not JSON", location) from exc
    if not isinstance(record, dict):
        raise Broken("not_a_record", "the line is not a JSON object", location)
    return record


def _first_location(path: Path) -> Location:
    for number, _offset, raw, _complete in iter_lines(path):
        try:
            record = json.loads(raw)
            return Location(path.name, number, int(record["seq"]), str(record["audit_id"]))
        except (ValueError, KeyError, TypeError):
            return Location(path.name, number)
    return Location(path.name)
