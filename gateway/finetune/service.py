"""Files and fine-tuning jobs, governed: own objects only, scanned uploads, audited calls.

An upload is: size and format check -> register as ``uploaded`` -> audit -> answer; the
scan, policy decision and forwarding run in the background (``processing``), and the
file's ``status`` says how it ended. A job is: the training file must be the caller's
and ``processed`` (400 while it is scanned, 403 if it was refused) -> match again against
the corpus as it is now -> policy -> audit -> forward -> register. Reads and cancels are
served only for the caller's own objects; everything else answers 404, as if it did not
exist. Audit records hold ids, hashes, line numbers and decisions, never training text.

Callers see the gateway's file ids; the upstream's ids (known once a file passed the
scan and was stored there) are swapped in for the calls forwarded and swapped back in
the jobs it returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import secrets
import time
from typing import Any, Self

from gateway.audit import AuditLog
from gateway.errors import BadRequest, GatewayError, NotFound, PayloadTooLarge, PolicyDenied
from gateway.finetune.access import Access
from gateway.finetune.decisions import AUDIT_KIND, Caller, decision_fields, refusal
from gateway.finetune.floor import UNASKED, MatchFloor, Unasked
from gateway.finetune.jobs import (
    JOB_FILE_FIELDS,
    job_request,
    require_processed,
    with_file_ids,
)
from gateway.finetune.listing import FILE_LIST_LIMITS, JOB_LIST_LIMITS, list_limit, own_list
from gateway.finetune.processing import ScanRunner, settle_expired
from gateway.finetune.recheck import FileRecheck
from gateway.finetune.registry import PROCESSED, UPLOADED, FileEntry, Registry
from gateway.finetune.scan import ScanResult, UploadScanner, check_format, match_fact
from gateway.finetune.upstream import FinetuneUpstream
from gateway.policy import PolicyEngine

__all__ = ["Caller", "FinetuneService"]

FINE_TUNE = "fine-tune"


class FinetuneService:
    """Lifespan-owned (``async with``): leaving it interrupts scans still running."""

    def __init__(
        self,
        *,
        scanner: UploadScanner,
        registry: Registry,
        upstream: FinetuneUpstream,
        policy: PolicyEngine,
        audit: AuditLog,
        max_upload_bytes: int,
        scan_lease_s: float = 60.0,
        scan_concurrency: int = 2,
    ) -> None:
        self._scanner = scanner
        self._registry = registry
        self._upstream = upstream
        self._policy = policy
        self._audit = audit
        self._max_bytes = max_upload_bytes
        self._index_ready = False
        self._access = Access(policy, audit)
        self.recheck = FileRecheck(
            scanner=scanner,
            registry=registry,
            upstream=upstream,
            access=self._access,
            audit=audit,
        )
        """The re-check of a stored file at each use (jobs here; model requests too)."""
        self.scans = ScanRunner(
            scanner=scanner,
            registry=registry,
            upstream=upstream,
            audit=audit,
            access=self._access,
            lease_s=scan_lease_s,
            concurrency=scan_concurrency,
        )

    async def __aenter__(self) -> Self:
        with contextlib.suppress(GatewayError):  # calls fail closed until ES answers
            await self._ensure_index()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.scans.aclose()

    async def _ensure_index(self) -> None:
        if not self._index_ready:
            await self._registry.ensure_index()
            self._index_ready = True

    # -- files ------------------------------------------------------------------------

    async def upload(
        self, caller: Caller, filename: str, content: bytes, purpose: str
    ) -> dict[str, Any]:
        """Check size and format, register the file ``uploaded`` and start its scan."""
        base = {
            **caller.audit_fields(),
            "action": "files.create",
            "purpose": purpose,
            "bytes": len(content),
        }
        try:
            if len(content) > self._max_bytes:
                raise PayloadTooLarge(
                    f"The file is {len(content)} bytes; the limit is {self._max_bytes} bytes.",
                    param="file",
                )
            if not content:
                raise BadRequest("The file is empty.", param="file", code="invalid_file_format")
            # Format errors are cheap to find and answered at once (400, lines named).
            await asyncio.to_thread(check_format, content, purpose)
            await self._ensure_index()
            now = time.time()
            entry = FileEntry(
                id=f"file-{secrets.token_hex(12)}",
                owner=caller.principal.subject,
                purpose=purpose,
                filename=filename,
                bytes=len(content),
                sha256=hashlib.sha256(content).hexdigest(),
                created_at=int(now),
                uploaded_at=now,
                lease_owner=self.scans.replica,
                lease_until=now + self.scans.lease_s,
            )
            await self._registry.add_file(entry)
        except GatewayError as exc:
            await self.refused(caller, base, exc)
            raise
        await self._audit.append(
            AUDIT_KIND,
            {
                **base,
                "file_id": entry.id,
                "sha256": entry.sha256,
                "file_status": UPLOADED,
                "allowed": True,
            },
        )
        self.scans.start(caller, entry, content)
        return entry.file_object()

    async def refused(self, caller: Caller, base: dict[str, Any], exc: GatewayError) -> None:
        """The audit record of a call refused before (or instead of) a policy decision."""
        await self._access.refused(caller, base, exc)

    async def list_files(self, caller: Caller, params: dict[str, str]) -> dict[str, Any]:
        await self._access.read(caller, "files.list")
        order = params.get("order", "desc")
        if order not in {"asc", "desc"}:
            raise BadRequest("'order' must be 'asc' or 'desc'.", param="order")
        entries, has_more = await self._registry.list_files(
            caller.principal.subject,
            purpose=params.get("purpose"),
            after=params.get("after"),
            limit=list_limit(params.get("limit"), *FILE_LIST_LIMITS),
            order=order,
        )
        data = [(await self._settled(caller, e)).file_object() for e in entries]
        return {
            "object": "list",
            "data": data,
            "has_more": has_more,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
        }

    async def retrieve_file(self, caller: Caller, file_id: str) -> dict[str, Any]:
        entry = await self._registry.file(caller.principal.subject, file_id)
        await self._access.read(caller, "files.retrieve", entry is not None, file_id=file_id)
        assert entry is not None
        return (await self._settled(caller, entry)).file_object()

    async def file_content(self, caller: Caller, file_id: str) -> tuple[bytes, str]:
        """The caller's own uploaded file, as stored upstream (it passed the scan)."""
        entry = await self._registry.file(caller.principal.subject, file_id)
        await self._access.read(caller, "files.content", entry is not None, file_id=file_id)
        assert entry is not None
        entry = await self._settled(caller, entry)
        if entry.status != PROCESSED or not entry.upstream_id:
            raise BadRequest(
                f"The file's status is '{entry.status}': only a processed file has content.",
                param="file_id",
                code="file_not_ready",
            )
        return await self._upstream.get_bytes(f"files/{entry.upstream_id}/content")

    async def delete_file(self, caller: Caller, file_id: str) -> dict[str, Any]:
        entry = await self._registry.file(caller.principal.subject, file_id)
        await self._access.read(caller, "files.delete", entry is not None, file_id=file_id)
        assert entry is not None
        if entry.upstream_id:
            await self._upstream.delete(f"files/{entry.upstream_id}")
        # A scan still running notices the entry is gone and deletes what it stored.
        await self._registry.delete_file(file_id)
        return {"id": file_id, "object": "file", "deleted": True}

    async def _settled(self, caller: Caller, entry: FileEntry) -> FileEntry:
        return await settle_expired(self._registry, self._audit, caller, entry)

    # -- jobs -------------------------------------------------------------------------

    async def create_job(self, caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
        base: dict[str, Any] = {"action": "fine_tuning.jobs.create"}
        entries: dict[str, FileEntry] = {}
        try:
            model, files = job_request(body)
            base["model"] = model
            request = await self._scanner.match_request(body)
            for param, file_id in files.items():
                entries[param] = await self._check_job_file(
                    caller, base, model, param, file_id, request
                )
        except GatewayError as exc:
            if not isinstance(exc, PolicyDenied) or exc.code == "finetune_file_refused":
                await self.refused(caller, base, exc)  # policy decisions are audited already
            raise
        forwarded = {**body, **{p: str(e.upstream_id) for p, e in entries.items()}}
        job = await self._upstream.post("fine_tuning/jobs", forwarded)
        job_id = str(job.get("id") or "")
        if not job_id:
            raise GatewayError("The upstream did not return a job id.")
        await self._registry.add_job(
            caller.principal.subject, job_id, files["training_file"], int(time.time())
        )
        await self._audit.append(
            AUDIT_KIND,
            {
                **caller.audit_fields(),
                "action": "fine_tuning.jobs.created",
                "job_id": job_id,
                "training_file": files["training_file"],
            },
        )
        return with_file_ids(job, {str(e.upstream_id): e.id for e in entries.values()})

    async def _check_job_file(
        self,
        caller: Caller,
        base: dict[str, Any],
        model: str,
        param: str,
        file_id: str,
        request: ScanResult,
    ) -> FileEntry:
        """The file must be the caller's, have passed the scan, and still pass it against
        the corpus as it is now (``gateway.finetune.recheck``). ``request``: the job
        request's own text matched (the policy refuses governed text there too)."""
        base[param] = file_id
        entry = await self._registry.file(caller.principal.subject, file_id)
        if entry is None:
            raise NotFound(f"No such File object: {file_id}", param=param, code="file_not_found")
        entry = await self._settled(caller, entry)
        require_processed(entry, param)
        facts: dict[str, Any] = {
            "model": model,
            "file": {"purpose": entry.purpose, "scan_passed": entry.purpose == FINE_TUNE},
            "recheck": {"matches": []},
            "job_request": {"matches": [match_fact(o, False) for o in request.overlaps]},
        }
        documents: dict[str, dict[str, Any]] = dict(request.documents)
        floor: MatchFloor | Unasked | None = UNASKED
        if entry.purpose == FINE_TUNE:
            rechecked = await self.recheck.current(entry)
            facts["recheck"] = {"matches": rechecked.matches}
            documents.update(rechecked.documents)
            floor = rechecked.floor
        decision = await self._access.decide(
            caller, "fine_tuning.jobs.create", facts, documents, floor=floor
        )
        await self._audit.append(
            AUDIT_KIND,
            {
                **caller.audit_fields(),
                **base,
                "file_sha256": entry.sha256,
                **decision_fields(decision),
            },
        )
        if not decision.allow:
            only_model = {v.get("kind") for v in decision.violations} == {"model"}
            raise refusal(
                decision,
                "Fine-tuning job refused by policy",
                param="model" if only_model and len(decision.reasons) == 1 else param,
            )
        return entry

    async def list_jobs(self, caller: Caller, params: dict[str, str]) -> dict[str, Any]:
        await self._access.read(caller, "fine_tuning.jobs.list")
        mine = await self._registry.job_ids(caller.principal.subject)
        page = await own_list(self._upstream, "fine_tuning/jobs", mine, params, JOB_LIST_LIMITS)
        jobs = [job for job in page["data"] if isinstance(job, dict)]
        ids = await self._gateway_file_ids(jobs)
        return {**page, "data": [with_file_ids(job, ids) for job in jobs]}

    async def job_call(self, caller: Caller, job_id: str, call: str) -> dict[str, Any]:
        """``retrieve``, ``cancel`` or ``events`` on one of the caller's jobs."""
        owned = await self._registry.owns_job(caller.principal.subject, job_id)
        await self._access.read(caller, f"fine_tuning.jobs.{call}", owned, job_id=job_id)
        path = f"fine_tuning/jobs/{job_id}"
        if call == "events":
            return await self._upstream.get(f"{path}/events")
        if call == "cancel":
            job = await self._upstream.post(f"{path}/cancel")
        else:
            job = await self._upstream.get(path)
        return with_file_ids(job, await self._gateway_file_ids([job]))

    async def _gateway_file_ids(self, jobs: list[dict[str, Any]]) -> dict[str, str]:
        upstream_ids = {
            str(job[k]) for job in jobs for k in JOB_FILE_FIELDS if isinstance(job.get(k), str)
        }
        return dict(await self._registry.file_ids_by_upstream(upstream_ids))
