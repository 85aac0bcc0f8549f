"""The policy's match floor read strictly, and matches cut to it."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.errors import DependencyUnavailable
from gateway.finetune.floor import MatchFloor, carries_matches, over_floor

FLOOR = MatchFloor({"score": 0.2, "shared": 30, "shared_chars": 24})


def match(score: float, shared: int, shared_chars: int) -> dict[str, Any]:
    return {"doc_id": "memo.txt", "score": score, "shared": shared, "shared_chars": shared_chars}


def test_no_floor_sends_every_match() -> None:
    facts = {"scan": {"matches": [match(0.01, 2, 0)]}}
    assert MatchFloor.parse(None) is None
    assert MatchFloor.parse({}) is None
    assert over_floor(facts, None) is facts


@pytest.mark.parametrize(
    "result", [[0.2], {"score": "0.2"}, {"score": True}, {"lines": 3}, {"score": None}]
)
def test_a_floor_the_gateway_cannot_read_fails_closed(result: Any) -> None:
    with pytest.raises(DependencyUnavailable, match="match_floor"):
        MatchFloor.parse(result)


def test_a_match_is_kept_when_it_reaches_any_measure() -> None:
    assert not FLOOR.reached(match(0.19, 29, 23))
    assert FLOOR.reached(match(0.2, 2, 0))
    assert FLOOR.reached(match(0.0, 30, 0))
    assert FLOOR.reached(match(0.0, 2, 24))


def test_every_match_list_is_cut_and_counted() -> None:
    weak, strong = match(0.05, 4, 1), match(0.9, 40, 30)
    facts: dict[str, Any] = {
        "model": "gpt-4o-mini",
        "recheck": {"matches": [weak, strong, weak]},
        "job_request": {"matches": []},
    }
    cut = over_floor(facts, FLOOR)
    assert cut["model"] == "gpt-4o-mini"
    assert cut["recheck"] == {"matches": [strong], "matches_left_out": 2}
    assert cut["job_request"] == {"matches": [], "matches_left_out": 0}
    assert facts["recheck"]["matches"] == [weak, strong, weak]  # the caller's facts unchanged


def test_only_a_non_empty_match_list_asks_for_a_floor() -> None:
    assert not carries_matches({"model": "gpt-4o-mini"})
    assert not carries_matches({"scan": {"matches": []}, "recheck": {"matches": []}})
    assert not carries_matches({"scan": {"scanned": True}})
    assert carries_matches({"scan": {"matches": []}, "recheck": {"matches": [match(0.0, 2, 0)]}})
