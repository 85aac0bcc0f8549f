"""What verify finds: a report per chain, its problems and where they are."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from gateway.audit.chain import GENESIS_HASH

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
