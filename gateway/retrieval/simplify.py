"""Semantics-preserving rewrites of the translated filter, so Elasticsearch does less work.

The translator mirrors OPA's condition tree one to one; OPA repeats shared conditions in
every branch (``tenant == x`` in each ``allow`` rule). Here:
- nested conjunctions are spliced into their parent (``and(and(a, b), c) = and(a, b, c)``),
  negations included (``and(a, not b) = filter: a, must_not: b``);
- an ``exists F`` guard is dropped when a positive condition on F sits beside it;
- conditions shared by every branch of an ``or`` are hoisted out of it
  (``(a and b) or (a and c) = a and (b or c)``); a branch left empty makes the ``or`` true;
- branches that differ only in the value of one term are merged
  (``(x and f == a) or (x and f == b) = x and f in [a, b]``; for a multi-valued f both
  sides mean "one of f's values is a or b").
The equivalence property tests run on the simplified filter, so any rewrite that changed
the meaning would show up there as a leak or an over-denial.
"""

from __future__ import annotations

import json
from typing import Any

from gateway.hashing import canonical_json

Clause = dict[str, Any]
_POSITIVE = ("term", "terms", "range", "prefix")


def simplify(clause: Clause) -> Clause:
    inner = clause.get("bool")
    if inner is None:
        return clause
    filters, must_not = _splice(
        [simplify(c) for c in inner.get("filter", [])],
        [simplify(c) for c in inner.get("must_not", [])],
    )
    should = [simplify(c) for c in inner.get("should", [])]
    if should:
        should = _merge_terms(should)
        hoisted, should = _hoist_common(should)
        filters, must_not = _splice([*filters, *hoisted], must_not)
    filters = _drop_implied_exists(_unique(filters))
    out: dict[str, Any] = {}
    if filters:
        out["filter"] = filters
    if must_not:
        out["must_not"] = _unique(must_not)
    if should:
        out["should"] = should
        out["minimum_should_match"] = 1
    if list(out) == ["filter"] and len(filters) == 1:
        return filters[0]
    return {"bool": out} if out else {"match_all": {}}


def _splice(filters: list[Clause], must_not: list[Clause]) -> tuple[list[Clause], list[Clause]]:
    flat_filters: list[Clause] = []
    flat_must_not = list(must_not)
    for clause in filters:
        inner = clause.get("bool")
        if inner is not None and set(inner) <= {"filter", "must_not"}:
            flat_filters.extend(inner.get("filter", []))
            flat_must_not.extend(inner.get("must_not", []))
        elif clause != {"match_all": {}}:
            flat_filters.append(clause)
    return flat_filters, flat_must_not


def _conjunction(clause: Clause) -> tuple[list[Clause], list[Clause]] | None:
    inner = clause.get("bool")
    if inner is None:
        return [clause], []
    if set(inner) <= {"filter", "must_not"}:
        return list(inner.get("filter", [])), list(inner.get("must_not", []))
    return None


def _hoist_common(should: list[Clause]) -> tuple[list[Clause], list[Clause]]:
    """Conditions in the filter list of every branch move out of the ``or``."""
    conjunctions = [_conjunction(branch) for branch in should]
    if len(should) < 2 or any(c is None for c in conjunctions):
        return [], should
    parts = [c for c in conjunctions if c is not None]
    common_keys = set.intersection(*({_key(f) for f in filters} for filters, _ in parts))
    if not common_keys:
        return [], should
    hoisted = [f for f in parts[0][0] if _key(f) in common_keys]
    branches = []
    for filters, must_not in parts:
        rest = [f for f in filters if _key(f) not in common_keys]
        if not rest and not must_not:
            return _unique(hoisted), []  # one branch is now always true: the or is true
        branches.append(_rebuild(rest, must_not))
    return _unique(hoisted), _unique(branches)


def _merge_terms(should: list[Clause]) -> list[Clause]:
    """Merge ``or`` branches equal but for one term/terms value on the same field."""
    groups: dict[tuple[str, str, str], list[tuple[int, list[Any]]]] = {}
    for position, branch in enumerate(should):
        conjunction = _conjunction(branch)
        if conjunction is None:
            continue
        filters, must_not = conjunction
        for clause in filters:
            kind = "term" if "term" in clause else "terms" if "terms" in clause else None
            if kind is None:
                continue
            field, value = next(iter(clause[kind].items()))
            values = list(value) if kind == "terms" else [value]
            rest = [f for f in filters if f is not clause]
            key = (field, _key({"f": rest}), _key({"m": must_not}))
            groups.setdefault(key, []).append((position, values))
    merged: list[Clause] = []
    used: set[int] = set()
    for (field, rest_key, must_not_key), members in sorted(
        groups.items(), key=lambda item: -len(item[1])
    ):
        members = [(p, v) for p, v in members if p not in used]
        if len(members) < 2:
            continue
        used.update(p for p, _ in members)
        values = sorted({value for _, vs in members for value in vs})
        rest = json.loads(rest_key)["f"]
        must_not = json.loads(must_not_key)["m"]
        merged.append(_rebuild([*rest, {"terms": {field: values}}], must_not))
    return [b for p, b in enumerate(should) if p not in used] + merged


def _rebuild(filters: list[Clause], must_not: list[Clause]) -> Clause:
    if len(filters) == 1 and not must_not:
        return filters[0]
    out: dict[str, Any] = {}
    if filters:
        out["filter"] = filters
    if must_not:
        out["must_not"] = must_not
    return {"bool": out}


def _drop_implied_exists(filters: list[Clause]) -> list[Clause]:
    positive_fields = {
        next(iter(clause[kind])) for clause in filters for kind in _POSITIVE if kind in clause
    }
    return [
        clause
        for clause in filters
        if not ("exists" in clause and clause["exists"]["field"] in positive_fields)
    ]


def _unique(clauses: list[Clause]) -> list[Clause]:
    seen: set[str] = set()
    out = []
    for clause in clauses:
        key = _key(clause)
        if key not in seen:
            seen.add(key)
            out.append(clause)
    return out


def _key(clause: Clause) -> str:
    return canonical_json(clause)
