"""Per-caller limits: token buckets for requests and tokens, concurrency slots."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.errors import DependencyUnavailable
from gateway.limits import (
    CallerLimiter,
    CallerLimits,
    RateLimited,
    TokensRateLimited,
    estimate_tokens,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

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
    assert refused.value.headers["retry-after"] == "20"
    assert refused.value.headers["x-ratelimit-limit-requests"] == "3"
    clock.now += 20
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
    assert refused.value.headers["retry-after"] == "10"
    clock.now += 10
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
    """Over any schedule, admitted requests <= limit + rate x elapsed time."""
    clock = Clock()
    limiter = CallerLimiter(clock)
    limits = CallerLimits(requests_per_minute=per_minute)
    admitted = 0
    refusals: list[int] = []
    for step in steps:
        clock.now += step
        try:
            limiter.admit("bob", limits, 0)()
            admitted += 1
        except RateLimited as exc:
            refusals.append(int(exc.headers["retry-after"]))
    elapsed = sum(steps)
    assert admitted <= per_minute + elapsed * per_minute / 60 + 1e-6
    assert all(seconds >= 1 for seconds in refusals)
