"""Which caller owns which response id the gateway relayed: a small SQLite file.

The upstream stores responses for the gateway's one credential and knows nothing of
its callers, so ``GET``/``DELETE /v1/responses/{id}`` and ``previous_response_id`` are
allowed only for ids this file names as the caller's. WAL with ``synchronous=NORMAL``:
an entry survives a crash of the process; one lost with the machine's power fails
closed (the caller gets a 404, never another caller's response). sqlite3 errors become
DependencyUnavailable here.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Self

from gateway.errors import DependencyUnavailable

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    upstream_body_sha256 TEXT
);
"""
_WHAT = "responses registry"


class ResponseOwners:
    """Opened and closed by the app lifespan."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._db: sqlite3.Connection | None = None

    def __enter__(self) -> Self:
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise DependencyUnavailable(_WHAT, "cannot open the registry") from exc
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def record(self, owner: str, response_id: str, body_sha256: str | None = None) -> None:
        """``owner`` owns ``response_id`` (the first owner recorded keeps it);
        ``body_sha256`` links it to the request record (``upstream_body_sha256``)."""
        try:
            self._connection().execute(
                "INSERT OR IGNORE INTO responses VALUES (?, ?, ?, ?)",
                (response_id, owner, int(time.time()), body_sha256),
            )
        except sqlite3.Error as exc:
            raise DependencyUnavailable(_WHAT, "cannot write the registry") from exc

    def owns(self, owner: str, response_id: str) -> bool:
        try:
            row = (
                self._connection()
                .execute("SELECT 1 FROM responses WHERE id = ? AND owner = ?", (response_id, owner))
                .fetchone()
            )
        except sqlite3.Error as exc:
            raise DependencyUnavailable(_WHAT, "cannot read the registry") from exc
        return row is not None

    def forget(self, owner: str, response_id: str) -> None:
        try:
            self._connection().execute(
                "DELETE FROM responses WHERE id = ? AND owner = ?", (response_id, owner)
            )
        except sqlite3.Error as exc:
            raise DependencyUnavailable(_WHAT, "cannot write the registry") from exc

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise DependencyUnavailable(_WHAT, "the registry is not open")
        return self._db
