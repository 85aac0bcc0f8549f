"""Every example in policies/README.md, loaded into the real OPA and compiled.

Each file under tests/fixtures/policy_examples/ is one construct: the supported ones must
translate to exactly the Elasticsearch filter shown here (and in the README), the refused
ones must be refused with the reason shown (to the operator; callers get a generic
message). Subject: bob, groups sales and support, tenant acme, since 2026-01-01.
"""

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.governance_schema import parse_schema
from gateway.identity import Principal
from gateway.policy import PolicyEngine
from gateway.policy_revision import PolicyRevision
from gateway.retrieval.filters import FilterCompiler, Refusal

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).parents[1] / "fixtures" / "policy_examples"
SCHEMA = parse_schema(
    {
        "fields": {
            "denied_users": "keyword_list",
            "denied_groups": "keyword_list",
            "retention_years": "integer",
            "legal_hold": "boolean",
            "embargo_until": "date",
        }
    }
)
BOB = Principal("bob", ("sales", "support"), {"tenant": "acme", "since": "2026-01-01"})


def _not(*clauses: Any, guard: str | None = None) -> dict[str, Any]:
    inner: dict[str, Any] = {"must_not": list(clauses)}
    if guard is not None:
        inner = {"filter": [{"exists": {"field": guard}}], **inner}
    return {"bool": inner}


TRANSLATED: dict[str, Any] = {
    "equal_subject": {"term": {"tenant": "acme"}},
    "not_equal": _not({"term": {"classification": "restricted"}}, guard="classification"),
    "in_known_list": {"terms": {"classification": ["public", "internal"]}},
    "ranges": {
        "bool": {
            "filter": [
                {"range": {"retention_years": {"gte": 3}}},
                {"range": {"owner": {"lt": "m"}}},
            ]
        }
    },
    "startswith": {"prefix": {"doc_id": "hr-"}},
    "not_equal_missing_ok": _not({"term": {"tenant": "globex"}}),
    "not_builtin": _not({"prefix": {"doc_id": "hr-"}}, guard="doc_id"),
    "alternatives": {
        "bool": {
            "should": [
                {"term": {"classification": "public"}},
                {"terms": {"owner": ["sales", "support"]}},
            ],
            "minimum_should_match": 1,
        }
    },
    "helper_rule": {
        "bool": {"filter": [{"term": {"tenant": "acme"}}, {"term": {"classification": "internal"}}]}
    },
    "not_helper_rule": {
        "bool": {
            "filter": [{"term": {"tenant": "acme"}}],
            "must_not": [{"term": {"legal_hold": True}}],
        }
    },
    "list_has": {"term": {"allowed_groups": "*"}},
    "list_has_any": {"terms": {"allowed_groups": ["sales", "support"]}},
    "deny_list": {
        "bool": {
            "filter": [{"term": {"tenant": "acme"}}],
            "must_not": [
                {"term": {"denied_users": "bob"}},
                {"terms": {"denied_groups": ["sales", "support"]}},
            ],
        }
    },
    "dates": {
        "bool": {
            "filter": [
                {"range": {"created_at": {"gte": "2026-01-01T00:00:00.000Z"}}},
                {"range": {"embargo_until": {"lt": "2026-06-01T00:00:00.000Z"}}},
                {"range": {"updated_at": {"gt": "2026-03-01T12:00:00.000Z"}}},
            ]
        }
    },
    "boolean": _not({"term": {"legal_hold": True}}),
    "unconditional": {"match_all": {}},
    "nothing_allowed": {"match_none": {}},
}

REFUSED: dict[str, str] = {
    "refused_iteration": "invalid ref operand: input.document.allowed_groups[_]",
    "refused_member_of_field": "rhs of internal.member_2 must be known",
    "refused_not_compound_helper": '"not" not permitted',
    "refused_regex": "invalid builtin `regex.match`",
    "refused_lower": "invalid builtin `lower`",
    "refused_endswith": "unsupported operator 'endswith'",
    "refused_list_not_equal": "list field 'labels' supports only lists.has",
    "refused_unknown_field": "field 'text' is not filterable",
    "refused_date_format": "needs a canonical UTC timestamp",
    "refused_type_mismatch": "integer field 'retention_years' needs numbers",
}


def test_every_example_has_an_expectation() -> None:
    """Each example file is checked below, and each expectation has its file."""
    names = {path.stem for path in EXAMPLES.glob("*.rego")}
    assert names == set(TRANSLATED) | set(REFUSED)


async def _compile(opa_url: str, name: str) -> Any:
    url = f"{opa_url}/v1/policies/example-{name}"
    async with httpx.AsyncClient() as client:
        (await client.put(url, content=(EXAMPLES / f"{name}.rego").read_bytes())).raise_for_status()
        try:
            async with (
                PolicyEngine(opa_url, 5.0) as policy,
                PolicyRevision(policy, 60) as revision,
            ):
                compiler = FilterCompiler(
                    policy, revision, package=f"gateway.examples.{name}", schema=SCHEMA
                )
                return await compiler.compile_or_refusal(BOB, "example")
        finally:
            await client.delete(url)


@pytest.mark.parametrize("name", sorted(TRANSLATED))
def test_supported_construct_translates_exactly(stack_env: dict[str, str], name: str) -> None:
    """A supported construct becomes exactly the documented Elasticsearch filter."""
    outcome = asyncio.run(_compile(stack_env["GATEWAY_OPA_URL"], name))
    assert not isinstance(outcome, Refusal), outcome.reason
    assert outcome.es_filter == TRANSLATED[name]


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_construct_says_why(stack_env: dict[str, str], name: str) -> None:
    """A construct that cannot be enforced exactly is refused, with the documented reason."""
    outcome = asyncio.run(_compile(stack_env["GATEWAY_OPA_URL"], name))
    assert isinstance(outcome, Refusal), outcome
    assert REFUSED[name] in outcome.reason
