"""Every principal's retrieval filter under one policy version, with as few OPA calls as
the policy provably allows (``templates`` says when).

Per version: the declared unknowns are read from the policy's METADATA and cross-checked
on one principal (OPA's own annotation lookup and the explicit unknowns must give the same
filter), then principals are grouped by shape (everything but the id). A shape with
several members is compiled once with a placeholder id when a partial evaluation with the
id unknown shows the id is only compared with document fields; the placeholder is then
replaced by each member's id before the gateway's translator and simplifier run, so each
member gets the filter its own compile would give. Any failed check, refusal or doubt
falls back to one compile per principal: slower, never different.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gateway.errors import PolicyUntranslatable
from gateway.governance_schema import BUILTIN_SCHEMA
from gateway.hashing import canonical_json
from gateway.identity import Principal
from gateway.policy import RETRIEVAL_PACKAGE, PolicyEngine
from gateway.policy_diff.templates import (
    SUBJECT_ID,
    declared_unknowns,
    id_only_compared_with_documents,
    shape_key,
    substitute,
)
from gateway.retrieval.simplify import simplify
from gateway.retrieval.translator import FilterTranslator

# A rule no policy defines: asking OPA for it (with the unknowns) skips its per-call
# annotation scan; the gateway does not use masks, and an undefined rule yields none.
_NO_MASKS = "__gateway_policy_diff_no_masks"

Outcome = tuple[dict[str, Any] | None, str | None]
"""(Elasticsearch filter, None) or (None, why the policy cannot be compiled for them)."""


@dataclass(frozen=True)
class _Refusal:
    """OPA refused to compile the policy for this input: why."""

    reason: str


@dataclass
class CompileStats:
    """What it took, for the benchmark and the curious."""

    principals: int = 0
    shapes: int = 0
    compiles: int = 0
    """Data-filter compile calls to OPA."""
    partial_evaluations: int = 0
    """Plain partial evaluations (the id-template proofs)."""
    templated_principals: int = 0
    """Principals whose filter came from their shape's template."""
    explicit_unknowns: bool = False
    id_templates: bool = False
    """The placeholder check passed: templates were allowed for this version."""


