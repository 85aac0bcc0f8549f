"""What the upload's PII scan looks for, as the fine-tune policy says.

``gateway.finetune.pii_scan`` answers, before a scan, which PII types can refuse an
upload or are to be reported, and whether any of them is an NER type (names, places).
Without NER types the scan runs the pattern-only lane (``gateway.finetune.pii_patterns``);
with them, every string goes through the NER pipeline on the analysis pool's bulk lane.
An unreadable answer fails the scan closed, like any other policy error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.errors import DependencyUnavailable
from gateway.policy import FINETUNE_PACKAGE, PolicyEngine

RULE = "pii_scan"


@dataclass(frozen=True, slots=True)
class PiiPlan:
    scan: bool
    """Whether uploads of this purpose are scanned for PII at all."""
    types: tuple[str, ...] | None
    """The entity types the policy blocks or reports (None: every type)."""
    ner: bool
    """Whether any of them needs the NER model."""


DEFAULT_PLAN = PiiPlan(scan=True, types=None, ner=False)
"""Without a policy to ask (tests, benchmarks): every pattern type, no NER."""


async def policy_plan(policy: PolicyEngine, purpose: str) -> PiiPlan:
    """``gateway.finetune.pii_scan`` for an upload of ``purpose``."""
    response = await policy.query(
        FINETUNE_PACKAGE, RULE, {"action": "files.create", "purpose": purpose}
    )
    return parse_plan(response.get("result"))


def parse_plan(result: Any) -> PiiPlan:
    """The policy's answer as a plan, or DependencyUnavailable for the wrong shape."""
    if (
        not isinstance(result, dict)
        or not isinstance(result.get("scan"), bool)
        or not isinstance(result.get("ner"), bool)
        or not isinstance(result.get("types"), list)
        or not all(isinstance(kind, str) for kind in result["types"])
    ):
        raise DependencyUnavailable("opa", f"{FINETUNE_PACKAGE}.{RULE} has the wrong shape")
    return PiiPlan(scan=result["scan"], types=tuple(result["types"]), ner=result["ner"])
