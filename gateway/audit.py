"""The audit log: append-only, hash-chained JSON lines, fsync'd before the caller proceeds.

"No audit record, no prompt": the chat path appends its request record and only then
talks to the upstream. Every record carries the SHA-256 of the previous one, so edits,
deletions and reordering break the chain.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from gateway.errors import DependencyUnavailable

GENESIS_HASH = "0" * 64
SEGMENT_NAME = "audit-000001.jsonl"


def record_hash(prev_hash: str, body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


class AuditLog:
    """One writer per directory; appends are serialized and durable when they return."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / SEGMENT_NAME
        self._lock = asyncio.Lock()
        self._file: Any = None
        self._last_hash = GENESIS_HASH
        self._seq = 0

    async def __aenter__(self) -> Self:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._last_hash, self._seq = _tail_state(self.path)
            self._file = self.path.open("a", encoding="utf-8")
        except OSError as exc:
            raise DependencyUnavailable("audit", f"cannot open {self.path}") from exc
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def writable(self) -> bool:
        return (
            self._file is not None and not self._file.closed and os.access(self.directory, os.W_OK)
        )

    async def append(self, kind: str, fields: dict[str, Any]) -> str:
        """Durably append one record; returns its audit id. Raises DependencyUnavailable."""
        audit_id = fields.get("audit_id") or f"aud_{uuid.uuid4().hex}"
        async with self._lock:
            body = {
                **fields,
                "audit_id": audit_id,
                "kind": kind,
                "seq": self._seq + 1,
                "time": datetime.now(UTC).isoformat(),
                "prev_hash": self._last_hash,
            }
            digest = record_hash(self._last_hash, body)
            line = json.dumps({**body, "hash": digest}, ensure_ascii=False) + "\n"
            try:
                await asyncio.to_thread(self._write, line)
            except (OSError, ValueError) as exc:
                raise DependencyUnavailable("audit", "cannot write the audit record") from exc
            self._last_hash, self._seq = digest, self._seq + 1
        return str(audit_id)

    def _write(self, line: str) -> None:
        if self._file is None:
            raise ValueError("audit log is closed")
        self._file.write(line)
        self._file.flush()
        os.fsync(self._file.fileno())


def _tail_state(path: Path) -> tuple[str, int]:
    """Hash and sequence number of the last complete record, to continue the chain."""
    if not path.exists():
        return GENESIS_HASH, 0
    last: dict[str, Any] | None = None
    with path.open("rb") as handle:
        for raw in handle:
            if raw.endswith(b"\n"):
                last = json.loads(raw)
    if last is None:
        return GENESIS_HASH, 0
    return str(last["hash"]), int(last["seq"])
