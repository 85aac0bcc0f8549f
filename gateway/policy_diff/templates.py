"""When one compiled filter can serve many principals, and how to prove it per policy.

Two facts let the diff compile far fewer filters than it has principals, both checked on
the policy at run time (never assumed):

- *Declared unknowns.* OPA's data-filter compile re-reads every module's annotations on
  each call unless the request names its unknowns (and a mask rule); naming them is
  exact only when they are what the policy declares. ``declared_unknowns`` reads the
  ``compile: unknowns`` METADATA that OPA would use, and answers None when the modules
  do not agree on one set (then the caller keeps OPA's own lookup).
- *The subject id as a parameter.* Principals that differ only in their id share a
  *shape* (groups, attributes). If the policy uses ``input.subject.id`` solely in
  comparisons against document fields, a filter compiled with a placeholder id becomes
  any member's filter by substituting the id. ``id_only_compared_with_documents`` checks
  that on a plain partial evaluation with the id unknown: every place the policy reads
  the id survives in the residual, so a use of any other kind (``startswith(id, ...)``,
  a lookup ``data.x[id]``, a comparison with a constant) is seen and refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from gateway.hashing import canonical_json
from gateway.identity import Principal

SUBJECT_ID = "input.subject.id"
# Comparisons whose UCAST form carries the id as a plain value: ``field op value``.
_COMPARISONS = frozenset({"eq", "equal", "neq", "lt", "lte", "gt", "gte"})
_MEMBER = "internal.member_2"
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_INPUT = {"type": "var", "value": "input"}
_DOCUMENT = {"type": "string", "value": "document"}
_ID_REF = [_INPUT, {"type": "string", "value": "subject"}, {"type": "string", "value": "id"}]


def shape_key(principal: Principal) -> str:
    """What the policy sees of a principal except its id."""
    subject = principal.as_policy_input()
    return canonical_json({k: v for k, v in subject.items() if k != "id"})


def declared_unknowns(modules: Iterable[Mapping[str, Any]], package: str) -> list[str] | None:
    """The unknowns the modules' METADATA declares for a rule of ``package``, or None.

    Counted: ``compile`` annotations of ``package`` itself (any scope: a rule-scoped one
    may sit on another rule, so it must agree too) and ``subpackages`` ones of its
    ancestors. None when there are none, when they name different sets, or when a
    reference is not a plain dotted path.
    """
    found: list[frozenset[str]] = []
    for module in modules:
        ast = module.get("ast")
        if not isinstance(ast, Mapping):
            continue
        module_package = _dotted(_get(ast, "package", "path"), drop_root=True)
        if module_package is None:
            continue
        for annotation in ast.get("annotations") or ():
            if not isinstance(annotation, Mapping) or "compile" not in annotation:
                continue
            scope = annotation.get("scope")
            relevant = module_package == package or (
                scope == "subpackages" and package.startswith(module_package + ".")
            )
            if not relevant:
                continue
            unknowns = _get(annotation, "compile", "unknowns")
            if not isinstance(unknowns, list):
                return None
            refs = [_dotted(ref) for ref in unknowns]
            if not refs or any(ref is None for ref in refs):
                return None
            found.append(frozenset(ref for ref in refs if ref is not None))
    if not found or any(f != found[0] for f in found):
        return None
    return sorted(found[0])


def id_only_compared_with_documents(residual: Any) -> bool:
    """Whether ``input.subject.id`` appears in a partial evaluation's residual (queries
    and support rules, id and document unknown) only as one side of a comparison whose
    other side is a document field, or as the element of ``id in input.document.F``.

    Any other reference to the subject (``input``, ``input.subject``, the id inside a
    call, a lookup, a rule head, a ``with``) makes it False.
    """
    if isinstance(residual, list):
        return all(id_only_compared_with_documents(item) for item in residual)
    if not isinstance(residual, Mapping):
        return True
    if residual.get("type") == "ref":
        return _ref_is_clean(residual.get("value"))
    if residual.get("type") == "var" and residual.get("value") == "input":
        return False  # a bare ``input`` outside a reference
    terms = residual.get("terms")
    if isinstance(terms, list) and _is_id_comparison(terms):
        rest = {k: v for k, v in residual.items() if k != "terms"}
        document = terms[2] if _is_id(terms[1]) else terms[1]
        return _ref_is_clean(document["value"]) and id_only_compared_with_documents(rest)
    return all(id_only_compared_with_documents(v) for v in residual.values())


def substitute(value: Any, placeholder: str, actual: str) -> Any:
    """``value`` (JSON) with every string equal to ``placeholder`` replaced by ``actual``."""
    if isinstance(value, str):
        return actual if value == placeholder else value
    if isinstance(value, list):
        return [substitute(item, placeholder, actual) for item in value]
    if isinstance(value, Mapping):
        return {k: substitute(v, placeholder, actual) for k, v in value.items()}
    return value


def _is_id(term: Any) -> bool:
    return isinstance(term, Mapping) and term.get("type") == "ref" and term.get("value") == _ID_REF


def _is_document(term: Any) -> bool:
    if not isinstance(term, Mapping) or term.get("type") != "ref":
        return False
    value = term.get("value")
    return isinstance(value, list) and len(value) >= 3 and value[:2] == [_INPUT, _DOCUMENT]


def _is_id_comparison(terms: Sequence[Any]) -> bool:
    if len(terms) != 3:
        return False
    operator = _dotted(_get(terms[0], "value"))
    first, second = terms[1], terms[2]
    if operator in _COMPARISONS:
        return (_is_id(first) and _is_document(second)) or (_is_id(second) and _is_document(first))
    return operator == _MEMBER and _is_id(first) and _is_document(second)


def _ref_is_clean(value: Any) -> bool:
    """A reference is clean when it is not rooted at ``input`` other than at
    ``input.document``, and nothing inside it (``x[input.subject.id]``) reads the subject."""
    if not isinstance(value, list) or not value:
        return False
    if value[0] == _INPUT:
        return (
            len(value) >= 2 and value[1] == _DOCUMENT and id_only_compared_with_documents(value[2:])
        )
    return id_only_compared_with_documents(value)


def _dotted(ref: Any, *, drop_root: bool = False) -> str | None:
    """``[var input, "document"]`` -> ``"input.document"``; None for anything else."""
    if not isinstance(ref, list) or not ref:
        return None
    head = ref[0]
    if not isinstance(head, Mapping) or head.get("type") != "var":
        return None
    parts = [str(head.get("value"))]
    for term in ref[1:]:
        if not isinstance(term, Mapping) or term.get("type") != "string":
            return None
        part = term.get("value")
        if not isinstance(part, str) or not _IDENTIFIER.fullmatch(part):
            return None
        parts.append(part)
    if drop_root:
        if parts[0] != "data":
            return None
        parts = parts[1:]
    return ".".join(parts)


def _get(node: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node
