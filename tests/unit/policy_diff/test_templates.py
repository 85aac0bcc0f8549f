"""The checks that decide when one compiled filter serves many principals (no services)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from gateway.identity import Principal
from gateway.policy_diff.templates import (
    declared_unknowns,
    id_only_compared_with_documents,
    shape_key,
    substitute,
)


def var(name: str) -> dict[str, Any]:
    return {"type": "var", "value": name}


def string(value: str) -> dict[str, Any]:
    return {"type": "string", "value": value}


def ref(root: str, *path: str) -> dict[str, Any]:
    return {"type": "ref", "value": [var(root), *(string(p) for p in path)]}


def call(operator: str, *args: dict[str, Any], **extra: Any) -> dict[str, Any]:
    head, *rest = operator.split(".")
    op = {"type": "ref", "value": [var(head), *(string(p) for p in rest)]}
    return {"index": 0, "terms": [op, *args], **extra}


SUBJECT_ID = ref("input", "subject", "id")
OWNER = ref("input", "document", "owner")
USERS = ref("input", "document", "allowed_users")
TENANT = call("eq", string("acme"), ref("input", "document", "tenant"))


def residual(*expressions: dict[str, Any]) -> dict[str, Any]:
    """A partial evaluation's result: one query, and the same body in a support rule."""
    rule = {"head": {"name": "allow", "value": {"type": "boolean", "value": True}}}
    return {"queries": [list(expressions)], "support": [{"rules": [{**rule, "body": []}]}]}


def test_comparisons_with_document_fields_keep_the_id_a_parameter() -> None:
    """eq/neq/ranges against a document field, either side, and id-in-list are accepted."""
    for expression in (
        call("eq", OWNER, SUBJECT_ID),
        call("eq", SUBJECT_ID, USERS),
        call("neq", OWNER, SUBJECT_ID, negated=True),
        call("lt", SUBJECT_ID, OWNER),
        call("internal.member_2", SUBJECT_ID, USERS),
    ):
        assert id_only_compared_with_documents(residual(TENANT, expression)), expression
    assert id_only_compared_with_documents(residual(TENANT))


def test_any_other_use_of_the_subject_is_refused() -> None:
    """startswith, constants, lookups, whole-subject reads, heads and with are refused."""
    lookup = {
        "type": "ref",
        "value": [var("data"), string("admins"), SUBJECT_ID],
    }
    refused = [
        call("startswith", SUBJECT_ID, string("admin")),
        call("eq", SUBJECT_ID, string("alice")),
        call("eq", SUBJECT_ID, SUBJECT_ID),
        call("internal.member_2", OWNER, SUBJECT_ID),
        call("eq", OWNER, lookup),
        call("eq", OWNER, {"type": "ref", "value": [var("input"), string("subject")]}),
        call("walk", ref("input"), var("x")),
        {"index": 0, "terms": SUBJECT_ID},
        call("eq", OWNER, string("x"), **{"with": [{"target": SUBJECT_ID, "value": OWNER}]}),
        call("eq", ref("input", "document", "owner", "x"), var("input")),
    ]
    for expression in refused:
        assert not id_only_compared_with_documents(residual(TENANT, expression)), expression
    head = {"head": {"name": "allow", "value": SUBJECT_ID}, "body": [TENANT]}
    assert not id_only_compared_with_documents({"support": [{"rules": [head]}]})


def test_a_comparison_inside_a_document_reference_is_still_checked() -> None:
    """input.document[input.subject.id] is a lookup by id, not a comparison."""
    keyed = {"type": "ref", "value": [var("input"), string("document"), SUBJECT_ID]}
    assert not id_only_compared_with_documents(residual(call("eq", keyed, SUBJECT_ID)))


def annotated(package: str, *annotations: dict[str, Any]) -> dict[str, Any]:
    path = [var("data"), *(string(p) for p in package.split("."))]
    return {"id": package, "ast": {"package": {"path": path}, "annotations": list(annotations)}}


def unknowns(*refs: tuple[str, ...], scope: str = "package") -> dict[str, Any]:
    listed = [[var(r[0]), *(string(p) for p in r[1:])] for r in refs]
    return {"scope": scope, "compile": {"unknowns": listed}}


DOCUMENT = ("input", "document")


def test_declared_unknowns_come_from_the_package_and_its_ancestors() -> None:
    """The package's own annotation counts, a sibling's does not, subpackages scope does."""
    modules = [
        annotated("gateway.retrieval", unknowns(DOCUMENT)),
        annotated("gateway.other", unknowns(("input", "row"))),
        annotated("gateway", unknowns(DOCUMENT, scope="subpackages")),
        annotated("gateway.retrieval.lists", {"scope": "package", "title": "no compile"}),
    ]
    assert declared_unknowns(modules, "gateway.retrieval") == ["input.document"]
    assert declared_unknowns(modules[1:2], "gateway.retrieval") is None


def test_disagreeing_or_unreadable_declarations_mean_none() -> None:
    """Two different sets, an empty list or a non-path reference: OPA's own lookup is kept."""
    other = annotated("gateway.retrieval", unknowns(("input", "row"), scope="rule"))
    base = annotated("gateway.retrieval", unknowns(DOCUMENT))
    assert declared_unknowns([base, other], "gateway.retrieval") is None
    assert (
        declared_unknowns([annotated("gateway.retrieval", unknowns())], "gateway.retrieval") is None
    )
    odd = unknowns(DOCUMENT)
    odd["compile"]["unknowns"][0].append({"type": "var", "value": "x"})
    assert declared_unknowns([annotated("gateway.retrieval", odd)], "gateway.retrieval") is None


def test_the_shape_is_everything_but_the_id() -> None:
    """Two principals differing only by id share a shape; a group more does not."""
    bob = Principal("bob", ("sales",), {"tenant": "acme"})
    dave = Principal("dave", ("sales",), {"tenant": "acme"})
    assert shape_key(bob) == shape_key(dave)
    assert shape_key(bob) != shape_key(Principal("bob", ("sales", "hr"), {"tenant": "acme"}))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=20,
)


@given(json_values, st.text(max_size=8))
def test_substitution_replaces_exactly_the_placeholder(value: Any, actual: str) -> None:
    """Every placeholder string becomes the id, anywhere in the tree; nothing else changes."""
    placeholder = "policy-diff-placeholder-0123"  # longer than any generated string
    assert substitute(value, placeholder, actual) == value
    wrapped = substitute([value, placeholder, {"value": [placeholder]}], placeholder, actual)
    assert wrapped == [value, actual, {"value": [actual]}]
