from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.errors import PolicyUntranslatable
from gateway.retrieval.translator import MATCH_ALL, MATCH_NONE, FilterTranslator

T = FilterTranslator()


def field(name: str, operator: str, value: Any) -> dict[str, Any]:
    return {"type": "field", "field": f"document.{name}", "operator": operator, "value": value}


def compound(operator: str, *children: dict[str, Any]) -> dict[str, Any]:
    return {"type": "compound", "operator": operator, "value": list(children)}


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        (field("tenant", "eq", "acme"), {"term": {"tenant": "acme"}}),
        (
            field("tenant", "ne", "acme"),
            {
                "bool": {
                    "filter": [{"exists": {"field": "tenant"}}],
                    "must_not": [{"term": {"tenant": "acme"}}],
                }
            },
        ),
        (
            field("classification", "in", ["public", "internal"]),
            {"terms": {"classification": ["public", "internal"]}},
        ),
        (field("classification", "in", []), MATCH_NONE),
        (field("owner", "lt", "m"), {"range": {"owner": {"lt": "m"}}}),
        (field("owner", "lte", "m"), {"range": {"owner": {"lte": "m"}}}),
        (field("owner", "gt", "m"), {"range": {"owner": {"gt": "m"}}}),
        (field("owner", "gte", "m"), {"range": {"owner": {"gte": "m"}}}),
        (field("doc_id", "startswith", "hr-"), {"prefix": {"doc_id": "hr-"}}),
        (field("allowed_groups", "eq", "sales"), {"term": {"allowed_groups": "sales"}}),
        (field("labels", "in", ["eu"]), {"terms": {"labels": ["eu"]}}),
    ],
)
def test_each_supported_operator(node: dict[str, Any], expected: dict[str, Any]) -> None:
    """Every allowlisted operator becomes its exact Elasticsearch clause."""
    assert T.translate_node(node) == expected


def test_and_or_nest() -> None:
    """and -> bool.filter, or -> bool.should with minimum_should_match 1."""
    node = compound(
        "or",
        compound("and", field("tenant", "eq", "a"), field("owner", "eq", "b")),
        field("classification", "eq", "public"),
    )
    assert T.translate_node(node) == {
        "bool": {
            "should": [
                {"bool": {"filter": [{"term": {"tenant": "a"}}, {"term": {"owner": "b"}}]}},
                {"term": {"classification": "public"}},
            ],
            "minimum_should_match": 1,
        }
    }


def test_negated_eq_is_true_on_missing_field() -> None:
    """not F == v: must_not term, which also holds when F is missing (as in Rego)."""
    node = compound("not", field("tenant", "eq", "globex"))
    assert T.translate_node(node) == {"bool": {"must_not": [{"term": {"tenant": "globex"}}]}}


@pytest.mark.parametrize("operator", ["in", "startswith", "lt", "ne"])
def test_negated_builtins_require_the_field(operator: str) -> None:
    """not F op v (op a Rego built-in) is undefined on a missing F: an exists guard."""
    value = ["x"] if operator == "in" else "x"
    clause = T.translate_node(compound("not", field("owner", operator, value)))
    assert clause["bool"]["filter"] == [{"exists": {"field": "owner"}}]
    assert len(clause["bool"]["must_not"]) == 1


def test_explicit_allow_all_and_deny_all() -> None:
    """Only an empty query means allow all; no result means deny all."""
    assert T.translate({"result": {"query": {}}}) == MATCH_ALL
    assert T.translate({}) == MATCH_NONE
    assert T.translate({"result": {}}) == MATCH_NONE
    assert T.translate({"result": {"query": field("tenant", "eq", "a")}}) == {
        "term": {"tenant": "a"}
    }


