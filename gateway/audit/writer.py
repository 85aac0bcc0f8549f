"""The writer: durable appends with group commit, rotation and checkpoints.

"No audit record, no prompt": ``append`` returns only once its record is on disk. Records
are sealed (sequence number, previous hash, own hash) in the event loop the moment
``append`` is called, so the chain order is the call order; writing is one background
flush at a time, in a thread. Appends that arrive while a flush is running queue up and
the next flush writes them all with one ``write`` and one ``fdatasync`` (group commit):
under load, the cost of a disk sync is shared instead of serialised.

If a write fails, whatever the flush wrote is truncated away and every record sealed
after the last durable one is refused (DependencyUnavailable), so the chain on disk
never holds a record whose caller was told it failed; the next append starts again from
the durable tip. If even the truncation fails, the log stays refused until restarted.

A disk that hangs instead of failing (a frozen mount) must not hang requests: an append
waits at most ``write_timeout_s`` and then raises DependencyUnavailable (a 503), and
while a flush has been stuck that long new appends are refused at once. Records already
sealed into the stuck flush may still reach the disk if it recovers: the chain then holds
a record whose caller was refused; nothing was sent upstream for it. ``probe`` writes and
syncs a small file beside the segments, bounded in time, for readiness checks.

Each writer owns one chain: with ``writer_id`` its segments are named after it
(``audit-<writer>-000001.jsonl``), its head file too, and every record carries
``"writer": <id>`` in its envelope (hashed like the rest), so a record cannot be moved to
another chain unnoticed. Two processes must never share a writer id; ``gateway serve
--workers N`` gives each worker its own, and an open log holds an exclusive lock on its
chain (``.audit-<writer>.lock``), so a second writer of the same chain is refused.
Without one, the log is the legacy chain (``audit-000001.jsonl``, no ``writer`` field),
as written before writer ids existed.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from itertools import groupby
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Self

import structlog

from gateway.audit.chain import seal
from gateway.audit.checkpoint import (
    CHECKPOINT_KIND,
    Reason,
    checkpoint_fields,
    signing_key,
    write_head,
)
from gateway.audit.guard import might_hold_secrets, scrub_secrets
from gateway.audit.recovery import AuditCorrupt, recover
from gateway.audit.segments import check_writer, fsync_directory, segment_name, write_all
from gateway.errors import DependencyUnavailable
from gateway.request_scope import note_record, with_request_fields

if TYPE_CHECKING:
    from gateway.settings import Settings

log = structlog.get_logger("gateway.audit")

DEFAULT_SEGMENT_MAX_BYTES = 64 * 1024 * 1024
DEFAULT_CHECKPOINT_EVERY = 1000
DEFAULT_WRITE_TIMEOUT_S = 5.0
PROBE_NAME = ".write-probe"
_RESERVED = frozenset({"kind", "seq", "time", "prev_hash", "hash", "writer"})


@dataclass(frozen=True)
class _Tip:
    """Where the chain stands: last seq and hash, the segment and its size in bytes."""

    seq: int
    last_hash: str
    segment: int
    size: int
    since_checkpoint: int


@dataclass(frozen=True)
class _Line:
    data: bytes
    segment: int
    tip: _Tip  # the tip once this line is durable
    checkpoint: dict[str, Any] | None = None


class _WriteFailed(Exception):
    def __init__(self, cause: OSError, *, recovered: bool) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.recovered = recovered


class AuditLog:
    """One writer per chain; ``append`` is durable when it returns.

    ``writer_id`` names the chain (None: the directory's legacy chain); several writers
    with distinct ids may share a directory.

    ``hmac_key`` signs checkpoints (unsigned without one); a segment is rotated once it
    reaches ``segment_max_bytes``; a checkpoint follows every ``checkpoint_every``
    records, every rotation and the close of a log that changed.
    """

    def __init__(
        self,
        directory: Path,
        *,
        hmac_key: str | bytes | None = None,
        segment_max_bytes: int = DEFAULT_SEGMENT_MAX_BYTES,
        checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
        write_timeout_s: float = DEFAULT_WRITE_TIMEOUT_S,
        writer_id: str | None = None,
    ) -> None:
        self.writer_id = check_writer(writer_id)
        if segment_max_bytes < 1 or checkpoint_every < 1 or write_timeout_s <= 0:
            raise ValueError(
                "segment_max_bytes, checkpoint_every and write_timeout_s must be positive"
            )
        self.sync: Callable[[int], None] = _sync_data
        """Makes written bytes durable (``fdatasync``); a test may replace it to play a
        frozen or failing disk."""
        self._write_timeout = write_timeout_s
        self._flush_started: float | None = None
        self._probe: asyncio.Future[None] | None = None
        self.directory = Path(directory)
        self._key = signing_key(hmac_key)
        self._max_bytes = segment_max_bytes
        self._every = checkpoint_every
        self._tip = self._durable = _Tip(0, "", 1, 0, 0)
        self._pending: list[_Line] = []
        self._batch: asyncio.Future[_WriteFailed | None] | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._fd: int | None = None
        self._lock: int | None = None
        self._fd_segment = 0
        self._state: Literal["new", "open", "closing", "closed"] = "new"
        self._broken = False
        self._commits = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> AuditLog:
        key = settings.audit_hmac_key
        return cls(
            settings.audit_dir,
            hmac_key=key.get_secret_value() if key else None,
            segment_max_bytes=settings.audit_segment_max_bytes,
            checkpoint_every=settings.audit_checkpoint_every,
            write_timeout_s=settings.audit_write_timeout_s,
            writer_id=settings.audit_writer_id or None,
        )

    @property
    def path(self) -> Path:
        """The segment being written."""
        return self.directory / self._name(self._tip.segment)

    @property
    def commits(self) -> int:
        """Write-and-sync rounds so far; fewer than appends when group commit batched them."""
        return self._commits

    def durable_position(self) -> tuple[str, int]:
        """(segment name, byte length) of what is on disk; readers should not go past it."""
        return self._name(self._durable.segment), self._durable.size

    def _name(self, segment: int) -> str:
        return segment_name(segment, self.writer_id)

    def writable(self) -> bool:
        return self._state == "open" and not self._broken and os.access(self.directory, os.W_OK)

    def stalled(self) -> bool:
        """A flush has been waiting on the disk for longer than the write timeout."""
        started = self._flush_started
        return started is not None and time.monotonic() - started > self._write_timeout

    async def probe(self, timeout_s: float) -> str | None:
        """Can the log append durably right now? None if so, else why not (no paths).

        Writes and syncs a small file beside the segments, bounded by ``timeout_s``; at
        most one probe is in flight, so a frozen disk never piles up threads.
        """
        if self._state != "open" or self._broken:
            return "the audit log is not open for writing"
        if self.stalled():
            return "audit writes are not completing"
        if self._probe is not None and not self._probe.done():
            return "the previous write probe has not completed"
        self._probe = asyncio.ensure_future(asyncio.to_thread(self._write_probe))
        try:
            await asyncio.wait_for(asyncio.shield(self._probe), timeout_s)
        except TimeoutError:
            return "a test write did not complete in time"
        except OSError as exc:
            return f"a test write failed: {exc.strerror or type(exc).__name__}"
        return None

    def _write_probe(self) -> None:
        fd = os.open(self.directory / PROBE_NAME, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            write_all(fd, f"{time.time()}\n".encode())
            self.sync(fd)
        finally:
            os.close(fd)

    async def __aenter__(self) -> Self:
        try:
            self._lock = await asyncio.to_thread(_lock_chain, self.directory, self.writer_id)
        except BlockingIOError:
            raise DependencyUnavailable(
                "audit", "another process is writing this audit chain (same writer id)"
            ) from None
        except OSError as exc:
            raise DependencyUnavailable("audit", f"cannot open {self.directory}") from exc
        try:
            found = await asyncio.to_thread(recover, self.directory, self._every, self.writer_id)
            self._fd = await asyncio.to_thread(self._open, found.segment)
        except OSError as exc:
            self._unlock()
            raise DependencyUnavailable("audit", f"cannot open {self.directory}") from exc
        except AuditCorrupt as exc:
            self._unlock()
            raise _refused(self.directory, exc) from exc
        if found.torn_bytes:
            log.warning(
                "audit_torn_line_truncated",
                segment=self._name(found.segment),
                bytes=found.torn_bytes,
                continues_after_seq=found.seq,
            )
        if found.removed_segment:
            log.warning("audit_empty_segment_removed", segment=found.removed_segment)
        self._fd_segment = found.segment
        self._tip = self._durable = _Tip(
            found.seq, found.last_hash, found.segment, found.size, found.since_checkpoint
        )
        self._state = "open"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._state != "open":
            return
        self._state = "closing"  # refuse new appends; finish the ones in flight
        if self._flusher is not None:
            await self._flusher
        if self._tip.since_checkpoint and not self._broken:
            self._enqueue_checkpoint("close")
            self._flusher = asyncio.create_task(self._flush())
            await self._flusher
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._unlock()
        self._state = "closed"

    def _unlock(self) -> None:
        if self._lock is not None:
            os.close(self._lock)  # closing the descriptor releases the lock
            self._lock = None

    async def append(self, kind: str, fields: dict[str, Any]) -> str:
        """Durably append one record; returns its audit id.

        Raises DependencyUnavailable when the record cannot be made durable, and
        ValueError for the reserved checkpoint kind. Credential-shaped text is scrubbed
        (``gateway.audit.guard``), never a reason to refuse the record.
        """
        if kind == CHECKPOINT_KIND:
            raise ValueError("the checkpoint kind is reserved for the log itself")
        if self._state != "open" or self._broken:
            raise DependencyUnavailable("audit", "the audit log is not open for writing")
        if self.stalled():
            raise DependencyUnavailable("audit", "audit writes are not completing")
        if self._tip.size >= self._max_bytes:
            self._rotate()
        fields = with_request_fields(kind, fields)
        audit_id = self._enqueue(kind, fields, counts=True)
        if self._tip.since_checkpoint >= self._every:
            self._enqueue_checkpoint("interval")
        batch = self._batch
        assert batch is not None
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        try:
            failure = await asyncio.wait_for(asyncio.shield(batch), self._write_timeout)
        except TimeoutError:
            log.error("audit_write_timeout", timeout_s=self._write_timeout)  # noqa: TRY400
            raise DependencyUnavailable(
                "audit", "the audit write did not complete in time"
            ) from None
        if failure is not None:
            raise DependencyUnavailable("audit", "cannot write the audit record") from failure.cause
        note_record(kind, fields, audit_id)
        return audit_id

    # -- sealing (event loop) -------------------------------------------------------

    def _enqueue(self, kind: str, fields: dict[str, Any], *, counts: bool) -> str:
        """Seal one record onto the tip and queue it; returns its audit id."""
        tip = self._tip
        body = {k: v for k, v in fields.items() if k not in _RESERVED}
        body.update(
            audit_id=str(body.get("audit_id") or _new_id()),
            kind=kind,
            seq=tip.seq + 1,
            time=datetime.now(UTC).isoformat(),
            prev_hash=tip.last_hash,
        )
        if self.writer_id is not None:
            body["writer"] = self.writer_id
        digest, line = seal(body)  # may raise (not JSON-serialisable) before any change
        if might_hold_secrets(line):
            body, scrubbed = scrub_secrets(body, keep=_RESERVED)
            if scrubbed:
                log.warning("audit_credential_scrubbed", kind=kind, fields=scrubbed)
                body["scrubbed_fields"] = scrubbed
                digest, line = seal(body)
        self._tip = replace(
            tip,
            seq=tip.seq + 1,
            last_hash=digest,
            size=tip.size + len(line),
            since_checkpoint=tip.since_checkpoint + 1 if counts else 0,
        )
        record = {**body, "hash": digest} if kind == CHECKPOINT_KIND else None
        self._pending.append(_Line(line, tip.segment, self._tip, record))
        if self._batch is None:
            self._batch = asyncio.get_running_loop().create_future()
        return str(body["audit_id"])

    def _enqueue_checkpoint(self, reason: Reason, next_segment: str | None = None) -> None:
        fields = checkpoint_fields(
            covers_seq=self._tip.seq,
            covers_hash=self._tip.last_hash,
            reason=reason,
            segment=self._name(self._tip.segment),
            next_segment=next_segment,
            key=self._key,
        )
        self._enqueue(CHECKPOINT_KIND, fields, counts=False)

    def _rotate(self) -> None:
        following = self._tip.segment + 1
        self._enqueue_checkpoint("rotation", self._name(following))
        # Records from here on go to the new segment; the checkpoint line's own tip stays
        # in the old one, so a batch that ends with it leaves the new segment empty.
        self._tip = replace(self._tip, segment=following, size=0)

    # -- writing (one flush at a time) ----------------------------------------------

    async def _flush(self) -> None:
        while self._pending:
            lines, batch = self._pending, self._batch
            self._pending, self._batch = [], None
            assert batch is not None
            self._flush_started = time.monotonic()
            try:
                head_error = await asyncio.to_thread(self._write, lines)
            except _WriteFailed as failed:
                self._give_up(failed, batch)
                return
            except BaseException:  # a bug or a cancelled flush: nothing may wait forever
                interrupted = OSError("the audit flush was interrupted")
                self._give_up(_WriteFailed(interrupted, recovered=False), batch)
                raise
            finally:
                self._flush_started = None
            self._commits += 1
            self._durable = lines[-1].tip
            if head_error is not None:
                log.warning("audit_head_not_written", error=head_error)
            batch.set_result(None)

    def _give_up(self, failed: _WriteFailed, batch: asyncio.Future[_WriteFailed | None]) -> None:
        """Refuse the failed batch and everything sealed after it; restart from disk."""
        log.error(
            "audit_write_failed",
            error=str(failed.cause),
            refused_after_seq=self._durable.seq,
            recovered=failed.recovered,
        )
        batch.set_result(failed)
        if self._batch is not None:
            self._batch.set_result(failed)
        self._pending, self._batch = [], None
        self._tip = self._durable
        self._broken = not failed.recovered

    def _write(self, lines: list[_Line]) -> str | None:
        """In a thread: write and sync ``lines``; on failure undo them and raise."""
        assert self._fd is not None
        starts = {self._fd_segment: os.fstat(self._fd).st_size}
        created: list[Path] = []
        try:
            # The next segment exists before the rotation checkpoint that names it is
            # durable, so a checkpoint naming a missing segment always means deletion.
            for line in lines:
                if line.checkpoint is not None and line.checkpoint.get("next_segment"):
                    path = self.directory / str(line.checkpoint["next_segment"])
                    _create_exclusive(path)
                    created.append(path)
            for segment, group in groupby(lines, key=lambda line: line.segment):
                if segment != self._fd_segment:
                    self._switch_to(segment)
                    starts[segment] = 0
                assert self._fd is not None
                write_all(self._fd, b"".join(line.data for line in group))
                self.sync(self._fd)
        except OSError as exc:
            raise _WriteFailed(exc, recovered=self._undo(starts, created)) from exc
        checkpoints = [line.checkpoint for line in lines if line.checkpoint is not None]
        if not checkpoints:
            return None
        try:
            write_head(self.directory, checkpoints[-1], self.writer_id)
        except OSError as exc:
            return str(exc)
        return None

    def _switch_to(self, segment: int) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._fd = self._open(segment)
        self._fd_segment = segment

    def _open(self, segment: int) -> int:
        path = self.directory / self._name(segment)
        return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def _undo(self, starts: dict[int, int], created: list[Path]) -> bool:
        """Cut every touched segment back to its size before the flush; True if it worked."""
        try:
            for segment, size in starts.items():
                path = self.directory / self._name(segment)
                if path.exists():
                    with path.open("r+b") as handle:
                        handle.truncate(size)
                        os.fsync(handle.fileno())
            for path in created:
                path.unlink(missing_ok=True)
            fsync_directory(self.directory)
            if self._fd_segment != self._durable.segment:
                self._switch_to(self._durable.segment)
        except OSError:
            return False
        return True


def _refused(directory: Path, problem: AuditCorrupt) -> DependencyUnavailable:
    log.error("audit_log_refused", directory=str(directory), problem=str(problem))
    return DependencyUnavailable("audit", f"log refused: {problem}")


def _sync_data(fd: int) -> None:
    """fdatasync where the platform has it (Linux): data and size, not access times."""
    getattr(os, "fdatasync", os.fsync)(fd)


def _new_id() -> str:
    return f"aud_{uuid.uuid4().hex}"


def _lock_chain(directory: Path, writer: str | None) -> int:
    """An exclusive, non-blocking lock on ``writer``'s chain (BlockingIOError if held)."""
    directory.mkdir(parents=True, exist_ok=True)
    name = ".audit.lock" if writer is None else f".audit-{writer}.lock"
    fd = os.open(directory / name, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise
    return fd


def _create_exclusive(path: Path) -> None:
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    fsync_directory(path.parent)
