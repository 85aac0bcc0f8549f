"""The diff itself: both versions evaluated for every principal, then compared.

Widening (the exit code a policy repository's CI checks) is any principal gaining a
document, a model, retrieval on a model, a corpus for a model, or the auditor role.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from gateway.identity import Principal
from gateway.policy_diff.compare import Change, ChangeCounter
from gateway.policy_diff.evaluate import Access, ModelAccess


@dataclass
class PrincipalDiff:
    principal: Principal
    gained: Change
    lost: Change
    models_gained: list[str] = field(default_factory=list)
    models_lost: list[str] = field(default_factory=list)
    retrieval_changes: list[dict[str, Any]] = field(default_factory=list)
    """Per model: retrieval switched or its corpora changed, and whether that widens."""
    auditor: str | None = None
    """"gained" or "lost" when the auditor role changes."""
    errors: dict[str, str] = field(default_factory=dict)
    """Version ("from"/"to") -> why its filter could not be compiled for this principal."""

    @property
    def widens(self) -> bool:
        return bool(
            self.gained.chunks
            or self.models_gained
            or self.auditor == "gained"
            or any(c["widens"] for c in self.retrieval_changes)
        )

    @property
    def narrows(self) -> bool:
        return bool(
            self.lost.chunks
            or self.models_lost
            or self.auditor == "lost"
            or any(not c["widens"] for c in self.retrieval_changes)
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "subject": self.principal.subject,
            "groups": list(self.principal.groups),
            "attributes": dict(self.principal.attributes),
            "gained": self.gained.as_dict(),
            "lost": self.lost.as_dict(),
            "models_gained": self.models_gained,
            "models_lost": self.models_lost,
            "retrieval_changes": self.retrieval_changes,
            "auditor": self.auditor,
            "errors": self.errors,
        }


@dataclass
class DiffReport:
    source_from: str
    source_to: str
    indexed_chunks: int
    principals: int
    changed: list[PrincipalDiff]
    notes: list[str] = field(default_factory=list)

    @property
    def widens(self) -> bool:
        return any(p.widens for p in self.changed)

    def summary(self) -> dict[str, Any]:
        corpora: dict[str, dict[str, int]] = {}
        for diff in self.changed:
            for side, change in (("gained", diff.gained), ("lost", diff.lost)):
                for corpus, docs in change.corpora.items():
                    entry = corpora.setdefault(
                        corpus,
                        {
                            "principals_gaining": 0,
                            "documents_gained": 0,
                            "principals_losing": 0,
                            "documents_lost": 0,
                        },
                    )
                    entry["principals_" + ("gaining" if side == "gained" else "losing")] += 1
                    entry["documents_" + side] += docs
        return {
            "principals": self.principals,
            "principals_gaining": sum(1 for d in self.changed if d.gained.chunks),
            "principals_losing": sum(1 for d in self.changed if d.lost.chunks),
            "documents_gained": sum(d.gained.documents for d in self.changed),
            "documents_lost": sum(d.lost.documents for d in self.changed),
            "chunks_gained": sum(d.gained.chunks for d in self.changed),
            "chunks_lost": sum(d.lost.chunks for d in self.changed),
            "model_grants_gained": sum(len(d.models_gained) for d in self.changed),
            "model_grants_lost": sum(len(d.models_lost) for d in self.changed),
            "auditors_gained": sum(1 for d in self.changed if d.auditor == "gained"),
            "auditors_lost": sum(1 for d in self.changed if d.auditor == "lost"),
            "untranslatable": sum(1 for d in self.changed if d.errors),
            "corpora": dict(sorted(corpora.items())),
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "from": self.source_from,
            "to": self.source_to,
            "indexed_chunks": self.indexed_chunks,
            "widens": self.widens,
            "summary": self.summary(),
            "changes": [d.as_dict() for d in self.changed],
            "notes": self.notes,
        }


async def compare(
    principals: Sequence[Principal],
    before: Sequence[Access],
    after: Sequence[Access],
    counter: ChangeCounter,
) -> list[PrincipalDiff]:
    """The principals whose access differs between the versions, in input order."""
    counts = await counter.changes(
        [(b.es_filter, a.es_filter) for b, a in zip(before, after, strict=True)]
    )
    diffs = []
    for principal, old, new, (gained, lost) in zip(principals, before, after, counts, strict=True):
        diff = PrincipalDiff(principal, gained, lost)
        _models(diff, old.models, new.models)
        if old.auditor != new.auditor:
            diff.auditor = "gained" if new.auditor else "lost"
        diff.errors = {
            name: access.error
            for name, access in (("from", old), ("to", new))
            if access.error is not None
        }
        if diff.widens or diff.narrows or diff.errors:
            diffs.append(diff)
    return diffs


def _models(diff: PrincipalDiff, old: dict[str, ModelAccess], new: dict[str, ModelAccess]) -> None:
    denied = ModelAccess(False, False, ())
    for model in sorted(set(old) | set(new)):
        before, after = old.get(model, denied), new.get(model, denied)
        if before.allowed != after.allowed:
            (diff.models_gained if after.allowed else diff.models_lost).append(model)
            continue
        if not after.allowed or (before.retrieval, before.corpora) == (
            after.retrieval,
            after.corpora,
        ):
            continue
        diff.retrieval_changes.append(
            {
                "model": model,
                "from": before.as_dict(),
                "to": after.as_dict(),
                "widens": _widens(before, after),
            }
        )


def _widens(before: ModelAccess, after: ModelAccess) -> bool:
    """The model can now draw on a corpus it could not before (None: every corpus, today's
    and future ones)."""
    if not after.retrieval:
        return False
    if not before.retrieval:
        return after.corpora is None or bool(after.corpora)
    if before.corpora is None:
        return False
    return after.corpora is None or not set(after.corpora) <= set(before.corpora)
