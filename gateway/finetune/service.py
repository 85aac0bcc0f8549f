"""Files and fine-tuning jobs, governed: own objects only, scanned uploads, audited calls.

An upload is: size check -> parse and scan (``purpose=fine-tune``) -> policy -> audit ->
forward -> register. A job is: the training file must be the caller's and have passed
the scan -> policy -> audit -> forward -> register. Reads and cancels are proxied only
for the caller's own objects; everything else answers 404, as if it did not exist.
Audit records hold ids, hashes, line numbers and decisions, never training text.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.audit import AuditLog
from gateway.errors import (
    DENIED_BY_POLICY,
    BadRequest,
    GatewayError,
    NotFound,
    PayloadTooLarge,
    PolicyDenied,
)
from gateway.finetune.listing import FILE_LIST_LIMITS, JOB_LIST_LIMITS, own_list
from gateway.finetune.registry import FileEntry, Registry, ScanRecord
from gateway.finetune.scan import ScanResult, UploadScanner, match_fact
from gateway.finetune.upstream import FinetuneUpstream
from gateway.identity import Principal
from gateway.ingest.records import timestamp
from gateway.policy import FinetuneDecision, PolicyEngine

AUDIT_KIND = "finetune"
FINE_TUNE = "fine-tune"
RECHECK_MARGIN = timedelta(minutes=5)
"""Chunks ingested this long before a scan started are searched again at job creation
(a chunk being written while the scan searched may not have been visible to it)."""
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
        started = datetime.now(UTC)
        try:
            if len(content) > self._max_bytes:
                raise PayloadTooLarge(
                    f"The file is {len(content)} bytes; the limit is {self._max_bytes} bytes.",
                    param="file",
                )
            if not content:
                raise BadRequest("The file is empty.", param="file", code="invalid_file_format")
            scan = await self._scanner.scan(content, purpose)
            base.update(
                sha256=scan.sha256,
                examples=scan.examples,
                scan_ms=scan.timings_ms,
                pii_found=[finding.fact() for finding in scan.pii],
            )
            facts = {"purpose": purpose, "scan": scan.policy_input()}
            decision = await self._decide(caller, "files.create", facts, scan.documents)
        except GatewayError as exc:
            await self.refused(caller, base, exc)
            raise
        audit_id = await self._audit.append(AUDIT_KIND, {**base, **_decision_fields(decision)})
        if not decision.allow:
            raise _refusal(decision, "Upload refused by policy")
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
                sha256=scan.sha256,
                scan_passed=purpose == FINE_TUNE,
            )
        )
        matches = [match_fact(o, False) for o in scan.overlaps]
        self._registry.add_scan(file_id, ScanRecord(timestamp(started), matches))
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

    async def refused(self, caller: Caller, base: dict[str, Any], exc: GatewayError) -> None:
        """The audit record of a call refused before (or instead of) a policy decision."""
        await self._audit.append(
            AUDIT_KIND,
            {
                **caller.audit_fields(),
                **base,
                "allowed": False,
                "refused": exc.code,
                "status": exc.status_code,
            },
        )

    async def list_files(self, caller: Caller, params: dict[str, str]) -> dict[str, Any]:
        await self._read(caller, "files.list")
        mine = self._registry.file_ids(caller.principal.subject)
        purpose = params.get("purpose")
        extra = {"purpose": purpose} if purpose else None
        return await own_list(self._upstream, "files", mine, params, FILE_LIST_LIMITS, extra)

    async def retrieve_file(self, caller: Caller, file_id: str) -> dict[str, Any]:
        await self._read(
            caller, "files.retrieve", self._owns_file(caller, file_id), file_id=file_id
        )
        return await self._upstream.get(f"files/{file_id}")

    async def file_content(self, caller: Caller, file_id: str) -> tuple[bytes, str]:
        """The caller's own uploaded file, as stored upstream (it passed the scan)."""
        await self._read(caller, "files.content", self._owns_file(caller, file_id), file_id=file_id)
        return await self._upstream.get_bytes(f"files/{file_id}/content")

    async def delete_file(self, caller: Caller, file_id: str) -> dict[str, Any]:
        await self._read(caller, "files.delete", self._owns_file(caller, file_id), file_id=file_id)
        deleted = await self._upstream.delete(f"files/{file_id}")
        self._registry.delete_file(caller.principal.subject, file_id)
        return deleted

    # -- jobs -------------------------------------------------------------------------

    async def create_job(self, caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
        base: dict[str, Any] = {"action": "fine_tuning.jobs.create"}
        try:
            model, files = _job_request(body)
            base["model"] = model
            for param, file_id in files.items():
                await self._check_job_file(caller, base, model, param, file_id)
        except GatewayError as exc:
            if not isinstance(exc, PolicyDenied):  # policy refusals are audited already
                await self.refused(caller, base, exc)
            raise
        job = await self._upstream.post("fine_tuning/jobs", body)
        job_id = str(job.get("id") or "")
        if not job_id:
            raise GatewayError("The upstream did not return a job id.")
        self._registry.add_job(caller.principal.subject, job_id, files["training_file"])
        await self._audit.append(
            AUDIT_KIND,
            {
                **caller.audit_fields(),
                "action": "fine_tuning.jobs.created",
                "job_id": job_id,
                "training_file": files["training_file"],
            },
        )
        return job

    async def _check_job_file(
        self, caller: Caller, base: dict[str, Any], model: str, param: str, file_id: str
    ) -> None:
        """The file must be the caller's, have passed the scan, and still pass it against
        the corpus as it is now (chunks ingested since the scan are searched)."""
        base[param] = file_id
        entry = self._registry.file(caller.principal.subject, file_id)
        if entry is None:
            raise NotFound(f"No such File object: {file_id}", param=param, code="file_not_found")
        facts: dict[str, Any] = {
            "model": model,
            "file": {"purpose": entry.purpose, "scan_passed": entry.scan_passed},
            "recheck": {"matches": []},
        }
        documents: dict[str, dict[str, Any]] = {}
        if entry.purpose == FINE_TUNE and entry.scan_passed:
            rechecked, documents = await self._recheck(entry)
            facts["recheck"] = {"matches": rechecked}
        decision = await self._decide(caller, "fine_tuning.jobs.create", facts, documents)
        await self._audit.append(
            AUDIT_KIND,
            {
                **caller.audit_fields(),
                **base,
                "file_sha256": entry.sha256,
                **_decision_fields(decision),
            },
        )
        if not decision.allow:
            raise _refusal(decision, "Fine-tuning job refused by policy", param=param)

    async def _recheck(
        self, entry: FileEntry
    ) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
        """The scan's matches plus the file's matches with chunks ingested since."""
        record = self._registry.scan(entry.id)
        if record is None:
            raise GatewayError("The file's scan record is missing; upload it again.")
        content, _ = await self._upstream.get_bytes(f"files/{entry.id}/content")
        if hashlib.sha256(content).hexdigest() != entry.sha256:
            raise GatewayError("The stored file differs from the one scanned; upload it again.")
        since = datetime.fromisoformat(record.scanned_at.replace("Z", "+00:00"))
        fresh: ScanResult = await self._scanner.recheck(
            content, entry.purpose, timestamp(since - RECHECK_MARGIN)
        )
        return (
            [*record.matches, *(match_fact(o, False) for o in fresh.overlaps)],
            fresh.documents,
        )

    async def list_jobs(self, caller: Caller, params: dict[str, str]) -> dict[str, Any]:
        await self._read(caller, "fine_tuning.jobs.list")
        mine = self._registry.job_ids(caller.principal.subject)
        return await own_list(self._upstream, "fine_tuning/jobs", mine, params, JOB_LIST_LIMITS)

    async def job_call(self, caller: Caller, job_id: str, call: str) -> dict[str, Any]:
        """``retrieve``, ``cancel`` or ``events`` on one of the caller's jobs."""
        owned = self._registry.owns_job(caller.principal.subject, job_id)
        await self._read(caller, f"fine_tuning.jobs.{call}", owned, job_id=job_id)
        path = f"fine_tuning/jobs/{job_id}"
        if call == "cancel":
            return await self._upstream.post(f"{path}/cancel")
        if call == "events":
            return await self._upstream.get(f"{path}/events")
        return await self._upstream.get(path)

    # -- helpers ----------------------------------------------------------------------

    async def _read(self, caller: Caller, action: str, owned: bool = True, **ids: str) -> None:
        """Policy check (group membership) and one audit record for a read or cancel.

        Another caller's (or no) object is a 404 and audited as refused, never allowed.
        """
        read = "files.read" if action.startswith("files.") else "fine_tuning.jobs.read"
        base = {"action": action, **ids}
        if not owned:
            kind = "File object" if action.startswith("files.") else "fine-tuning job"
            param = "file_id" if action.startswith("files.") else "fine_tuning_job_id"
            missing = NotFound(
                f"No such {kind}: {next(iter(ids.values()))}", param=param, code="not_found"
            )
            await self.refused(caller, base, missing)
            raise missing
        decision = await self._policy.finetune(caller.principal, read, {})
        await self._audit.append(
            AUDIT_KIND, {**caller.audit_fields(), **base, **_decision_fields(decision)}
        )
        if not decision.allow:
            raise _refusal(decision, DENIED_BY_POLICY)

    def _owns_file(self, caller: Caller, file_id: str) -> bool:
        return self._registry.file(caller.principal.subject, file_id) is not None

    async def _decide(
        self,
        caller: Caller,
        action: str,
        facts: dict[str, Any],
        documents: dict[str, dict[str, Any]],
    ) -> FinetuneDecision:
        """The policy's decision; when it refuses over documents, asked again with the
        documents the caller may retrieve marked ``visible`` (only those get named)."""
        decision = await self._policy.finetune(caller.principal, action, facts)
        refused = sorted(
            {str(v.get("doc_id")) for v in decision.violations if v.get("kind") == "overlap"}
        )
        governance = [documents[doc_id] for doc_id in refused if doc_id in documents]
        if decision.allow or not governance:
            return decision
        verdicts = await self._policy.allow_documents(caller.principal, governance)
        visible = {str(doc["doc_id"]) for doc, ok in zip(governance, verdicts, strict=True) if ok}
        if not visible:
            return decision
        for key in ("scan", "recheck"):
            if key in facts:
                facts[key] = {
                    **facts[key],
                    "matches": [
                        {**m, "visible": m.get("doc_id") in visible}
                        for m in facts[key].get("matches", [])
                    ],
                }
        return await self._policy.finetune(caller.principal, action, facts)


def _job_request(body: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """The model and the file ids of a job request, or BadRequest."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest("'model' is required.", param="model", code="missing_required_parameter")
    files: dict[str, str] = {}
    for param in ("training_file", "validation_file"):
        value = body.get(param)
        if value is None and param == "validation_file":
            continue
        if not isinstance(value, str) or not value:
            problem = "is required" if value is None else "must be a file id (a string)"
            raise BadRequest(f"'{param}' {problem}.", param=param, code="invalid_value")
        files[param] = value
    return model, files


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
