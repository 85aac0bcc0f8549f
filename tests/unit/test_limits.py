"""Per-caller limits: sliding-window counts for requests and tokens, concurrency slots."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.errors import DependencyUnavailable
from gateway.limits import (
    CallerLimiter,
    CallerLimits,
    RateLimited,
    SyncItem,
    TokensRateLimited,
    estimate_tokens,
)


class Clock:
    def __init__(self) -> None:
        self.now = 960.0  # the start of a minute window

    def __call__(self) -> float:
        return self.now


def test_requests_per_minute_refuses_with_retry_after() -> None:
    """The (limit+1)th request within a minute is a 429 with retry-after and headers."""
    clock = Clock()
    limiter = CallerLimiter(clock)
    limits = CallerLimits(requests_per_minute=3)
    for _ in range(3):
        limiter.admit("bob", limits, 0)()
    with pytest.raises(RateLimited) as refused:
        limiter.admit("bob", limits, 0)
    error = refused.value.to_openai()["error"]
    assert error["type"] == "requests"
    assert error["code"] == "rate_limit_exceeded"
    assert refused.value.status_code == 429
    # The full window weighs on the next one as it slides out: one more request fits
    # once a third of the next window has passed (60 s + 20 s).
    assert refused.value.headers["retry-after"] == "80"
    assert refused.value.headers["x-ratelimit-limit-requests"] == "3"
    clock.now += 79
    with pytest.raises(RateLimited):
        limiter.admit("bob", limits, 0)
    clock.now += 1
    limiter.admit("bob", limits, 0)()


def test_callers_have_their_own_budgets() -> None:
    """One caller's exhausted budget does not limit another."""
    limiter = CallerLimiter(Clock())
    limits = CallerLimits(requests_per_minute=1)
    limiter.admit("bob", limits, 0)
    limiter.admit("alice", limits, 0)
    with pytest.raises(RateLimited):
        limiter.admit("bob", limits, 0)


def test_tokens_per_minute_is_a_tokens_429() -> None:
    """A request whose tokens exceed what is left is refused with type 'tokens'."""
    clock = Clock()
    limiter = CallerLimiter(clock)
    limits = CallerLimits(tokens_per_minute=600)
    limiter.admit("bob", limits, 500)
    with pytest.raises(TokensRateLimited) as refused:
        limiter.admit("bob", limits, 200)
    assert refused.value.to_openai()["error"]["type"] == "tokens"
    assert refused.value.headers["retry-after"] == "72"
    clock.now += 72
    limiter.admit("bob", limits, 200)


def test_a_request_larger_than_the_whole_budget_is_refused_even_when_full() -> None:
    """More tokens than the per-minute limit can never fit: refused on a full bucket."""
    limiter = CallerLimiter(Clock())
    limits = CallerLimits(tokens_per_minute=200)
    with pytest.raises(TokensRateLimited) as refused:
        limiter.admit("bob", limits, 201)
    assert "Request too large" in refused.value.to_openai()["error"]["message"]
    limiter.admit("bob", limits, 200)()


def test_reported_usage_corrects_the_token_budget() -> None:
    """Tokens the upstream reports beyond the estimate are charged afterwards."""
    limiter = CallerLimiter(Clock())
    limits = CallerLimits(tokens_per_minute=100)
    limiter.admit("bob", limits, 10)
    limiter.charge("bob", 90)
    with pytest.raises(TokensRateLimited):
        limiter.admit("bob", limits, 1)


def test_concurrency_slots_are_released_once() -> None:
    """Past concurrent_requests a request is refused until a slot is released (once)."""
    limiter = CallerLimiter(Clock())
    limits = CallerLimits(concurrent_requests=1)
    release = limiter.admit("bob", limits, 0)
    with pytest.raises(RateLimited):
        limiter.admit("bob", limits, 0)
    release()
    release()
    second = limiter.admit("bob", limits, 0)
    with pytest.raises(RateLimited):
        limiter.admit("bob", limits, 0)
    second()


@pytest.mark.parametrize(
    "result",
    [
        None,
        [],
        {"requests_per_minute": 0},
        {"tokens_per_minute": "5"},
        {"concurrent_requests": True},
    ],
)
def test_a_wrong_policy_shape_fails_closed(result: object) -> None:
    """Limits that are not positive numbers are an OPA failure (503), never 'no limit'."""
    with pytest.raises(DependencyUnavailable):
        CallerLimits.from_policy(result)


def test_estimate_counts_messages_and_the_completion_budget() -> None:
    """The estimate grows with the text and the requested completion budget."""
    short = {"messages": [{"role": "user", "content": "hi"}]}
    longer = {"messages": [{"role": "user", "content": "hi " * 200}], "max_tokens": 50}
    parts = {"messages": [{"role": "user", "content": [{"type": "text", "text": "hi " * 200}]}]}
    assert estimate_tokens(short) < estimate_tokens(parts) < estimate_tokens(longer)
    assert estimate_tokens({"messages": "nonsense", "max_tokens": True}) == 0


