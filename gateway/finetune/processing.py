"""Asynchronous validation of uploads, as OpenAI does it: scan in the background.

``POST /v1/files`` registers the file as ``uploaded`` and hands its bytes to this
runner. A task then scans it (fingerprint search; PII on the analysis pool's bulk lane,
behind chat), asks the policy, and either stores it upstream (``processed``) or refuses
it (``error``, the reason in ``status_details``). Nothing is forwarded before the scan
has passed.

Crashes: the bytes live only in the memory of the replica that received them (nothing
but audit segments and spool on local disk), so a scan cannot be resumed elsewhere.
The scanning replica holds a lease in the registry (owner + expiry) and renews it while
it works; any replica that reads a file still ``uploaded`` after its lease expired marks
it ``error`` ("interrupted; upload it again", audited) with a conditional write, so a
file is never ``uploaded`` forever and never both refused and stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import structlog

from gateway.audit import AuditLog
from gateway.elastic import timestamp
from gateway.errors import GatewayError
from gateway.finetune.access import Access
from gateway.finetune.decisions import AUDIT_KIND, Caller, decision_fields, refusal
from gateway.finetune.floor import cut_to_floor
from gateway.finetune.recheck import corpus_check
from gateway.finetune.registry import ERROR, PROCESSED, UPLOADED, FileEntry, Registry, Update
from gateway.finetune.scan import UploadScanner, match_fact
from gateway.finetune.upstream import FinetuneUpstream, upstream_filename

log = structlog.get_logger("gateway.finetune")

INTERRUPTED = (
    "The scan of this file was interrupted before it finished (the gateway replica "
    "scanning it stopped); upload the file again."
)


def replica_id() -> str:
    """This process's name as a lease owner: host, pid and a random suffix."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


