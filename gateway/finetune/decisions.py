"""Who is calling, and how a fine-tune policy decision reads in audit records and errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.errors import PolicyDenied
from gateway.identity import Principal
from gateway.policy import FinetuneDecision

AUDIT_KIND = "finetune"
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


OVERLAPS = frozenset({"overlap", "request_overlap"})
"""Violation kinds about governed documents (in a file, or in a job request's text)."""


def decision_fields(decision: FinetuneDecision) -> dict[str, Any]:
    return {
        "allowed": decision.allow,
        "reasons": list(decision.reasons),
        "violations": list(decision.violations),
        "policy_decision_ids": [decision.decision_id] if decision.decision_id else [],
    }


def refusal(decision: FinetuneDecision, prefix: str, param: str = "file") -> PolicyDenied:
    governed = any(v.get("kind") in {*OVERLAPS, "pii"} for v in decision.violations)
    message = f"{prefix}: " + "; ".join(decision.reasons) + "."
    if any(v.get("kind") in OVERLAPS for v in decision.violations):
        message += " " + SANCTIONED_USE  # about corpora: not for personal data alone
    return PolicyDenied(
        message, param=param, code="finetune_data_governed" if governed else "policy_denied"
    )