@given(
    per_minute=st.integers(min_value=1, max_value=500),
    steps=st.lists(st.floats(min_value=0, max_value=5), min_size=1, max_size=200),
)
def test_admitted_requests_never_exceed_the_budget(per_minute: int, steps: list[float]) -> None:
    """Over any schedule: at most the limit in any aligned minute, and at most
    limit + rate x elapsed time in all."""
    clock = Clock()
    limiter = CallerLimiter(clock)
    limits = CallerLimits(requests_per_minute=per_minute)
    admitted = 0
    per_window: dict[int, int] = {}
    refusals: list[int] = []
    for step in steps:
        clock.now += step
        try:
            limiter.admit("bob", limits, 0)()
            admitted += 1
            per_window[int(clock.now // 60)] = per_window.get(int(clock.now // 60), 0) + 1
        except RateLimited as exc:
            refusals.append(int(exc.headers["retry-after"]))
    elapsed = sum(steps)
    assert admitted <= per_minute + elapsed * per_minute / 60 + 1e-6
    assert all(n <= per_minute for n in per_window.values())
    assert all(seconds >= 1 for seconds in refusals)


class _SharedCounts:
    """What Elasticsearch holds in this simulation: per (caller, kind, window), each
    replica's own count (``gateway.limit_sync`` merges exactly this way)."""

    def __init__(self) -> None:
        self.docs: dict[tuple[str, str, int], dict[str, int]] = {}

    def sync(self, replica: str, limiter: CallerLimiter, replicas: int) -> None:
        results: list[tuple[SyncItem, int]] = []
        for item in limiter.to_sync():
            counts = self.docs.setdefault((item.subject, item.kind, item.window), {})
            if item.mine is not None:
                counts[replica] = item.mine
            results.append((item, sum(n for r, n in counts.items() if r != replica)))
        limiter.learned(results, replicas)


def test_replicas_share_one_callers_limit() -> None:
    """Two replicas that sync between requests admit the caller's limit once between
    them, not twice."""
    clock = Clock()
    store = _SharedCounts()
    one, two = (CallerLimiter(clock, shared=True) for _ in range(2))
    limits = CallerLimits(requests_per_minute=10)
    for name, limiter in (("one", one), ("two", two)):
        assert limiter.needs_sync("bob", limits)
        store.sync(name, limiter, 2)
    admitted = 0
    for step in range(40):
        replica = one if step % 2 else two
        try:
            replica.admit("bob", limits, 0)()
            admitted += 1
        except RateLimited:
            pass
        store.sync("one", one, 2)
        store.sync("two", two, 2)
    assert admitted == 10


@given(
    per_minute=st.integers(min_value=1, max_value=60),
    sync_every=st.integers(min_value=1, max_value=8),
    arrivals=st.lists(st.tuples(st.integers(0, 2), st.floats(0, 3)), min_size=1, max_size=150),
)
def test_over_admission_is_bounded_by_one_sync_period(
    per_minute: int, sync_every: int, arrivals: list[tuple[int, float]]
) -> None:
    """Three replicas syncing every ``sync_every`` requests each: in any aligned minute
    the caller gets at most limit + what the other replicas admit between two syncs."""
    clock = Clock()
    store = _SharedCounts()
    replicas = [CallerLimiter(clock, shared=True) for _ in range(3)]
    limits = CallerLimits(requests_per_minute=per_minute)
    for index, limiter in enumerate(replicas):
        store.sync(str(index), limiter, 3)
    since_sync = [0, 0, 0]
    per_window: dict[int, int] = {}
    for index, step in arrivals:
        clock.now += step
        with contextlib.suppress(RateLimited):
            replicas[index].admit("bob", limits, 0)()
            window = int(clock.now // 60)
            per_window[window] = per_window.get(window, 0) + 1
        since_sync[index] += 1
        if since_sync[index] >= sync_every:
            store.sync(str(index), replicas[index], 3)
            since_sync[index] = 0
    bound = per_minute + 2 * sync_every
    assert all(n <= bound for n in per_window.values()), per_window


def test_a_stale_view_still_counts_the_others_it_learned() -> None:
    """Without a sync for longer than stale_after_s, the share of the limit is not all
    that binds: the other replicas' counts last learned (a lower bound within a window)
    still count against the whole limit."""
    clock = Clock()
    store = _SharedCounts()
    busy, idle = CallerLimiter(clock, shared=True), CallerLimiter(clock, shared=True)
    limits = CallerLimits(requests_per_minute=6)
    store.sync("busy", busy, 2)
    store.sync("idle", idle, 2)
    idle.admit("bob", limits, 0)()
    for _ in range(3):  # the even share, before any sync covered the count
        busy.admit("bob", limits, 0)()
    for name, limiter in (("busy", busy), ("idle", idle), ("busy", busy)):
        store.sync(name, limiter, 2)
    for _ in range(2):  # a fresh view of idle's 1: the whole limit
        busy.admit("bob", limits, 0)()
    store.sync("busy", busy, 2)
    store.sync("idle", idle, 2)  # learns busy's 5: 6 of 6 used
    clock.now += 6  # the view goes stale, the minute is the same
    assert not idle.view_is_fresh()
    with pytest.raises(RateLimited):
        idle.admit("bob", limits, 0)  # within its share (1 of 3), not within the limit


def test_without_a_fresh_view_a_replica_keeps_to_its_share() -> None:
    """Syncs failing for longer than stale_after_s: limit / replicas of local use only."""
    clock = Clock()
    store = _SharedCounts()
    limiter = CallerLimiter(clock, shared=True, stale_after_s=2)
    limits = CallerLimits(requests_per_minute=12)
    store.sync("one", limiter, 3)
    clock.now += 3
    limiter.sync_failed()
    assert not limiter.view_is_fresh()
    assert not limiter.needs_sync("bob", limits)  # no waiting on a dead engine
    for _ in range(4):
        limiter.admit("bob", limits, 0)()
    with pytest.raises(RateLimited):
        limiter.admit("bob", limits, 0)


def test_a_new_caller_waits_for_a_sync_only_while_the_engine_answers() -> None:
    """needs_sync: before the first round, and for unknown counts with a fresh view only
    when the even share would refuse the request."""
    clock = Clock()
    limiter = CallerLimiter(clock, shared=True)
    limits = CallerLimits(tokens_per_minute=100)
    assert limiter.needs_sync("bob", limits)  # no round yet: replicas unknown
    limiter.learned([], 2)
    assert not limiter.needs_sync("bob", limits, 50)  # fits 100 / 2 replicas: no wait
    assert limiter.needs_sync("bob", limits, 51)  # bob's counts were not in that round
    _SharedCounts().sync("one", limiter, 2)
    assert not limiter.needs_sync("bob", limits, 51)
    assert not CallerLimiter(clock).needs_sync("bob", limits)  # alone: never


def test_an_unsynced_caller_is_held_to_the_even_share_without_waiting() -> None:
    """Between syncs a caller unknown to the view is admitted at once up to
    limit / replicas; the request past it asks for a sync instead of a 429."""
    clock = Clock()
    limiter = CallerLimiter(clock, shared=True)
    limiter.learned([], 3)
    limits = CallerLimits(requests_per_minute=9)
    for _ in range(3):
        assert not limiter.needs_sync("bob", limits)
        limiter.admit("bob", limits, 0)()
    assert limiter.needs_sync("bob", limits)
    with pytest.raises(RateLimited):
        limiter.admit("bob", limits, 0)


def test_an_idle_round_proves_nothing_about_the_engine() -> None:
    """A sync round that sent nothing keeps a stale view stale, yet a new caller past
    its even share still waits for a real sync (the engine has not failed)."""
    clock = Clock()
    limiter = CallerLimiter(clock, shared=True, stale_after_s=2)
    limiter.learned([], 2)
    assert limiter.view_is_fresh()
    clock.now += 10
    limiter.learned([], None, contacted=False)
    assert not limiter.view_is_fresh()
    limits = CallerLimits(requests_per_minute=4)
    for _ in range(2):
        assert not limiter.needs_sync("bob", limits)
        limiter.admit("bob", limits, 0)()
    assert limiter.needs_sync("bob", limits)


def test_the_previous_window_is_synced_only_while_it_can_change() -> None:
    """Early in a window the previous one is read; later only an unsent count of it is."""
    clock = Clock()
    limiter = CallerLimiter(clock, shared=True)
    limits = CallerLimits(requests_per_minute=100)
    limiter.admit("bob", limits, 0)()
    clock.now += 5  # 5 s into the window
    assert sorted(i.window for i in limiter.to_sync()) == [15, 16]
    clock.now += 30
    items = limiter.to_sync()
    assert [(i.window, i.mine) for i in items] == [(16, 1)]
    limiter.learned([(i, 0) for i in items], 1)
    assert [(i.window, i.mine) for i in limiter.to_sync()] == [(16, None)]
    clock.now += 30  # the next window: bob's count becomes the previous one
    assert sorted((i.window, i.mine) for i in limiter.to_sync()) == [(16, None), (17, None)]