class ScanRunner:
    """Owns the background scan tasks of one process; ``aclose`` interrupts them."""

    def __init__(
        self,
        *,
        scanner: UploadScanner,
        registry: Registry,
        upstream: FinetuneUpstream,
        audit: AuditLog,
        access: Access,
        lease_s: float,
        concurrency: int,
    ) -> None:
        self._scanner = scanner
        self._registry = registry
        self._upstream = upstream
        self._audit = audit
        self._access = access
        self.lease_s = lease_s
        self.replica = replica_id()
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, caller: Caller, entry: FileEntry, content: bytes) -> None:
        task = asyncio.create_task(self._run(caller, entry, content), name=f"scan-{entry.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def wait_idle(self) -> None:
        """Until every scan started so far has ended (tests and benchmarks)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self) -> None:
        """Interrupt running scans: each marks its file ``error`` (best effort)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- one scan ---------------------------------------------------------------------

    async def _run(self, caller: Caller, entry: FileEntry, content: bytes) -> None:
        heartbeat = asyncio.create_task(self._renew(entry.id))
        try:
            async with self._slots:
                await self._scan(caller, entry, content)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await self._settle_error(caller, entry, INTERRUPTED, "file_scan_interrupted", 400)
            raise
        except GatewayError as exc:
            await self._settle_error(caller, entry, _scan_failed(exc), exc.code, 400, exc=exc)
        except Exception:
            log.exception("finetune_scan_crashed", file_id=entry.id)
            await self._settle_error(
                caller, entry, "The scan failed; upload the file again.", "file_scan_failed", 400
            )
        finally:
            heartbeat.cancel()

    async def _scan(self, caller: Caller, entry: FileEntry, content: bytes) -> None:
        started = datetime.now(UTC)
        base = {
            **caller.audit_fields(),
            "action": "files.scanned",
            "file_id": entry.id,
            "purpose": entry.purpose,
            "bytes": entry.bytes,
        }
        scan = await self._scanner.scan(content, entry.purpose)
        base.update(
            sha256=scan.sha256,
            examples=scan.examples,
            scan_ms=scan.timings_ms,
            pii_found=[finding.fact() for finding in scan.pii],
        )
        facts = {"purpose": entry.purpose, "scan": scan.policy_input()}
        # One floor for the decision and the record; none asked for a benign upload.
        floor = await self._access.match_floor() if scan.overlaps else None
        decision = await self._access.decide(
            caller, "files.create", facts, scan.documents, floor=floor
        )
        audit_id = await self._audit.append(AUDIT_KIND, {**base, **decision_fields(decision)})
        if not decision.allow:
            refused = refusal(decision, "Upload refused by policy")
            await self._settle(entry.id, _error(refused.message, refused.code, 403))
            return
        stored = await self._upstream.upload(
            upstream_filename(entry.id, entry.filename), content, entry.purpose
        )
        upstream_id = str(stored.get("id") or "")
        if not upstream_id:
            raise GatewayError("The upstream did not return a file id.")
        all_matches = [match_fact(o, False) for o in scan.overlaps]
        check = corpus_check(scan, all_matches, floor)
        matches = check["matches"] if check is not None else cut_to_floor(all_matches, floor)[0]

        def processed(current: FileEntry) -> FileEntry:
            return replace(
                current,
                status=PROCESSED,
                upstream_id=upstream_id,
                examples=scan.examples,
                scanned_at=timestamp(started),
                matches=matches,
                corpus_check=check,
                lease_owner=None,
                lease_until=0.0,
            )

        if not (await self._settle(entry.id, processed)).written:
            # Deleted or taken over meanwhile: the stored copy must not stay upstream.
            await self._upstream.delete(f"files/{upstream_id}")
            return
        await self._audit.append(
            AUDIT_KIND,
            {
                **caller.audit_fields(),
                "action": "files.stored",
                "file_id": entry.id,
                "upstream_file_id": upstream_id,
                "decision_audit_id": audit_id,
            },
        )

    async def _settle(self, file_id: str, change: Callable[[FileEntry], FileEntry]) -> Update:
        """Apply ``change`` if this replica still holds the scan."""

        def mine(current: FileEntry) -> FileEntry | None:
            if current.status != UPLOADED or current.lease_owner != self.replica:
                return None
            return change(current)

        return await self._registry.update_file(file_id, mine)

    async def _settle_error(
        self,
        caller: Caller,
        entry: FileEntry,
        details: str,
        code: str | None,
        status: int,
        *,
        exc: GatewayError | None = None,
    ) -> None:
        """Mark the file ``error`` and audit the refusal (if this replica still held it)."""
        if not (await self._settle(entry.id, _error(details, code, status))).written:
            return
        await self._audit.append(
            AUDIT_KIND,
            {
                **caller.audit_fields(),
                "action": "files.scanned",
                "file_id": entry.id,
                "purpose": entry.purpose,
                "allowed": False,
                "refused": code,
                "status": exc.status_code if exc is not None else status,
            },
        )

    async def _renew(self, file_id: str) -> None:
        """Renew the lease every third of its length while the scan runs."""

        def renewed(current: FileEntry) -> FileEntry | None:
            if current.status != UPLOADED or current.lease_owner != self.replica:
                return None
            return replace(current, lease_until=time.time() + self.lease_s)

        while True:
            await asyncio.sleep(self.lease_s / 3)
            try:
                await self._registry.update_file(file_id, renewed)
            except GatewayError as exc:  # the next renewal may succeed; expiry is the net
                log.warning("finetune_lease_renewal_failed", file_id=file_id, error=exc.message)


def _error(details: str, code: str | None, status: int) -> Callable[[FileEntry], FileEntry]:
    def errored(current: FileEntry) -> FileEntry:
        return replace(
            current,
            status=ERROR,
            status_details=details,
            error_code=code,
            error_status=status,
            lease_owner=None,
            lease_until=0.0,
        )

    return errored


def _scan_failed(exc: GatewayError) -> str:
    """The reason a scan could not finish (messages are free of secrets and PII)."""
    return f"The file could not be scanned: {exc.message} Upload the file again."


async def settle_expired(
    registry: Registry, audit: AuditLog, caller: Caller, entry: FileEntry
) -> FileEntry:
    """The entry, marked ``error`` (and audited, by the replica whose write won) if its
    scan lease ran out unfinished; any replica may call this on any read."""
    now = time.time()
    if entry.status != UPLOADED or entry.lease_until >= now:
        return entry
    update = await registry.update_file(entry.id, _expired(now))
    final = update.entry
    if final is None:  # deleted meanwhile
        return replace(entry, status=ERROR, status_details=INTERRUPTED)
    if update.written:
        await audit.append(
            AUDIT_KIND,
            {
                **caller.audit_fields(),
                "action": "files.scanned",
                "file_id": entry.id,
                "purpose": entry.purpose,
                "allowed": False,
                "refused": final.error_code,
                "status": final.error_status,
                "scan_owner": entry.lease_owner,
            },
        )
    return final


def _expired(now: float) -> Callable[[FileEntry], FileEntry | None]:
    """The change that marks a file whose scan lease expired unfinished."""

    def expire(current: FileEntry) -> FileEntry | None:
        if current.status != UPLOADED or current.lease_until >= now:
            return None
        return _error(INTERRUPTED, "file_scan_interrupted", 400)(current)

    return expire
