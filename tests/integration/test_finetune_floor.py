"""Leaving out the matches under the policy's ``match_floor`` never changes a decision:
the real OPA decides the same over the cut input as over every match."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.audit import AuditLog
from gateway.finetune.access import Access
from gateway.finetune.decisions import Caller
from gateway.finetune.floor import MatchFloor, over_floor
from gateway.identity import Principal
from gateway.policy import PolicyEngine

pytestmark = pytest.mark.integration

ALICE = Principal("alice", ("engineering",))

matches = st.lists(
    st.fixed_dictionaries(
        {
            "line": st.integers(1, 5),
            "doc_id": st.sampled_from(["memo.txt", "plan.txt", "handbook.md"]),
            "corpus": st.sampled_from(["acme-handbook", "legal"]),
            "classification": st.sampled_from(["public", "internal", "restricted"]),
            "score": st.floats(0, 1),
            "shared": st.integers(2, 60),
            "shared_chars": st.integers(0, 40),
            "visible": st.booleans(),
        }
    ).map(lambda m: {**m, "lines": [m["line"]]}),
    max_size=12,
)


def upload(found: list[dict[str, Any]]) -> dict[str, Any]:
    scan = {"scanned": True, "text": True, "examples": 5, "matches": found, "pii": []}
    return {"purpose": "fine-tune", "scan": scan}


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(found=matches)
async def test_the_cut_input_gets_the_same_decision(
    stack_env: dict[str, str], found: list[dict[str, Any]]
) -> None:
    async with PolicyEngine(stack_env["GATEWAY_OPA_URL"], 10.0) as policy:
        floor = MatchFloor.parse(await policy.finetune_match_floor())
        assert floor is not None  # the default policy states one
        cut = over_floor(upload(found), floor)
        whole = await policy.finetune(ALICE, "files.create", upload(found))
        over = await policy.finetune(ALICE, "files.create", cut)
    assert (over.allow, over.reasons, over.violations) == (
        whole.allow,
        whole.reasons,
        whole.violations,
    )
    assert len(cut["scan"]["matches"]) + cut["scan"]["matches_left_out"] == len(found)


async def test_a_large_benign_file_s_weak_matches_are_not_sent(stack_env: dict[str, str]) -> None:
    """25,000 matches of a common phrase each (a benign 20 MB file had as many): none is
    sent, and the upload is allowed."""
    weak = {
        "line": 1,
        "lines": [1],
        "doc_id": "memo.txt",
        "corpus": "legal",
        "classification": "restricted",
        "score": 0.04,
        "shared": 6,
        "shared_chars": 3,
        "visible": False,
    }
    found = [{**weak, "line": n, "lines": [n]} for n in range(1, 25_001)]
    async with PolicyEngine(stack_env["GATEWAY_OPA_URL"], 2.0) as policy:
        cut = over_floor(upload(found), MatchFloor.parse(await policy.finetune_match_floor()))
        decision = await policy.finetune(ALICE, "files.create", cut)
    assert cut["scan"]["matches"] == []
    assert cut["scan"]["matches_left_out"] == 25_000
    assert decision.allow


class CountingPolicy(PolicyEngine):
    """The real engine, counting how often the floor is asked for."""

    floor_asked = 0

    async def finetune_match_floor(self) -> Any:
        self.floor_asked += 1
        return await super().finetune_match_floor()


async def test_the_floor_is_asked_only_when_there_is_a_match(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    """A chat naming a stored file with no matches (the common case) costs no extra call."""
    caller = Caller(ALICE, "req-1")
    async with (
        CountingPolicy(stack_env["GATEWAY_OPA_URL"], 2.0) as policy,
        AuditLog(tmp_path / "audit") as audit,
    ):
        access = Access(policy, audit)
        empty = await access.decide(caller, "files.create", upload([]), {})
        assert (empty.allow, policy.floor_asked) == (True, 0)
        weak = {"doc_id": "memo.txt", "score": 0.04, "shared": 6, "shared_chars": 3}
        some = await access.decide(caller, "files.create", upload([weak]), {})
        assert (some.allow, policy.floor_asked) == (True, 1)
        floor = MatchFloor.parse(await policy.finetune_match_floor())
        given = await access.decide(caller, "files.create", upload([weak]), {}, floor=floor)
        assert (given.allow, policy.floor_asked) == (True, 2)  # only the call just above
