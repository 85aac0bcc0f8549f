"""The sliding-window arithmetic: estimates, waits, rolling windows."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gateway.rate_window import WindowCount, estimate, wait_s

counts = st.integers(min_value=0, max_value=1000)
fractions = st.floats(min_value=0, max_value=0.999)


@given(previous=counts, current=counts, fraction=fractions, cost=st.integers(1, 100),
       budget=st.integers(1, 1000))  # fmt: skip
def test_after_the_wait_the_cost_fits_and_not_much_before(
    previous: int, current: int, fraction: float, cost: int, budget: int
) -> None:
    """Waiting exactly ``wait_s`` makes room for ``cost``; a second less does not (when
    the cost can fit at all)."""
    wait = wait_s(previous, current, fraction, cost, budget)
    assert wait >= 0
    if cost > budget:
        return
    later = fraction + wait / 60
    if later < 1:
        assert estimate(previous, current, later) + cost <= budget + 1e-6
    else:  # in the next window, this one is the previous
        assert estimate(current, 0, later - 1) + cost <= budget + 1e-6
    if wait >= 1:
        sooner = fraction + (wait - 1) / 60
        used = (
            estimate(previous, current, sooner) if sooner < 1 else estimate(current, 0, sooner - 1)
        )
        assert used + cost > budget - 1e-6


def test_rolling_moves_current_to_previous_and_forgets_older() -> None:
    """One window on: current becomes previous; two windows on: everything is zero."""
    count = WindowCount(10, mine=3, others=4)
    count.roll(11)
    assert (count.mine_previous, count.others_previous, count.mine, count.others) == (3, 4, 0, 0)
    count.mine = 2
    count.roll(13)
    assert count.idle()


def test_unsent_names_only_counts_elasticsearch_does_not_hold() -> None:
    """A count acknowledged by a sync is not sent again until it changes."""
    count = WindowCount(10, mine=3, mine_previous=1)
    assert sorted(count.unsent()) == [(9, 1), (10, 3)]
    count.learn(10, others=5, acknowledged=3)
    count.learn(9, others=2, acknowledged=1)
    assert count.unsent() == []
    assert (count.others, count.others_previous) == (5, 2)
    count.mine += 1
    assert count.unsent() == [(10, 4)]
