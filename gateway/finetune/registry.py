"""Which caller owns which uploaded file and fine-tuning job: a small SQLite file.

The upstream knows nothing of the gateway's callers, so the gateway keeps ownership
itself and shows each caller only their own objects. Each change is one SQLite
transaction (atomic and durable); the file survives restarts. sqlite3 errors become
DependencyUnavailable here.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from gateway.errors import DependencyUnavailable

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    purpose TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    scan_passed INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS scans (
    file_id TEXT PRIMARY KEY,
    scanned_at TEXT NOT NULL,
    matches TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    file_id TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class FileEntry:
    id: str
    owner: str
    purpose: str
    bytes: int
    sha256: str
    scan_passed: bool


@dataclass(frozen=True, slots=True)
class ScanRecord:
    """What a file's scan found, kept for the re-check at job creation."""

    scanned_at: str
    """When the scan started (chunks ingested after it are searched again)."""
    matches: list[dict[str, Any]]
    """The corpus matches the policy saw (ids and scores, no text)."""


class Registry:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._db: sqlite3.Connection | None = None

    def __enter__(self) -> Self:
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self._path, isolation_level=None)
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise DependencyUnavailable("finetune registry", "cannot open the registry") from exc
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def add_file(self, entry: FileEntry) -> None:
        self._write(
            "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                entry.id,
                entry.owner,
                entry.purpose,
                entry.bytes,
                entry.sha256,
                int(entry.scan_passed),
                int(time.time()),
            ),
        )

    def add_scan(self, file_id: str, record: ScanRecord) -> None:
        self._write(
            "INSERT OR REPLACE INTO scans VALUES (?, ?, ?)",
            (file_id, record.scanned_at, json.dumps(record.matches, separators=(",", ":"))),
        )

    def scan(self, file_id: str) -> ScanRecord | None:
        rows = self._read("SELECT scanned_at, matches FROM scans WHERE file_id = ?", (file_id,))
        if not rows:
            return None
        matches = json.loads(str(rows[0][1]))
        return ScanRecord(str(rows[0][0]), matches if isinstance(matches, list) else [])

    def file(self, owner: str, file_id: str) -> FileEntry | None:
        rows = self._read(
            "SELECT id, owner, purpose, bytes, sha256, scan_passed FROM files "
            "WHERE owner = ? AND id = ?",
            (owner, file_id),
        )
        return _file(rows[0]) if rows else None

    def file_ids(self, owner: str) -> set[str]:
        return {str(row[0]) for row in self._read("SELECT id FROM files WHERE owner = ?", (owner,))}

    def delete_file(self, owner: str, file_id: str) -> None:
        self._write("DELETE FROM files WHERE owner = ? AND id = ?", (owner, file_id))
        self._write("DELETE FROM scans WHERE file_id = ?", (file_id,))

    def add_job(self, owner: str, job_id: str, file_id: str) -> None:
        self._write(
            "INSERT OR REPLACE INTO jobs VALUES (?, ?, ?, ?)",
            (job_id, owner, file_id, int(time.time())),
        )

    def owns_job(self, owner: str, job_id: str) -> bool:
        return bool(self._read("SELECT 1 FROM jobs WHERE owner = ? AND id = ?", (owner, job_id)))

    def job_ids(self, owner: str) -> set[str]:
        return {str(row[0]) for row in self._read("SELECT id FROM jobs WHERE owner = ?", (owner,))}

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise DependencyUnavailable("finetune registry", "the registry is not open")
        return self._db

    def _write(self, sql: str, params: tuple[object, ...]) -> None:
        db = self._connection()
        try:
            with db:
                db.execute("BEGIN IMMEDIATE")
                db.execute(sql, params)
        except sqlite3.Error as exc:
            raise DependencyUnavailable("finetune registry", "cannot write the registry") from exc

    def _read(self, sql: str, params: tuple[object, ...]) -> list[tuple[object, ...]]:
        try:
            return list(self._connection().execute(sql, params).fetchall())
        except sqlite3.Error as exc:
            raise DependencyUnavailable("finetune registry", "cannot read the registry") from exc


def _file(row: tuple[object, ...]) -> FileEntry:
    return FileEntry(
        id=str(row[0]),
        owner=str(row[1]),
        purpose=str(row[2]),
        bytes=int(str(row[3])),
        sha256=str(row[4]),
        scan_passed=bool(row[5]),
    )
