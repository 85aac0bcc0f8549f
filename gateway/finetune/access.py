"""Policy checks and audit records of the files and fine-tuning calls that need no scan.

Reads and cancels are served only for the caller's own objects: another caller's (or
no) object is a 404, audited as refused, never as allowed. A policy refusal over
documents names only those the caller may retrieve (the others are counted).
"""

from __future__ import annotations

from typing import Any

from gateway.audit import AuditLog
from gateway.errors import DENIED_BY_POLICY, GatewayError, NotFound
from gateway.finetune.decisions import AUDIT_KIND, OVERLAPS, Caller, decision_fields, refusal
from gateway.finetune.floor import (
    MATCH_KEYS,
    UNASKED,
    MatchFloor,
    Unasked,
    carries_matches,
    over_floor,
)
from gateway.policy import FinetuneDecision, PolicyEngine


class Access:
    def __init__(self, policy: PolicyEngine, audit: AuditLog) -> None:
        self._policy = policy
        self._audit = audit

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

    async def read(self, caller: Caller, action: str, owned: bool = True, **ids: str) -> None:
        """Policy check (group membership) and one audit record for a read or cancel.

        Another caller's (or no) object is a 404 and audited as refused, never allowed.
        """
        read = "files.read" if action.startswith("files.") else "fine_tuning.jobs.read"
        base = {"action": action, **ids}
        if not owned:
            kind = "File object" if action.startswith("files.") else "fine-tuning job"
            param = "file_id" if action.startswith("files.") else "fine_tuning_job_id"
            code = "file_not_found" if action.startswith("files.") else "not_found"
            missing = NotFound(
                f"No such {kind}: {next(iter(ids.values()))}", param=param, code=code
            )
            await self.refused(caller, base, missing)
            raise missing
        decision = await self._policy.finetune(caller.principal, read, {})
        await self._audit.append(
            AUDIT_KIND, {**caller.audit_fields(), **base, **decision_fields(decision)}
        )
        if not decision.allow:
            raise refusal(decision, DENIED_BY_POLICY)

    async def match_floor(self) -> MatchFloor | None:
        """The fine-tune policy's ``match_floor`` as it is now (one OPA call)."""
        return MatchFloor.parse(await self._policy.finetune_match_floor())

    async def decide(
        self,
        caller: Caller,
        action: str,
        facts: dict[str, Any],
        documents: dict[str, dict[str, Any]],
        *,
        floor: MatchFloor | Unasked | None = UNASKED,
    ) -> FinetuneDecision:
        """The policy's decision on the matches over its floor (``gateway.finetune.floor``);
        when it refuses over documents, asked again with the documents the caller may
        retrieve marked ``visible`` (only those get named).

        ``floor``: the floor the caller already asked for (it cuts its stored record to
        the same one); asked here only when unknown and there is a match to cut."""
        if carries_matches(facts):
            if floor is UNASKED:
                floor = await self.match_floor()
            facts = over_floor(facts, floor)
        decision = await self._policy.finetune(caller.principal, action, facts)
        refused = sorted(
            {str(v.get("doc_id")) for v in decision.violations if v.get("kind") in OVERLAPS}
        )
        governance = [documents[doc_id] for doc_id in refused if doc_id in documents]
        if decision.allow or not governance:
            return decision
        verdicts = await self._policy.allow_documents(caller.principal, governance)
        visible = {str(doc["doc_id"]) for doc, ok in zip(governance, verdicts, strict=True) if ok}
        if not visible:
            return decision
        for key in MATCH_KEYS:
            if key in facts:
                facts[key] = {
                    **facts[key],
                    "matches": [
                        {**m, "visible": m.get("doc_id") in visible}
                        for m in facts[key].get("matches", [])
                    ],
                }
        return await self._policy.finetune(caller.principal, action, facts)
