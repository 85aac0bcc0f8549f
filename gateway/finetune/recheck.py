"""A stored file against the corpus as it is now: asked at every use of the file.

A file passed its upload scan against the corpus of that moment; text ingested since
(or reclassified in place) was not there to match. So wherever a stored file becomes
input again (a fine-tuning job; a chat or Responses request naming it) the policy
decides over the file's matches against the corpus as it is at that use:

- the corpus state (``gateway.finetune.corpus_state``, one aggregation) is read first;
- equal to the state of the file's last match (``FileEntry.corpus_check``): that match
  still holds, and nothing is fetched or matched again (when the record was cut to the
  policy's ``match_floor``, only while the policy states the same floor);
- otherwise the file is fetched from the upstream (its SHA-256 checked against the
  scanned one) and matched whole, and that match is recorded with the state read before
  it, whatever the policy then says (the next use under the same corpus reuses it).

The file's ``status`` is left as it is: a refusal at use depends on the corpus and the
policy of the moment, and either may change back (the document deleted, a threshold
raised), while ``error`` is final. A refused file stays refused without being matched
again for as long as the corpus holds still: the recorded match refuses it each time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import structlog

from gateway.audit import AuditLog
from gateway.errors import DependencyUnavailable, GatewayError
from gateway.finetune.access import Access
from gateway.finetune.decisions import AUDIT_KIND, Caller, decision_fields
from gateway.finetune.floor import UNASKED, MatchFloor, Unasked, cut_to_floor
from gateway.finetune.registry import FileEntry, Registry
from gateway.finetune.scan import ScanResult, UploadScanner, match_fact
from gateway.finetune.upstream import FinetuneUpstream
from gateway.policy import FinetuneDecision

log = structlog.get_logger("gateway.finetune")

USE = "files.use"
"""The fine-tune policy's action for a stored file named as a model request's input."""


@dataclass(frozen=True, slots=True)
class Rechecked:
    matches: list[dict[str, Any]]
    """Match facts (``match_fact``, none ``visible``: ``Access.decide`` marks those)."""
    documents: dict[str, dict[str, Any]]
    """Governance fields of each matched document (to know which the caller may see)."""
    matched: bool
    """Whether the file was matched again (False: the recorded match still held)."""
    floor: MatchFloor | Unasked | None = UNASKED
    """The policy's floor if it was asked for on the way (``Access.decide`` reuses it)."""


def corpus_check(
    result: ScanResult, matches: list[dict[str, Any]], floor: MatchFloor | None
) -> dict[str, Any] | None:
    """What a file's entry records of a whole-file match (None: no state to hold for).

    ``matches`` are ``result``'s match facts; only those at or over the policy's floor
    are kept, with the floor and the number left out: a large benign file has tens of
    thousands of weak matches, megabytes read back at every use of the file."""
    if result.corpus_state is None:
        return None
    kept, left_out = cut_to_floor(matches, floor)
    named = {str(m.get("doc_id")) for m in kept}
    return {
        "state": result.corpus_state,
        "matches": kept,
        "left_out": left_out,
        "floor": None if floor is None else dict(floor.least),
        "documents": {k: v for k, v in result.documents.items() if k in named},
    }


class FileRecheck:
    def __init__(
        self,
        *,
        scanner: UploadScanner,
        registry: Registry,
        upstream: FinetuneUpstream,
        access: Access,
        audit: AuditLog,
    ) -> None:
        self._scanner = scanner
        self._registry = registry
        self._upstream = upstream
        self._access = access
        self._audit = audit

    async def current(self, entry: FileEntry) -> Rechecked:
        """The processed file's matches against the corpus as it is now."""
        check = entry.corpus_check
        floor: MatchFloor | Unasked | None = UNASKED
        if check is not None and check.get("state") == await self._scanner.corpus_state():
            if not check.get("left_out"):  # a whole record holds under every floor
                return Rechecked(list(check["matches"]), dict(check["documents"]), False)
            # Cut to a floor: it holds only under the same one (a lowered floor counts
            # matches the record left out).
            floor = await self._access.match_floor()
            if floor is not None and dict(floor.least) == check.get("floor"):
                return Rechecked(list(check["matches"]), dict(check["documents"]), False, floor)
        content, _ = await self._upstream.get_bytes(f"files/{entry.upstream_id}/content")
        if hashlib.sha256(content).hexdigest() != entry.sha256:
            raise GatewayError("The stored file differs from the one scanned; upload it again.")
        fresh = await self._scanner.recheck(content, entry.purpose)
        matches = [match_fact(o, False) for o in fresh.overlaps]
        if matches and floor is UNASKED:
            floor = await self._access.match_floor()
        recorded = corpus_check(fresh, matches, None if floor is UNASKED else floor)
        if recorded is not None:
            try:
                await self._registry.update_file(entry.id, _recorded(entry.sha256, recorded))
            except DependencyUnavailable as exc:  # the next use matches again: no harm
                log.warning("file_match_not_recorded", file_id=entry.id, error=exc.message)
        return Rechecked(matches, fresh.documents, matched=True, floor=floor)

    async def use(
        self, caller: Caller, endpoint: str, model: str, entry: FileEntry
    ) -> FinetuneDecision:
        """The policy's decision on ``entry`` as input to a model request (``USE``).

        A ``finetune`` audit record (the decision, its violations, the file) is written
        when the file was matched again or refused; the model request's own record
        lists the file either way."""
        rechecked = await self.current(entry)
        facts = {
            "endpoint": endpoint,
            "model": model,
            "file": {"purpose": entry.purpose, "status": entry.status},
            "recheck": {"matches": rechecked.matches},
        }
        decision = await self._access.decide(
            caller, USE, facts, rechecked.documents, floor=rechecked.floor
        )
        if rechecked.matched or not decision.allow:
            await self._audit.append(
                AUDIT_KIND,
                {
                    **caller.audit_fields(),
                    "action": USE,
                    "endpoint": endpoint,
                    "model": model,
                    "file_id": entry.id,
                    "file_sha256": entry.sha256,
                    "rematched": rechecked.matched,
                    **decision_fields(decision),
                },
            )
        return decision


def _recorded(sha256: str, check: dict[str, Any]) -> Callable[[FileEntry], FileEntry | None]:
    def change(current: FileEntry) -> FileEntry | None:
        if current.sha256 != sha256:
            return None
        return replace(current, corpus_check=check)

    return change
