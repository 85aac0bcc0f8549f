"""Files and fine-tuning jobs, governed: own objects only, scanned uploads, audited calls.

An upload is: size check -> parse and scan (``purpose=fine-tune``) -> policy -> audit ->
forward -> register. A job is: the training file must be the caller's and have passed
the scan -> policy -> audit -> forward -> register. Reads and cancels are proxied only
for the caller's own objects; everything else answers 404, as if it did not exist.
Audit records hold ids, hashes, line numbers and decisions, never training text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.audit import AuditLog
from gateway.errors import BadRequest, GatewayError, NotFound, PayloadTooLarge, PolicyDenied
from gateway.finetune.registry import FileEntry, Registry
from gateway.finetune.scan import UploadScanner
from gateway.finetune.upstream import FinetuneUpstream
from gateway.identity import Principal
from gateway.policy import FinetuneDecision, PolicyEngine

AUDIT_KIND = "finetune"
# Listing the caller's files or jobs reads the upstream's (everyone's) list this many at
# a time,
# at most this many pages per call.
UPSTREAM_PAGE_SIZE = 100
MAX_UPSTREAM_PAGES = 50
# OpenAI's list ``limit``s: (default, maximum).
JOB_LIST_LIMITS = (20, 100)
FILE_LIST_LIMITS = (10_000, 10_000)
FINE_TUNE = "fine-tune"
SANCTIONED_USE = (
    "Information from governed corpora may not be trained into a model; use it through "
    "retrieval via the gateway (POST /v1/chat/completions), which scopes, redacts and "
    "audits every use."
)


@dataclass(frozen=True, slots=True)
class Caller:
    principal: Principal
    request_id: str

    def audit_fields(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "subject": self.principal.subject,
            "groups": list(self.principal.groups),
            "key_id": self.principal.key_id,
        }


class FinetuneService:
    def __init__(
        self,
        *,
        scanner: UploadScanner,
        registry: Registry,
        upstream: FinetuneUpstream,
        policy: PolicyEngine,
        audit: AuditLog,
        max_upload_bytes: int,
    ) -> None:
        self._scanner = scanner
        self._registry = registry
        self._upstream = upstream
        self._policy = policy
        self._audit = audit
        self._max_bytes = max_upload_bytes

    # -- files ------------------------------------------------------------------------

    async def upload(
        self, caller: Caller, filename: str, content: bytes, purpose: str
    ) -> dict[str, Any]:
        base = {
            **caller.audit_fields(),
            "action": "files.create",
            "purpose": purpose,
            "bytes": len(content),
        }
        facts: dict[str, Any] = {"purpose": purpose, "scan": {"scanned": False}}
        try:
            if len(content) > self._max_bytes:
                raise PayloadTooLarge(
                    f"The file is {len(content)} bytes; the limit is {self._max_bytes} bytes.",
                    param="file",
                )
            if not content:
                raise BadRequest("The file is empty.", param="file", code="invalid_file_format")
            if purpose == FINE_TUNE:
                scan = await self._scanner.scan(content)
                facts["scan"] = scan.policy_input()
                base.update(sha256=scan.sha256, examples=scan.examples, scan_ms=scan.timings_ms)
        except GatewayError as exc:
            await self._audit.append(
                AUDIT_KIND,
                {**base, "allowed": False, "refused": exc.code, "status": exc.status_code},
            )
            raise
        decision = await self._policy.finetune(caller.principal, "files.create", facts)
        audit_id = await self._audit.append(AUDIT_KIND, {**base, **_decision_fields(decision)})
        if not decision.allow:
            raise _refusal(decision, "Fine-tuning upload refused by policy")
        stored = await self._upstream.upload(filename, content, purpose)
        file_id = str(stored.get("id") or "")
        if not file_id:
            raise GatewayError("The upstream did not return a file id.")
        self._registry.add_file(
            FileEntry(
                id=file_id,
                owner=caller.principal.subject,
                purpose=purpose,
                bytes=len(content),
                sha256=str(base.get("sha256", "")),
                scan_passed=purpose == FINE_TUNE,
            )
        )
        await self._audit.append(
            AUDIT_KIND,
            {
                **caller.audit_fields(),
                "action": "files.stored",
                "file_id": file_id,
                "decision_audit_id": audit_id,
            },
        )
        return stored

    async def list_files(self, caller: Caller, params: dict[str, str]) -> dict[str, Any]:
        await self._read(caller, "files.list")
        mine = self._registry.file_ids(caller.principal.subject)
        purpose = params.get("purpose")
        extra = {"purpose": purpose} if purpose else None
        return await self._own_list("files", mine, params, FILE_LIST_LIMITS, extra)

    async def retrieve_file(self, caller: Caller, file_id: str) -> dict[str, Any]:
        await self._read(caller, "files.retrieve", file_id=file_id)
        self._own_file(caller, file_id)
        return await self._upstream.get(f"files/{file_id}")

    async def file_content(self, caller: Caller, file_id: str) -> tuple[bytes, str]:
        """The caller's own uploaded file, as stored upstream (it passed the scan)."""
        await self._read(caller, "files.content", file_id=file_id)
        self._own_file(caller, file_id)
        return await self._upstream.get_bytes(f"files/{file_id}/content")

    async def delete_file(self, caller: Caller, file_id: str) -> dict[str, Any]:
        await self._read(caller, "files.delete", file_id=file_id)
        self._own_file(caller, file_id)
        deleted = await self._upstream.delete(f"files/{file_id}")
        self._registry.delete_file(caller.principal.subject, file_id)
        return deleted

    # -- jobs -------------------------------------------------------------------------

    async def create_job(self, caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
        model = body.get("model")
        training = body.get("training_file")
        if not isinstance(model, str) or not model:
            raise BadRequest(
                "'model' is required.", param="model", code="missing_required_parameter"
            )
        if not isinstance(training, str) or not training:
            raise BadRequest(
                "'training_file' is required.",
                param="training_file",
                code="missing_required_parameter",
            )
        base = {**caller.audit_fields(), "action": "fine_tuning.jobs.create", "model": model}
        files = {"training_file": training}
        validation = body.get("validation_file")
        if isinstance(validation, str) and validation:
            files["validation_file"] = validation
        for param, file_id in files.items():
            entry = self._registry.file(caller.principal.subject, file_id)
            if entry is None:
                await self._audit.append(
                    AUDIT_KIND,
                    {**base, param: file_id, "allowed": False, "refused": "file_not_found"},
                )
                raise NotFound(
                    f"No such File object: {file_id}", param=param, code="file_not_found"
                )
            facts = {
                "model": model,
                "file": {"purpose": entry.purpose, "scan_passed": entry.scan_passed},
            }
            decision = await self._policy.finetune(
                caller.principal, "fine_tuning.jobs.create", facts
            )
            await self._audit.append(
                AUDIT_KIND,
                {**base, param: file_id, "file_sha256": entry.sha256, **_decision_fields(decision)},
            )
            if not decision.allow:
                raise _refusal(decision, "Fine-tuning job refused by policy", param=param)
        job = await self._upstream.post("fine_tuning/jobs", body)
        job_id = str(job.get("id") or "")
        if not job_id:
            raise GatewayError("The upstream did not return a job id.")
        self._registry.add_job(caller.principal.subject, job_id, training)
        await self._audit.append(
            AUDIT_KIND,
            {
                **caller.audit_fields(),
                "action": "fine_tuning.jobs.created",
                "job_id": job_id,
                "training_file": training,
            },
        )
        return job

    async def list_jobs(self, caller: Caller, params: dict[str, str]) -> dict[str, Any]:
        await self._read(caller, "fine_tuning.jobs.list")
        mine = self._registry.job_ids(caller.principal.subject)
        return await self._own_list("fine_tuning/jobs", mine, params, JOB_LIST_LIMITS)

    async def _own_list(
        self,
        path: str,
        owned: set[str],
        params: dict[str, str],
        limits: tuple[int, int],
        extra: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """One page of the caller's objects, by ``after`` / ``limit`` over them alone.

        The upstream pages over everyone's objects, so its pages are read (from
        ``after``) and filtered until ``limit`` of the caller's are found or the upstream
        has no more.
        """
        limit = _list_limit(params.get("limit"), *limits)
        cursor = params.get("after")
        found: list[dict[str, Any]] = []
        upstream_has_more = True
        for _ in range(MAX_UPSTREAM_PAGES):
            query = {**(extra or {}), "limit": str(UPSTREAM_PAGE_SIZE)}
            if cursor:
                query["after"] = cursor
            listing = await self._upstream.get(path, query)
            page = [item for item in listing.get("data") or [] if isinstance(item, dict)]
            found += [item for item in page if item.get("id") in owned]
            upstream_has_more = bool(listing.get("has_more")) and bool(page)
            if len(found) > limit or not upstream_has_more:
                break
            cursor = str(page[-1].get("id"))
        return {
            "object": "list",
            "data": found[:limit],
            "has_more": len(found) > limit or upstream_has_more,
        }

    async def job_call(self, caller: Caller, job_id: str, call: str) -> dict[str, Any]:
        """``retrieve``, ``cancel`` or ``events`` on one of the caller's jobs."""
        await self._read(caller, f"fine_tuning.jobs.{call}", job_id=job_id)
        if not self._registry.owns_job(caller.principal.subject, job_id):
            raise NotFound(f"No such fine-tuning job: {job_id}", param="fine_tuning_job_id")
        path = f"fine_tuning/jobs/{job_id}"
        if call == "cancel":
            return await self._upstream.post(f"{path}/cancel")
        if call == "events":
            return await self._upstream.get(f"{path}/events")
        return await self._upstream.get(path)

    # -- helpers ----------------------------------------------------------------------

    async def _read(self, caller: Caller, action: str, **ids: str) -> None:
        """Policy check (group membership) and one audit record for a read or cancel."""
        read = "files.read" if action.startswith("files.") else "fine_tuning.jobs.read"
        decision = await self._policy.finetune(caller.principal, read, {})
        await self._audit.append(
            AUDIT_KIND,
            {**caller.audit_fields(), "action": action, **ids, **_decision_fields(decision)},
        )
        if not decision.allow:
            raise _refusal(decision, "Request denied by policy")

    def _own_file(self, caller: Caller, file_id: str) -> FileEntry:
        entry = self._registry.file(caller.principal.subject, file_id)
        if entry is None:
            raise NotFound(
                f"No such File object: {file_id}", param="file_id", code="file_not_found"
            )
        return entry


def _list_limit(raw: str | None, default: int, maximum: int) -> int:
    if raw is None:
        return default
    try:
        limit = int(raw)
    except ValueError:
        limit = 0
    if not 1 <= limit <= maximum:
        raise BadRequest(f"'limit' must be an integer from 1 to {maximum}.", param="limit")
    return limit


def _decision_fields(decision: FinetuneDecision) -> dict[str, Any]:
    return {
        "allowed": decision.allow,
        "reasons": list(decision.reasons),
        "violations": list(decision.violations),
        "policy_decision_ids": [decision.decision_id] if decision.decision_id else [],
    }


def _refusal(decision: FinetuneDecision, prefix: str, param: str = "file") -> PolicyDenied:
    governed = any(v.get("kind") in {"overlap", "pii"} for v in decision.violations)
    message = f"{prefix}: " + "; ".join(decision.reasons) + "."
    if governed:
        message += " " + SANCTIONED_USE
    return PolicyDenied(
        message, param=param, code="finetune_data_governed" if governed else "policy_denied"
    )
