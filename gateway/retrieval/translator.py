"""Translate OPA's UCAST data filter into an Elasticsearch bool filter, strictly.

Only allowlisted fields and operators are translated; anything else raises
PolicyUntranslatable, which denies the request. Nothing is ever dropped silently: a
condition we do not understand must never widen what a caller can see.

Semantics, field by field, match Rego's on the stored document (the re-check's input):
- keyword fields hold one string: eq -> term, ne -> exists AND NOT term, in -> terms,
  lt/lte/gt/gte -> range (byte-wise string order in both), startswith -> prefix.
  Under ``not``, a missing field makes Rego's negated built-in undefined, so every
  negated operator but ``eq`` also requires the field to exist (see ``_negation``).
- integer and boolean fields: the same operators with numbers / booleans (no prefix;
  booleans eq/ne/in only). A value of another type than the field's is refused.
- date fields hold canonical UTC timestamps (``2026-06-01T00:00:00.000Z``), which Rego
  compares as strings: that equals date order only against values of the same form, so
  values must be canonical timestamps or plain dates (``2026-06-01``, mapped exactly to
  what string order means: before / from midnight of that day).
- list fields (keyword_list): compared through ``lists.has`` / ``lists.has_any`` in the
  policy, ``F eq v`` / ``F in S`` mean "one of F's values is", as Elasticsearch's
  term/terms on an array do, and the re-check tests membership in the stored list.
  ``not`` over them means "none of F's values is" (must_not, true on an empty or
  missing list, which the re-check sees as ``[]``): deny-lists. Other operators on list
  fields are refused.
- A missing compiled query means deny all; ``{"query": {}}`` (unconditional allow) is the
  only way to get match_all.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from gateway.errors import PolicyUntranslatable
from gateway.governance_schema import BUILTIN_FIELDS, FieldType

DEFAULT_FIELDS: Mapping[str, FieldType] = BUILTIN_FIELDS

MATCH_ALL: dict[str, Any] = {"match_all": {}}
MATCH_NONE: dict[str, Any] = {"match_none": {}}
_RANGE_OPERATORS = {"lt", "lte", "gt", "gte"}
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_INT64 = 2**63


class FilterTranslator:
    """UCAST condition tree -> Elasticsearch query clause, over an allowlist of fields."""

    def __init__(
        self, fields: Mapping[str, FieldType] = DEFAULT_FIELDS, prefix: str = "document"
    ) -> None:
        self._fields = dict(fields)
        self._prefix = prefix + "."

    def translate(self, compile_response: Mapping[str, Any]) -> dict[str, Any]:
        """Translate a whole ``/v1/compile`` response body."""
        if not isinstance(compile_response, Mapping):
            raise PolicyUntranslatable("compile response is not an object")
        result = compile_response.get("result")
        if result is None:
            return MATCH_NONE  # no way to satisfy the policy: deny all
        if not isinstance(result, Mapping) or "query" not in result:
            return MATCH_NONE
        query = result["query"]
        if isinstance(query, Mapping) and len(query) == 0:
            return MATCH_ALL  # the explicit, unconditional allow
        return self.translate_node(query)

    def translate_node(self, node: Any) -> dict[str, Any]:
        if not isinstance(node, Mapping):
            raise PolicyUntranslatable(f"condition is not an object: {type(node).__name__}")
        kind = node.get("type")
        if kind == "compound":
            return self._compound(node)
        if kind == "field":
            return self._field(node)
        raise PolicyUntranslatable(f"unsupported condition type {kind!r}")

    def _compound(self, node: Mapping[str, Any]) -> dict[str, Any]:
        _only_keys(node, {"type", "operator", "value"})
        operator = node.get("operator")
        children = node.get("value")
        if not isinstance(children, list) or not children:
            raise PolicyUntranslatable(f"compound {operator!r} needs a non-empty list")
        if operator == "not":
            return self._negation(children)
        clauses = [self.translate_node(child) for child in children]
        if operator == "and":
            return {"bool": {"filter": clauses}}
        if operator == "or":
            return {"bool": {"should": clauses, "minimum_should_match": 1}}
        raise PolicyUntranslatable(f"unsupported compound operator {operator!r}")

    def _negation(self, children: list[Any]) -> dict[str, Any]:
        """``not F op v``: OPA only emits it for one negated expression.

        Rego evaluates the field reference of a built-in call (``in``, ``!=``, ``<``,
        ``startswith``...) before negating, so with F missing the whole ``not`` is
        undefined (false); only ``not F == v`` is true on a missing field. The translation
        keeps that: an ``exists`` guard for every operator but ``eq``. List fields are
        always present in the re-check's input (``[]`` when unset): no guard.
        """
        if len(children) != 1 or not isinstance(children[0], Mapping):
            raise PolicyUntranslatable("'not' must wrap exactly one condition")
        child = children[0]
        if child.get("type") != "field":
            raise PolicyUntranslatable("'not' over a compound condition is not supported")
        inner = self._field(child)
        name = str(child["field"])[len(self._prefix) :]
        if child.get("operator") == "eq" or self._fields[name] == "keyword_list":
            return {"bool": {"must_not": [inner]}}
        return {"bool": {"filter": [{"exists": {"field": name}}], "must_not": [inner]}}

    def _field(self, node: Mapping[str, Any]) -> dict[str, Any]:
        _only_keys(node, {"type", "operator", "field", "value"})
        path, operator, value = node.get("field"), node.get("operator"), node.get("value")
        if not isinstance(path, str) or not path.startswith(self._prefix):
            raise PolicyUntranslatable(f"condition on unknown field {path!r}")
        name = path[len(self._prefix) :]
        kind = self._fields.get(name)
        if kind is None:
            raise PolicyUntranslatable(
                f"field {name!r} is not filterable (not a built-in field, nor declared in "
                "the governance schema)"
            )
        if kind == "keyword_list":
            if operator not in {"eq", "in"}:
                raise PolicyUntranslatable(
                    f"list field {name!r} supports only lists.has / lists.has_any "
                    f"(== or in), alone or under not; got {operator!r}"
                )
            return _keyword_clause(name, operator, value)
        if kind == "keyword":
            return _keyword_clause(name, operator, value)
        if kind == "date":
            return _date_clause(name, operator, value)
        if kind == "integer":
            return _typed_clause(name, operator, _integer(name, operator, value))
        return _boolean_clause(name, operator, value)


def _keyword_clause(name: str, operator: Any, value: Any) -> dict[str, Any]:
    if operator == "in":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise PolicyUntranslatable(f"'in' on {name!r} needs a list of strings")
        return {"terms": {name: list(value)}} if value else MATCH_NONE
    if not isinstance(value, str):
        raise PolicyUntranslatable(f"{operator!r} on {name!r} needs a string value")
    if operator == "startswith":
        return {"prefix": {name: value}}
    return _typed_clause(name, operator, value)


def _typed_clause(name: str, operator: Any, value: Any) -> dict[str, Any]:
    """eq / ne / in / ranges over a value already checked against the field's type."""
    if operator == "in":
        return {"terms": {name: list(value)}} if value else MATCH_NONE
    if operator == "eq":
        return {"term": {name: value}}
    if operator == "ne":
        return {
            "bool": {"filter": [{"exists": {"field": name}}], "must_not": [{"term": {name: value}}]}
        }
    if operator in _RANGE_OPERATORS:
        return {"range": {name: {operator: value}}}
    raise PolicyUntranslatable(f"unsupported operator {operator!r} on {name!r}")


