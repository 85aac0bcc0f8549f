"""The membership re-check means what the enumeration of combinations meant.

Against the real OPA: for random subjects and documents (lists of every length up to 4,
empty and missing ones, every classification, several tenants), the shipped policy's
``allow_document`` (one membership test per list comparison) equals the reference that
evaluates ``allow`` on every choice of one value per list field (the pre-lists.has
re-check, tests/fixtures/views_reference.rego).
"""

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.identity import Principal
from gateway.policy import PolicyEngine

pytestmark = pytest.mark.integration

REFERENCE = Path(__file__).parents[1] / "fixtures" / "views_reference.rego"
USERS = ["alice", "bob", "carol"]
GROUPS = ["engineering", "sales", "security", "*"]
TENANTS = ["acme", "globex"]
CLASSIFICATIONS = ["public", "internal", "confidential", "restricted"]


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


documents = st.fixed_dictionaries(
    {
        "tenant": _maybe(st.sampled_from(TENANTS)),
        "classification": _maybe(st.sampled_from(CLASSIFICATIONS)),
        "allowed_groups": _maybe(st.lists(st.sampled_from(GROUPS), max_size=4, unique=True)),
        "allowed_users": _maybe(st.lists(st.sampled_from(USERS), max_size=3, unique=True)),
        "labels": _maybe(st.lists(st.sampled_from(["eu", "hr"]), max_size=2, unique=True)),
    }
).map(lambda doc: {k: v for k, v in doc.items() if v is not None})
subjects = st.builds(
    lambda sid, groups, tenant, clearance: Principal(
        sid,
        tuple(groups),
        {k: v for k, v in {"tenant": tenant, "clearance": clearance}.items() if v},
    ),
    st.sampled_from(USERS),
    st.lists(st.sampled_from(GROUPS[:3]), max_size=3, unique=True),
    _maybe(st.sampled_from(TENANTS)),
    _maybe(st.sampled_from(CLASSIFICATIONS)),
)


@pytest.fixture(scope="module")
def reference_policy(stack_env: dict[str, str]) -> Iterator[str]:
    url = f"{stack_env['GATEWAY_OPA_URL']}/v1/policies/test-views-reference"
    httpx.put(url, content=REFERENCE.read_bytes()).raise_for_status()
    yield stack_env["GATEWAY_OPA_URL"]
    httpx.delete(url)


async def _verdicts(opa_url: str, subject: Principal, docs: list[dict[str, Any]]) -> Any:
    # The re-check's input: list fields always present, [] when unset.
    present = [{"allowed_groups": [], "allowed_users": [], "labels": [], **doc} for doc in docs]
    async with PolicyEngine(opa_url, 10.0) as policy:
        new = await policy.allow_documents(subject, present)
        old = await policy.allow_documents(subject, docs, package="gateway.test_views_reference")
    return new, old


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(docs=st.lists(documents, min_size=1, max_size=20), subject=subjects)
def test_membership_recheck_equals_enumeration(
    reference_policy: str, docs: list[dict[str, Any]], subject: Principal
) -> None:
    """allow_document (membership per field) == allow on some combination of values."""
    new, old = asyncio.run(_verdicts(reference_policy, subject, docs))
    assert new == old, [d for d, n, o in zip(docs, new, old, strict=True) if n != o]
