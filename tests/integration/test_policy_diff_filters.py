"""Policy diff filters against a private OPA: the fast paths give each principal exactly
the filter the gateway's own per-principal compile gives, and fall back when unproved."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from gateway.errors import PolicyUntranslatable
from gateway.hashing import canonical_json
from gateway.identity import Principal
from gateway.policy import PolicyEngine
from gateway.policy_diff.filters import CompileStats, Outcome, VersionFilters
from gateway.policy_diff.opa_server import OpaServer
from gateway.policy_revision import PolicyRevision
from gateway.retrieval.filters import FilterCompiler

from ..fixtures.policy_diff.support import POLICIES, copy_policies

pytestmark = pytest.mark.integration

ACME_SALES = {"tenant": "acme", "clearance": "internal"}
ACME_RESTRICTED = {"tenant": "acme", "clearance": "restricted"}
# Shapes shared by several ids, one of them named on a document ("carol"), plus singles.
PRINCIPALS = [
    Principal("bob", ("sales",), ACME_SALES),
    Principal("bobby", ("sales",), ACME_SALES),
    Principal("dave", ("sales",), ACME_SALES),
    Principal("carol", ("security",), ACME_RESTRICTED),
    Principal("carla", ("security",), ACME_RESTRICTED),
    Principal("alice", ("engineering",), {"tenant": "acme", "clearance": "confidential"}),
    Principal("zed", ("sales", "hr"), {"tenant": "globex", "clearance": "public"}),
    Principal("yan", ("sales", "hr"), {"tenant": "globex", "clearance": "public"}),
    Principal("nobody", (), {}),
]


async def both_ways(
    url: str, principals: list[Principal]
) -> tuple[list[Outcome], list[Outcome], CompileStats]:
    """(the diff's outcomes, FilterCompiler's one by one, the diff's stats)."""
    stats = CompileStats()
    async with PolicyEngine(url, 60.0) as policy:
        fast = await VersionFilters(policy, stats=stats).filters(principals)
        compiler = FilterCompiler(policy, PolicyRevision(policy, 3600.0))
        slow: list[Outcome] = []
        for principal in principals:
            try:
                slow.append((dict((await compiler.compile(principal, "t")).es_filter), None))
            except PolicyUntranslatable as exc:
                slow.append((None, exc.message))
    return fast, slow, stats


def run(stack_env: dict[str, str], directory: Path) -> tuple[list[Any], list[Any], CompileStats]:
    with OpaServer(stack_env["STACK_OPA_BIN"], directory) as opa:
        return asyncio.run(both_ways(opa.url, PRINCIPALS))


def filters_of(outcomes: list[Outcome]) -> dict[str, str]:
    return {p.subject: canonical_json(o) for p, o in zip(PRINCIPALS, outcomes, strict=True)}


def test_templates_and_explicit_unknowns_give_each_principal_its_own_filter(
    stack_env: dict[str, str],
) -> None:
    """The repository's policies: shapes share one compile and every filter is exact."""
    fast, slow, stats = run(stack_env, POLICIES)
    assert filters_of(fast) == filters_of(slow)
    assert stats.explicit_unknowns
    assert stats.id_templates
    assert stats.templated_principals == 7  # bob/bobby/dave, carol/carla, zed/yan
    assert stats.shapes == 5
    assert stats.compiles == 2 + 5 + 1  # unknowns cross-check, one per shape, 2nd placeholder
    by_subject = filters_of(fast)
    assert by_subject["carol"] != by_subject["carla"]  # the id is in the filter
    assert '"carol"' in by_subject["carol"]


def test_an_id_used_otherwise_falls_back_to_one_compile_per_principal(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    """startswith(input.subject.id, ...): no template is used and results stay exact."""
    new = copy_policies(tmp_path / "new")
    rego = new / "retrieval.rego"
    rego.write_text(
        rego.read_text()
        + "\n# Account managers (ids bob*) see their whole tenant.\n"
        + 'allow if {\n\tstartswith(input.subject.id, "bob")\n'
        + "\tinput.document.tenant == input.subject.attributes.tenant\n}\n"
    )
    fast, slow, stats = run(stack_env, new)
    assert filters_of(fast) == filters_of(slow)
    assert stats.templated_principals == 0
    assert stats.explicit_unknowns
    by_subject = filters_of(fast)
    assert by_subject["bob"] == by_subject["bobby"] != by_subject["dave"]


def test_an_id_compared_with_a_constant_falls_back(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    """input.subject.id == "dave": the proof fails, so dave keeps his own filter."""
    new = copy_policies(tmp_path / "new")
    rego = new / "retrieval.rego"
    rego.write_text(
        rego.read_text()
        + '\nallow if {\n\tinput.subject.id == "dave"\n\tinput.document.corpus == "sales"\n}\n'
    )
    fast, slow, stats = run(stack_env, new)
    assert filters_of(fast) == filters_of(slow)
    assert stats.templated_principals == 0  # every shape's residual compares the id
    by_subject = filters_of(fast)
    assert by_subject["dave"] != by_subject["bobby"]


def test_undeclared_unknowns_keep_opas_own_lookup(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    """Another rule of the package declaring other unknowns: the declarations disagree, so
    OPA keeps its own lookup (no explicit unknowns, no templates), with the same filters."""
    new = copy_policies(tmp_path / "new")
    (new / "retrieval_extra.rego").write_text(
        "package gateway.retrieval\n\n# METADATA\n# compile:\n"
        "#   unknowns: [input.document, input.row]\nextra_rule := true\n"
    )
    fast, slow, stats = run(stack_env, new)
    assert filters_of(fast) == filters_of(slow)
    assert not stats.explicit_unknowns
    assert stats.templated_principals == 0


def test_a_policy_opa_cannot_compile_is_refused_for_everyone_as_by_the_gateway(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    """A rule outside the data-filter fragment: every principal gets the gateway's refusal."""
    new = copy_policies(tmp_path / "new")
    rego = new / "retrieval.rego"
    rego.write_text(
        rego.read_text() + "\nallow if {\n\tcount(input.document.allowed_groups) > 5\n}\n"
    )
    fast, slow, stats = run(stack_env, new)
    assert filters_of(fast) == filters_of(slow)
    assert all(es_filter is None and error for es_filter, error in fast)
    assert stats.templated_principals == 0
