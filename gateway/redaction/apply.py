"""Apply PII spans to text by slicing: no NLP on the request path for retrieved chunks.

Policy before overlap. Each span's operator is decided first (rules from the policy,
spans under the policy's score threshold dropped); spans the policy keeps are then
ignored, so a kept span can never hide a redacted one. Redacted spans that overlap or
touch form one region, replaced as a whole: no fragment of any value in it survives.
The region takes the strictest operator of its spans (mask > replace > hash), and its
type from the strongest span: structured, pattern-and-checksum types (card, IBAN, SSN,
e-mail, IP...) outrank NER guesses (PERSON, LOCATION...), then the higher score, then
the wider span. Sorting once and sweeping makes it O(n log n).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gateway.audit.records import Redaction
from gateway.pii.types import NER_TYPES
from gateway.redaction.placeholders import Placeholders
from gateway.redaction.rules import Operator, RedactionRules

# How much of a value reaches the model: a mask nothing, a placeholder its type, a keyed
# hash its type and its equality with the same value in other requests.
STRICTNESS: Mapping[Operator, int] = {"keep": 0, "hash": 1, "replace": 2, "mask": 3}


@dataclass(frozen=True)
class Redacted:
    text: str
    applied: Counter[tuple[str, str]]  # (entity_type, operator) -> count

    def summary(self) -> list[Redaction]:
        """For the audit record: types, operators and counts; never the values."""
        return [
            {"entity_type": entity, "operator": operator, "count": count}
            for (entity, operator), count in sorted(self.applied.items())
        ]


@dataclass(frozen=True, slots=True)
class Region:
    """Characters ``start:end`` replaced as one value of ``entity`` by ``operator``."""

    start: int
    end: int
    entity: str
    operator: Operator


def redact(
    text: str,
    spans: Iterable[Mapping[str, Any]],
    rules: RedactionRules,
    placeholders: Placeholders,
) -> Redacted:
    """Replace what the rules redact; the rest of the text is untouched."""
    applied: Counter[tuple[str, str]] = Counter()
    pieces: list[str] = []
    cursor = 0
    for region in regions(spans, rules, len(text), text):
        value = text[region.start : region.end]
        pieces.append(text[cursor : region.start])
        if region.operator == "replace":
            pieces.append(placeholders.replace(region.entity, value))
        elif region.operator == "hash":
            pieces.append(placeholders.hashed(region.entity, value))
        else:
            pieces.append("*" * len(value))
        applied[(region.entity, region.operator)] += 1
        cursor = region.end
    pieces.append(text[cursor:])
    return Redacted("".join(pieces), applied)


def regions(
    spans: Iterable[Mapping[str, Any]],
    rules: RedactionRules,
    length: int,
    text: str | None = None,
) -> list[Region]:
    """The disjoint regions to redact, in order (see the module docstring).

    With ``text``, NER guesses whose whole text is on the policy's ``allow_terms`` are
    not acted on ("Kubernetes" as a PERSON)."""
    allow = rules.allow_terms if text is not None else frozenset()
    # Per type once: its operator, its threshold, and whether it is a validated pattern.
    by_type: dict[str, tuple[Operator, int, float, bool]] = {}
    decided: list[tuple[int, int, tuple[int, bool, float, int], str, Operator]] = []
    for span in spans:
        start, end = int(span["start"]), int(span["end"])
        if not 0 <= start < end <= length:
            continue  # stale offsets: never slice the wrong characters
        entity = str(span["type"])
        known = by_type.get(entity)
        if known is None:
            operator = rules.operator_for(entity)
            known = (
                operator,
                STRICTNESS[operator],
                rules.min_score(entity),
                entity not in NER_TYPES,
            )
            by_type[entity] = known
        operator, strictness, threshold, structured = known
        score = float(span.get("score", 1.0))
        if strictness == 0 or score < threshold:
            continue
        if allow and not structured and text is not None and text[start:end].lower() in allow:
            continue
        decided.append((start, end, (strictness, structured, score, end - start), entity, operator))
    decided.sort(key=lambda d: d[0])
    found: list[Region] = []
    if not decided:
        return found
    start, end, best, entity, operator = decided[0]
    for d_start, d_end, strength, d_entity, d_operator in decided[1:]:
        if d_start <= end:
            if d_end > end:
                end = d_end
            if strength > best:
                best, entity, operator = strength, d_entity, d_operator
            continue
        found.append(Region(start, end, entity, operator))
        start, end, best, entity, operator = d_start, d_end, strength, d_entity, d_operator
    found.append(Region(start, end, entity, operator))
    return found
