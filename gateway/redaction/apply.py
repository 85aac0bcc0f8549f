"""Apply PII spans to text by slicing: no NLP on the request path for retrieved chunks."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gateway.redaction.placeholders import Placeholders
from gateway.redaction.rules import RedactionRules


@dataclass(frozen=True)
class Redacted:
    text: str
    applied: Counter[tuple[str, str]]  # (entity_type, operator) -> count

    def summary(self) -> list[dict[str, Any]]:
        """For the audit record: types, operators and counts; never the values."""
        return [
            {"entity_type": entity, "operator": operator, "count": count}
            for (entity, operator), count in sorted(self.applied.items())
        ]


def redact(
    text: str,
    spans: Iterable[Mapping[str, Any]],
    rules: RedactionRules,
    placeholders: Placeholders,
) -> Redacted:
    """Replace each span as the rules say; overlapping spans keep the wider, then likelier."""
    applied: Counter[tuple[str, str]] = Counter()
    pieces: list[str] = []
    cursor = 0
    for span in _non_overlapping(spans, len(text)):
        entity, start, end = str(span["type"]), int(span["start"]), int(span["end"])
        operator = rules.operator_for(entity)
        if operator == "keep":
            continue
        value = text[start:end]
        pieces.append(text[cursor:start])
        if operator == "replace":
            pieces.append(placeholders.replace(entity, value))
        elif operator == "hash":
            pieces.append(placeholders.hashed(entity, value))
        else:
            pieces.append("*" * len(value))
        applied[(entity, operator)] += 1
        cursor = end
    pieces.append(text[cursor:])
    return Redacted("".join(pieces), applied)


def _non_overlapping(spans: Iterable[Mapping[str, Any]], length: int) -> list[Mapping[str, Any]]:
    valid = [s for s in spans if 0 <= int(s["start"]) < int(s["end"]) <= length]
    ranked = sorted(
        valid, key=lambda s: (-(int(s["end"]) - int(s["start"])), -float(s.get("score", 0)))
    )
    chosen: list[Mapping[str, Any]] = []
    for span in ranked:
        if all(
            int(span["end"]) <= int(c["start"]) or int(span["start"]) >= int(c["end"])
            for c in chosen
        ):
            chosen.append(span)
    return sorted(chosen, key=lambda s: int(s["start"]))
