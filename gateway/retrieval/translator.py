"""Translate OPA's UCAST data filter into an Elasticsearch bool filter, strictly.

Only allowlisted fields and operators are translated; anything else raises
PolicyUntranslatable, which denies the request. Nothing is ever dropped silently: a
condition we do not understand must never widen what a caller can see.

Semantics, field by field, match Rego's on the stored document:
- keyword fields hold one string: eq -> term, ne -> exists AND NOT term, in -> terms,
  lt/lte/gt/gte -> range (byte-wise string order in both), startswith -> prefix.
  Under ``not``, a missing field makes Rego's negated built-in undefined, so every
  negated operator but ``eq`` also requires the field to exist (see ``_negation``).
- multi-valued keyword fields (arrays): ``F eq v`` means "one of F's values is v", as
  Elasticsearch's term query does. That only equals the policy's per-document meaning
  (see ``allow_document`` in policies/retrieval.rego) when such conditions are positive
  (eq/in, not under ``not``) and each ``and`` uses a given multi-valued field in at most
  one branch; other uses are refused.
- A missing compiled query means deny all; ``{"query": {}}`` (unconditional allow) is the
  only way to get match_all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from gateway.errors import PolicyUntranslatable

FieldKind = Literal["keyword", "keyword_set"]

DEFAULT_FIELDS: Mapping[str, FieldKind] = {
    "tenant": "keyword",
    "classification": "keyword",
    "owner": "keyword",
    "corpus": "keyword",
    "doc_id": "keyword",
    "source_uri": "keyword",
    "allowed_groups": "keyword_set",
    "allowed_users": "keyword_set",
    "labels": "keyword_set",
}

MATCH_ALL: dict[str, Any] = {"match_all": {}}
MATCH_NONE: dict[str, Any] = {"match_none": {}}
_RANGE_OPERATORS = {"lt", "lte", "gt", "gte"}


@dataclass(frozen=True)
class _Translated:
    clause: dict[str, Any]
    set_fields: frozenset[str]


class FilterTranslator:
    """UCAST condition tree -> Elasticsearch query clause, over an allowlist of fields."""

    def __init__(
        self, fields: Mapping[str, FieldKind] = DEFAULT_FIELDS, prefix: str = "document"
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
        return self._node(node, negated=False).clause

    def _node(self, node: Any, *, negated: bool) -> _Translated:
        if not isinstance(node, Mapping):
            raise PolicyUntranslatable(f"condition is not an object: {type(node).__name__}")
        kind = node.get("type")
        if kind == "compound":
            return self._compound(node, negated=negated)
        if kind == "field":
            return self._field(node, negated=negated)
        raise PolicyUntranslatable(f"unsupported condition type {kind!r}")

    def _compound(self, node: Mapping[str, Any], *, negated: bool) -> _Translated:
        _only_keys(node, {"type", "operator", "value"})
        operator = node.get("operator")
        children = node.get("value")
        if not isinstance(children, list) or not children:
            raise PolicyUntranslatable(f"compound {operator!r} needs a non-empty list")
        if operator == "not":
            return self._negation(children)
        parts = [self._node(child, negated=negated) for child in children]
        used = frozenset().union(*(p.set_fields for p in parts))
        if operator == "and":
            if sum(len(p.set_fields) for p in parts) != len(used):
                raise PolicyUntranslatable(
                    "an 'and' uses the same multi-valued field in more than one condition"
                )
            return _Translated(_and([p.clause for p in parts]), used)
        if operator == "or":
            clauses = [p.clause for p in parts]
            return _Translated({"bool": {"should": clauses, "minimum_should_match": 1}}, used)
        raise PolicyUntranslatable(f"unsupported compound operator {operator!r}")

    def _negation(self, children: list[Any]) -> _Translated:
        """``not F op v``: OPA only emits it for one negated expression.

        Rego evaluates the field reference of a built-in call (``in``, ``!=``, ``<``,
        ``startswith``...) before negating, so with F missing the whole ``not`` is
        undefined (false); only ``not F == v`` is true on a missing field. The translation
        keeps that: an ``exists`` guard for every operator but ``eq``.
        """
        if len(children) != 1 or not isinstance(children[0], Mapping):
            raise PolicyUntranslatable("'not' must wrap exactly one condition")
        child = children[0]
        if child.get("type") != "field":
            raise PolicyUntranslatable("'not' over a compound condition is not supported")
        inner = self._field(child, negated=True).clause
        if child.get("operator") == "eq":
            return _Translated({"bool": {"must_not": [inner]}}, frozenset())
        name = str(child["field"])[len(self._prefix) :]
        guarded = {"bool": {"filter": [{"exists": {"field": name}}], "must_not": [inner]}}
        return _Translated(guarded, frozenset())

    def _field(self, node: Mapping[str, Any], *, negated: bool) -> _Translated:
        _only_keys(node, {"type", "operator", "field", "value"})
        path, operator, value = node.get("field"), node.get("operator"), node.get("value")
        if not isinstance(path, str) or not path.startswith(self._prefix):
            raise PolicyUntranslatable(f"condition on unknown field {path!r}")
        name = path[len(self._prefix) :]
        kind = self._fields.get(name)
        if kind is None:
            raise PolicyUntranslatable(f"field {name!r} is not filterable")
        if kind == "keyword_set":
            if negated or operator not in {"eq", "in"}:
                raise PolicyUntranslatable(
                    f"multi-valued field {name!r} may only be used positively (== or in)"
                )
            return _Translated(_keyword_clause(name, operator, value), frozenset({name}))
        return _Translated(_keyword_clause(name, operator, value), frozenset())


def _keyword_clause(name: str, operator: Any, value: Any) -> dict[str, Any]:
    if operator == "in":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise PolicyUntranslatable(f"'in' on {name!r} needs a list of strings")
        return {"terms": {name: list(value)}} if value else MATCH_NONE
    if not isinstance(value, str):
        raise PolicyUntranslatable(f"{operator!r} on {name!r} needs a string value")
    if operator == "eq":
        return {"term": {name: value}}
    if operator == "ne":
        return {
            "bool": {"filter": [{"exists": {"field": name}}], "must_not": [{"term": {name: value}}]}
        }
    if operator in _RANGE_OPERATORS:
        return {"range": {name: {operator: value}}}
    if operator == "startswith":
        return {"prefix": {name: value}}
    raise PolicyUntranslatable(f"unsupported operator {operator!r} on {name!r}")


def _and(clauses: list[dict[str, Any]]) -> dict[str, Any]:
    return {"bool": {"filter": clauses}}


def _only_keys(node: Mapping[str, Any], allowed: set[str]) -> None:
    extra = set(node) - allowed
    if extra:
        raise PolicyUntranslatable(f"unexpected keys in condition: {sorted(extra)}")