def _integer(name: str, operator: Any, value: Any) -> Any:
    def check(item: Any) -> int:
        if isinstance(item, bool) or not isinstance(item, int | float):
            raise PolicyUntranslatable(f"{operator!r} on integer field {name!r} needs numbers")
        if isinstance(item, float) and not item.is_integer():
            raise PolicyUntranslatable(
                f"{operator!r} on integer field {name!r} needs whole numbers"
            )
        if not -_INT64 <= item < _INT64:
            raise PolicyUntranslatable(f"{operator!r} on {name!r}: number out of range")
        return int(item)

    if operator == "in":
        if not isinstance(value, list):
            raise PolicyUntranslatable(f"'in' on {name!r} needs a list of numbers")
        return [check(item) for item in value]
    return check(value)


def _boolean_clause(name: str, operator: Any, value: Any) -> dict[str, Any]:
    if operator == "in" and not isinstance(value, list):
        raise PolicyUntranslatable(f"'in' on boolean field {name!r} needs a list")
    values = value if operator == "in" else [value]
    if not all(isinstance(v, bool) for v in values):
        raise PolicyUntranslatable(f"{operator!r} on boolean field {name!r} needs true/false")
    if operator not in {"eq", "ne", "in"}:
        raise PolicyUntranslatable(f"unsupported operator {operator!r} on boolean {name!r}")
    return _typed_clause(name, operator, value)


def _date_clause(name: str, operator: Any, value: Any) -> dict[str, Any]:
    """Dates as Rego sees them: canonical UTC strings in string order.

    Against a plain day ``D``, every stored timestamp of that day sorts after ``D`` (it is
    longer, with ``D`` as prefix): ``< D`` and ``<= D`` mean before midnight of D,
    ``> D`` and ``>= D`` from midnight on; ``== D`` never holds.
    """
    values = value if operator == "in" and isinstance(value, list) else [value]
    if operator == "in" and not isinstance(value, list):
        raise PolicyUntranslatable(f"'in' on date field {name!r} needs a list")
    for item in values:
        if not isinstance(item, str) or not (_TIMESTAMP.fullmatch(item) or _DAY.fullmatch(item)):
            raise PolicyUntranslatable(
                f"{operator!r} on date field {name!r} needs a canonical UTC timestamp "
                "(2026-06-01T00:00:00.000Z) or a day (2026-06-01)"
            )
    if operator == "in":
        return _typed_clause(name, "in", [v for v in values if _TIMESTAMP.fullmatch(v)])
    if _TIMESTAMP.fullmatch(value):
        return _typed_clause(name, operator, value)
    midnight = f"{value}T00:00:00.000Z"
    if operator in {"lt", "lte"}:
        return {"range": {name: {"lt": midnight}}}
    if operator in {"gt", "gte"}:
        return {"range": {name: {"gte": midnight}}}
    if operator == "eq":
        return MATCH_NONE
    if operator == "ne":
        return {"exists": {"field": name}}
    raise PolicyUntranslatable(f"unsupported operator {operator!r} on date field {name!r}")


def _only_keys(node: Mapping[str, Any], allowed: set[str]) -> None:
    extra = set(node) - allowed
    if extra:
        raise PolicyUntranslatable(f"unexpected keys in condition: {sorted(extra)}")
