"""The corpus matches worth sending to the policy: those at or over its ``match_floor``.

A large benign file overlaps governed chunks in tens of thousands of weak matches (a
shared common phrase each); sent whole, a 20 MB file's policy input was ~5 MB of JSON
and OPA took longer than the decision's timeout, so the file could never pass. The
policy states the weakest match any of its rules can count (``gateway.finetune.
match_floor``: a minimum per measure); a match under every one is left out and counted
(``matches_left_out``). Without a floor, every match is sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from gateway.errors import DependencyUnavailable

MEASURES = ("score", "shared", "shared_chars")
MATCH_KEYS = ("scan", "recheck", "job_request")
"""The facts that carry corpus matches (``gateway.finetune.scan.match_fact``)."""


class Unasked(Enum):
    """The floor was not asked for yet (there was nothing to cut)."""

    UNASKED = "unasked"


UNASKED = Unasked.UNASKED


@dataclass(frozen=True, slots=True)
class MatchFloor:
    least: Mapping[str, float]
    """Per measure, the least value a rule can count (absent: no rule reads it)."""

    @classmethod
    def parse(cls, result: Any) -> MatchFloor | None:
        """The policy's ``match_floor``; None when it states none (everything is sent).
        A floor the gateway cannot read fails closed: it would otherwise guess."""
        if result is None:
            return None
        if not isinstance(result, dict) or not all(
            key in MEASURES and isinstance(value, int | float) and not isinstance(value, bool)
            for key, value in result.items()
        ):
            raise DependencyUnavailable("opa", "gateway.finetune.match_floor has the wrong shape")
        return cls(result) if result else None

    def reached(self, match: Mapping[str, Any]) -> bool:
        return any(match.get(measure, 0) >= least for measure, least in self.least.items())


def cut_to_floor(
    matches: list[dict[str, Any]], floor: MatchFloor | None
) -> tuple[list[dict[str, Any]], int]:
    """The matches at or over ``floor`` and how many were left out."""
    if floor is None:
        return matches, 0
    kept = [m for m in matches if floor.reached(m)]
    return kept, len(matches) - len(kept)


def carries_matches(facts: Mapping[str, Any]) -> bool:
    """Whether any match list in ``facts`` is non-empty (only then is a floor worth asking
    for: an empty list is the same under every floor)."""
    return any(facts[key].get("matches") for key in MATCH_KEYS if key in facts)


def over_floor(facts: dict[str, Any], floor: MatchFloor | None) -> dict[str, Any]:
    """``facts`` with each match list cut to the matches at or over ``floor``, and the
    number left out beside it."""
    if floor is None:
        return facts
    cut = dict(facts)
    for key in MATCH_KEYS:
        if key not in facts or "matches" not in facts[key]:
            continue
        kept, left_out = cut_to_floor(facts[key]["matches"], floor)
        cut[key] = {**facts[key], "matches": kept, "matches_left_out": left_out}
    return cut
