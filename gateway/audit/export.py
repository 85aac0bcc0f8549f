"""Incremental export of the audit trail for a SIEM: OCSF JSON lines, CEF, or syslog.

Records are read in log order from the local segments (``gateway.audit.query.records``)
and written after a cursor: a small JSON file naming the last exported record's seq,
audit id and hash, replaced atomically once the batch is written and flushed, so a crash
repeats at most one batch and never skips one. The cursor is checked against the log:
if the record it names is gone or its hash changed, the log was truncated or rewritten
since the last export, and the export stops with an error instead of silently going on.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal, TextIO

from gateway.audit.cef import to_cef, to_syslog
from gateway.audit.ocsf import activity_of, to_ocsf, type_uid
from gateway.audit.query import chain_records
from gateway.audit.segments import list_segments, write_atomic

Format = Literal["ocsf", "cef", "syslog"]
FORMATS: tuple[Format, ...] = ("ocsf", "cef", "syslog")


class CursorError(Exception):
    """The cursor does not match the log (truncated or rewritten), or cannot be read."""


@dataclass(frozen=True)
class ExportCursor:
    """The last record exported; ``hash`` None when only the audit id is known (--after)."""

    audit_id: str
    seq: int | None = None
    hash: str | None = None

    def save(self, path: Path) -> None:
        write_atomic(path, json.dumps(asdict(self), sort_keys=True).encode() + b"\n")

    @classmethod
    def load(cls, path: Path) -> ExportCursor | None:
        """The saved cursor, None when the file does not exist yet (export from the start)."""
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text())
            return cls(str(data["audit_id"]), int(data["seq"]), str(data["hash"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise CursorError(f"unreadable export cursor {path}") from exc


@dataclass(frozen=True)
class ExportResult:
    exported: int
    cursor: ExportCursor | None
    """Where the next export starts: the last record written (or the old cursor)."""


def product_version() -> str:
    try:
        return version("governance-gateway")
    except PackageNotFoundError:
        return ""


Render = Callable[[dict[str, Any], dict[str, Any] | None], str]


def formatter(fmt: Format, chain_uid: str, hostname: str | None = None) -> Render:
    """``(record, previous record or None) -> line`` for one format."""
    release = product_version()
    if fmt == "ocsf":

        def ocsf(record: dict[str, Any], previous: dict[str, Any] | None) -> str:
            event = to_ocsf(
                record,
                chain_uid=chain_uid,
                prev_uid=str(previous["audit_id"]) if previous else None,
                prev_type_uid=type_uid(activity_of(previous)) if previous else None,
                product_version=release,
            )
            return json.dumps(event, ensure_ascii=False, separators=(",", ":"))

        return ocsf
    if fmt == "cef":
        return lambda record, _previous: to_cef(record, release)
    host = hostname or socket.gethostname()
    return lambda record, _previous: to_syslog(record, host, release)


def export(
    directory: Path,
    out: TextIO,
    fmt: Format = "ocsf",
    *,
    after: ExportCursor | None = None,
    limit: int | None = None,
    hostname: str | None = None,
    writer: str | None = None,
) -> ExportResult:
    """Write the records after ``after`` (all with None) to ``out``, one line each.

    One chain per export (``writer``, None: the legacy chain), with its own cursor."""
    render = formatter(fmt, chain_uid(Path(directory), writer), hostname)
    exported, last = 0, None
    for record, previous in _after(Path(directory), after, writer):
        out.write(render(record, previous) + "\n")
        exported += 1
        last = record
        if limit is not None and exported >= limit:
            break
    out.flush()
    # A pipe, a terminal or an in-memory stream has nothing to sync.
    with contextlib.suppress(OSError, ValueError):
        os.fsync(out.fileno())
    if last is None:
        return ExportResult(0, after)
    return ExportResult(
        exported, ExportCursor(str(last["audit_id"]), int(last["seq"]), str(last["hash"]))
    )


def _after(
    directory: Path, cursor: ExportCursor | None, writer: str | None
) -> Iterator[tuple[dict[str, Any], dict[str, Any] | None]]:
    previous: dict[str, Any] | None = None
    found = cursor is None
    for record in chain_records(list_segments(directory, writer)):
        if not found:
            assert cursor is not None
            if _is_cursor(record, cursor):
                found = True
            previous = record
            continue
        yield record, previous
        previous = record
    if not found:
        assert cursor is not None
        raise CursorError(
            f"the record the cursor names ({cursor.audit_id}, seq {cursor.seq}) is not in "
            "the log: it was truncated or rewritten since the last export"
        )


def _is_cursor(record: dict[str, Any], cursor: ExportCursor) -> bool:
    if cursor.seq is not None and record.get("seq") == cursor.seq:
        if record.get("audit_id") != cursor.audit_id or record.get("hash") != cursor.hash:
            raise CursorError(
                f"the record at seq {cursor.seq} is not the one last exported "
                f"({cursor.audit_id}): the log was rewritten since the last export"
            )
        return True
    return cursor.seq is None and record.get("audit_id") == cursor.audit_id


def chain_uid(directory: Path, writer: str | None = None) -> str:
    """The chain's id: its genesis record's hash, stable for the log's lifetime."""
    first = next(chain_records(list_segments(directory, writer)), None)
    genesis = first.get("hash") if first is not None and first.get("seq") == 1 else None
    return f"gateway-audit:{genesis or 'unknown'}"