class VersionFilters:
    """Compiles and translates filters for many principals against one OPA."""

    def __init__(
        self,
        policy: PolicyEngine,
        *,
        package: str = RETRIEVAL_PACKAGE,
        concurrency: int = 8,
        stats: CompileStats | None = None,
    ) -> None:
        self._policy = policy
        self._package = package
        self._translator = FilterTranslator(BUILTIN_SCHEMA.field_types())
        self._gate = asyncio.Semaphore(concurrency)
        self._unknowns: list[str] | None = None
        self._placeholder = f"policy-diff-placeholder-{secrets.token_hex(16)}"
        self._check_lock = asyncio.Lock()
        self._agree: bool | None = None
        self._checked_template: dict[str, Any] = {}
        self.stats = stats if stats is not None else CompileStats()

    async def filters(self, principals: Sequence[Principal]) -> list[Outcome]:
        """Each principal's outcome, in order."""
        self.stats.principals += len(principals)
        if not principals:
            return []
        await self._check_unknowns(principals[0])
        shapes: dict[str, list[int]] = {}
        for number, principal in enumerate(principals):
            shapes.setdefault(shape_key(principal), []).append(number)
        self.stats.shapes += len(shapes)
        found: list[Outcome | None] = [None] * len(principals)

        async def shape(members: list[int]) -> None:
            group = [principals[n] for n in members]
            for number, outcome in zip(members, await self._shape(group), strict=True):
                found[number] = outcome

        await asyncio.gather(*(shape(members) for members in shapes.values()))
        return [outcome if outcome is not None else (None, "not compiled") for outcome in found]

    async def _shape(self, group: list[Principal]) -> list[Outcome]:
        if (
            len(group) > 1
            and self._templates_possible()
            and await self._id_is_a_parameter(group[0])
            and await self._placeholders_agree(group[0])
        ):
            template = self._checked_template.pop(shape_key(group[0]), None)
            if template is None:
                template = await self._ucast(self._with_id(group[0], self._placeholder))
            if not isinstance(template, _Refusal):
                self.stats.templated_principals += len(group)
                return [
                    self._translate(substitute(template, self._placeholder, p.subject))
                    for p in group
                ]
        return list(await asyncio.gather(*(self._one(p) for p in group)))

    async def _one(self, principal: Principal) -> Outcome:
        body = await self._ucast(principal.as_policy_input())
        return (None, body.reason) if isinstance(body, _Refusal) else self._translate(body)

    def _translate(self, body: Any) -> Outcome:
        try:
            return simplify(self._translator.translate(body)), None
        except PolicyUntranslatable as exc:
            return None, exc.detail

    async def _ucast(self, subject: dict[str, Any], *, explicit: bool = True) -> Any:
        """OPA's UCAST body, or why it refused."""
        unknowns = self._unknowns if explicit else None
        async with self._gate:
            self.stats.compiles += 1
            try:
                return await self._policy.compile_filter(
                    self._package,
                    "allow",
                    {"subject": subject},
                    unknowns=unknowns,
                    mask_rule=f"data.{self._package}.{_NO_MASKS}" if unknowns else None,
                )
            except PolicyUntranslatable as exc:
                return _Refusal(exc.detail)

    async def _check_unknowns(self, sample: Principal) -> None:
        """Use the declared unknowns only if OPA's own lookup gives the same filter."""
        unknowns = declared_unknowns(await self._policy.policy_modules(), self._package)
        if not unknowns:
            return
        self._unknowns = unknowns
        subject = sample.as_policy_input()
        own, explicit = await asyncio.gather(
            self._ucast(subject, explicit=False), self._ucast(subject)
        )
        if not _same(own, explicit):
            self._unknowns = None
        self.stats.explicit_unknowns = self._unknowns is not None

    def _templates_possible(self) -> bool:
        return self._unknowns is not None and not any(
            u == "input" or SUBJECT_ID.startswith(u + ".") or u.startswith(SUBJECT_ID)
            for u in self._unknowns
        )

    async def _placeholders_agree(self, sample: Principal) -> bool:
        """Once per version, on the first shape proved: two placeholder ids must give
        filters that differ only by the id (a second, independent check)."""
        async with self._check_lock:
            if self._agree is None:
                other = f"policy-diff-placeholder-{secrets.token_hex(16)}"
                first, second = await asyncio.gather(
                    self._ucast(self._with_id(sample, self._placeholder)),
                    self._ucast(self._with_id(sample, other)),
                )
                self._agree = not isinstance(first, _Refusal) and canonical_json(
                    substitute(first, self._placeholder, other)
                ) == canonical_json(second)
                self.stats.id_templates = self._agree
                if self._agree:
                    self._checked_template[shape_key(sample)] = first
            return self._agree

    async def _id_is_a_parameter(self, sample: Principal) -> bool:
        """Partial evaluation with the id unknown: used only against document fields?"""
        assert self._unknowns is not None
        shape = {k: v for k, v in sample.as_policy_input().items() if k != "id"}
        async with self._gate:
            self.stats.partial_evaluations += 1
            residual = await self._policy.partial_eval(
                f"data.{self._package}.allow",
                {"subject": shape},
                [*self._unknowns, SUBJECT_ID],
                f"cannot partially evaluate {self._package}.allow",
            )
        return id_only_compared_with_documents(residual)

    @staticmethod
    def _with_id(principal: Principal, subject_id: str) -> dict[str, Any]:
        return {**principal.as_policy_input(), "id": subject_id}


def _same(a: Any, b: Any) -> bool:
    """Two compile outcomes are equal: both refusals for the same reason, or equal bodies."""
    if isinstance(a, _Refusal) or isinstance(b, _Refusal):
        return bool(a == b)
    return canonical_json(a) == canonical_json(b)
