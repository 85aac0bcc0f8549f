"""Redaction rules as decided by ``gateway.redaction`` for one (caller, source) pair."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast

Operator = Literal["replace", "mask", "hash", "keep"]
OPERATORS: frozenset[str] = frozenset({"replace", "mask", "hash", "keep"})


class InvalidRules(ValueError):
    """The policy returned something that is not a redaction decision."""


@dataclass(frozen=True)
class RedactionRules:
    default: Operator = "replace"
    entities: Mapping[str, Operator] = field(default_factory=dict)
    restore: bool = False
    thresholds: Mapping[str, float] = field(default_factory=dict)
    """Per type, the lowest analyzer score acted on; types not listed: every span."""
    allow_binary: bool = False
    """Data the analyzer cannot read (an image, a PDF, audio) may pass unanalysed."""

    def operator_for(self, entity_type: str) -> Operator:
        return self.entities.get(entity_type, self.default)

    def min_score(self, entity_type: str) -> float:
        return self.thresholds.get(entity_type, 0.0)

    @classmethod
    def from_decision(cls, decision: Any) -> RedactionRules:
        """Validate OPA's decision; unknown operators are an error, never 'keep'."""
        if not isinstance(decision, Mapping):
            raise InvalidRules("redaction decision is not an object")
        default = decision.get("default")
        entities = decision.get("entities", {})
        restore = decision.get("restore", False)
        thresholds = decision.get("thresholds", {})
        allow_binary = decision.get("allow_binary", False)
        if default not in OPERATORS or not isinstance(entities, Mapping):
            raise InvalidRules("redaction decision needs a valid default and entities map")
        if not all(op in OPERATORS for op in entities.values()) or not isinstance(restore, bool):
            raise InvalidRules("redaction decision holds an unknown operator")
        if not isinstance(allow_binary, bool):
            raise InvalidRules("allow_binary must be a boolean")
        if not isinstance(thresholds, Mapping) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 1
            for v in thresholds.values()
        ):
            raise InvalidRules("redaction thresholds must map types to scores in [0, 1]")
        return cls(
            default=cast(Operator, default),
            entities={str(k): cast(Operator, v) for k, v in entities.items()},
            restore=restore,
            thresholds={str(k): float(v) for k, v in thresholds.items()},
            allow_binary=allow_binary,
        )