@pytest.mark.parametrize(
    ("node", "problem"),
    [
        (field("text", "eq", "x"), "not filterable"),
        (field("tenant", "regex", "a.*"), "unsupported operator"),
        (field("tenant", "eq", 3), "needs a string"),
        (field("tenant", "eq", None), "needs a string"),
        (field("tenant", "in", "acme"), "list of strings"),
        (field("tenant", "in", [1]), "list of strings"),
        ({"type": "field", "field": "subject.id", "operator": "eq", "value": "x"}, "unknown field"),
        (
            {
                "type": "field",
                "field": "document.tenant",
                "operator": "eq",
                "value": "a",
                "extra": 1,
            },
            "unexpected keys",
        ),
        ({"type": "exists", "field": "document.tenant"}, "unsupported condition type"),
        (compound("xor", field("tenant", "eq", "a")), "unsupported compound"),
        (compound("and"), "non-empty list"),
        (compound("not", field("tenant", "eq", "a"), field("owner", "eq", "b")), "exactly one"),
        (compound("not", compound("and", field("tenant", "eq", "a"))), "compound"),
        (field("labels", "ne", "eu"), "list field"),
        (field("labels", "startswith", "e"), "list field"),
        (compound("not", field("labels", "lt", "e")), "list field"),
        (field("created_at", "lt", "yesterday"), "canonical UTC timestamp"),
        (field("created_at", "lt", "2026-06-01T00:00:00Z"), "canonical UTC timestamp"),
        (field("created_at", "startswith", "2026-06-01"), "unsupported operator"),
        (field("created_at", "in", "2026-06-01"), "needs a list"),
        ("not a node", "not an object"),
    ],
)
def test_unsupported_constructs_are_refused(node: Any, problem: str) -> None:
    """Anything outside the allowlist raises, so the request is denied, never widened."""
    with pytest.raises(PolicyUntranslatable, match=problem):
        T.translate_node(node)


def test_refusal_deep_inside_or_refuses_everything() -> None:
    """One unknown condition anywhere refuses the whole filter (no silent dropping)."""
    node = compound("or", field("tenant", "eq", "a"), field("text", "eq", "x"))
    with pytest.raises(PolicyUntranslatable):
        T.translate({"result": {"query": node}})


def test_negated_list_field_is_a_deny_list() -> None:
    """not lists.has(F, v): must_not term on the array (no value equals), no exists guard."""
    node = compound("not", field("allowed_users", "eq", "mallory"))
    assert T.translate_node(node) == {
        "bool": {"must_not": [{"term": {"allowed_users": "mallory"}}]}
    }
    node = compound("not", field("labels", "in", ["hr", "legal"]))
    assert T.translate_node(node) == {
        "bool": {"must_not": [{"terms": {"labels": ["hr", "legal"]}}]}
    }


def test_same_list_field_twice_in_a_conjunction() -> None:
    """Two conditions on one list field each mean "some value", as in Elasticsearch."""
    node = compound("and", field("labels", "eq", "eu"), field("labels", "eq", "hr"))
    assert T.translate_node(node) == {
        "bool": {"filter": [{"term": {"labels": "eu"}}, {"term": {"labels": "hr"}}]}
    }


@pytest.mark.parametrize(
    ("operator", "value", "expected"),
    [
        ("lt", "2026-06-01", {"range": {"created_at": {"lt": "2026-06-01T00:00:00.000Z"}}}),
        ("lte", "2026-06-01", {"range": {"created_at": {"lt": "2026-06-01T00:00:00.000Z"}}}),
        ("gt", "2026-06-01", {"range": {"created_at": {"gte": "2026-06-01T00:00:00.000Z"}}}),
        ("gte", "2026-06-01", {"range": {"created_at": {"gte": "2026-06-01T00:00:00.000Z"}}}),
        ("eq", "2026-06-01", MATCH_NONE),
        ("ne", "2026-06-01", {"exists": {"field": "created_at"}}),
        (
            "gt",
            "2026-06-01T12:00:00.000Z",
            {"range": {"created_at": {"gt": "2026-06-01T12:00:00.000Z"}}},
        ),
        (
            "in",
            ["2026-06-01", "2026-06-02T00:00:00.000Z"],
            {"terms": {"created_at": ["2026-06-02T00:00:00.000Z"]}},
        ),
    ],
)
def test_dates_follow_rego_string_order(operator: str, value: Any, expected: Any) -> None:
    """A day compares like Rego's string order against canonical timestamps."""
    assert T.translate_node(field("created_at", operator, value)) == expected


def test_integer_and_boolean_fields() -> None:
    """Schema fields of type integer and boolean get typed term/range clauses."""
    typed = FilterTranslator({"retention_years": "integer", "legal_hold": "boolean"})
    assert typed.translate_node(field("retention_years", "gte", 3)) == {
        "range": {"retention_years": {"gte": 3}}
    }
    assert typed.translate_node(field("retention_years", "in", [1, 2.0])) == {
        "terms": {"retention_years": [1, 2]}
    }
    assert typed.translate_node(field("legal_hold", "eq", True)) == {"term": {"legal_hold": True}}
    for node, problem in [
        (field("retention_years", "eq", "3"), "needs numbers"),
        (field("retention_years", "eq", True), "needs numbers"),
        (field("retention_years", "lt", 2.5), "whole numbers"),
        (field("retention_years", "startswith", 2), "unsupported operator"),
        (field("legal_hold", "eq", "true"), "true/false"),
        (field("legal_hold", "lt", True), "unsupported operator"),
        (field("department", "eq", "x"), "governance schema"),
    ]:
        with pytest.raises(PolicyUntranslatable, match=problem):
            typed.translate_node(node)


def test_same_multi_valued_field_in_or_is_fine() -> None:
    """Alternatives over one multi-valued field keep the any-value meaning."""
    node = compound("or", field("allowed_groups", "eq", "a"), field("allowed_groups", "eq", "b"))
    assert T.translate_node(node)["bool"]["should"][1] == {"term": {"allowed_groups": "b"}}


_leaf = st.builds(
    field,
    st.sampled_from(["tenant", "owner", "doc_id"]),
    st.sampled_from(["eq", "ne", "lt", "startswith"]),
    st.text(max_size=5),
)
_trees = st.recursive(
    _leaf,
    lambda children: st.builds(
        lambda op, kids: compound(op, *kids),
        st.sampled_from(["and", "or"]),
        st.lists(children, min_size=1, max_size=3),
    ),
    max_leaves=12,
)


@given(_trees)
def test_every_condition_survives_translation(tree: dict[str, Any]) -> None:
    """No condition is dropped: the output holds one clause per input leaf."""

    def leaves(node: dict[str, Any]) -> int:
        if node["type"] == "field":
            return 1
        return sum(leaves(child) for child in node["value"])

    def clauses(clause: dict[str, Any]) -> int:
        if "bool" in clause:
            inner = clause["bool"]
            if "should" in inner:
                return sum(clauses(c) for c in inner["should"])
            if "must_not" in inner:  # the ne translation: exists + must_not term
                return 1
            return sum(clauses(c) for c in inner["filter"])
        return 1

    assert clauses(T.translate_node(tree)) == leaves(tree)


_instants = st.datetimes(
    min_value=datetime(2025, 12, 30),
    max_value=datetime(2026, 1, 3),
).map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000, tzinfo=UTC))
_days = st.dates(min_value=date(2025, 12, 30), max_value=date(2026, 1, 3))


def _canonical(instant: datetime) -> str:
    return instant.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _es_matches(clause: dict[str, Any], stored: datetime) -> bool:
    """How Elasticsearch evaluates the translator's date clauses on one stored date."""
    if "bool" in clause:
        inner = clause["bool"]
        return all(_es_matches(c, stored) for c in inner.get("filter", [])) and not any(
            _es_matches(c, stored) for c in inner.get("must_not", [])
        )
    if "match_none" in clause:
        return False
    if "exists" in clause:
        return True
    if "term" in clause:
        return stored == datetime.fromisoformat(clause["term"]["created_at"])
    (operator, bound), *_ = clause["range"]["created_at"].items()
    limit = datetime.fromisoformat(bound)
    return {
        "lt": stored < limit,
        "lte": stored <= limit,
        "gt": stored > limit,
        "gte": stored >= limit,
    }[operator]


@given(
    stored=_instants,
    value=st.one_of(_instants.map(_canonical), _days.map(date.isoformat)),
    operator=st.sampled_from(["lt", "lte", "gt", "gte", "eq", "ne"]),
)
def test_date_clauses_equal_rego_string_order(stored: datetime, value: str, operator: str) -> None:
    """For every stored instant and day/timestamp value: Elasticsearch == Rego's order."""
    text = _canonical(stored)
    rego = {
        "lt": text < value,
        "lte": text <= value,
        "gt": text > value,
        "gte": text >= value,
        "eq": text == value,
        "ne": text != value,
    }[operator]
    clause = T.translate_node(field("created_at", operator, value))
    assert _es_matches(clause, stored) == rego
