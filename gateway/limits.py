"""Per-caller limits from policy data: requests and tokens per minute, requests in flight.

Policy decides the numbers (``gateway.authz.limits``, from ``data.gateway.config.limits``:
the subject's entry, else its most generous group's, else the default); this module
counts. Each per-minute limit is a token bucket holding a minute's worth that refills
continuously, so a caller may burst up to the limit and then runs at its rate. A refused
request is a 429 in OpenAI's shape (``type`` ``requests`` or ``tokens``, code
``rate_limit_exceeded``) with ``retry-after`` and ``x-ratelimit-*`` headers.

Every authenticated request takes one request and a concurrency slot (the guard in
``gateway.http.admission``); chat also charges tokens (its messages, counted with the
bundled tokenizer, plus the completion budget it asks for), corrected by the usage the
upstream reports for a non-streamed answer.

The counters live in this process: with several replicas each one enforces the limits
on its own share of the traffic (divide the numbers by the replica count, or put a
shared limiter in front).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gateway.errors import DependencyUnavailable, GatewayError
from gateway.hashing import canonical_json
from gateway.identity import Principal
from gateway.lru import LruCache
from gateway.policy import AUTHZ_PACKAGE, PolicyEngine
from gateway.policy_revision import PolicyRevision
from gateway.tokens import count_tokens

_NAMES = ("requests_per_minute", "tokens_per_minute", "concurrent_requests")
MAX_TRACKED_CALLERS = 100_000


class RateLimited(GatewayError):
    """429: a per-caller limit is reached (OpenAI's ``type`` names which one)."""

    status_code = 429
    error_type = "requests"
    default_code = "rate_limit_exceeded"

    def __init__(self, message: str, headers: dict[str, str]) -> None:
        super().__init__(message)
        self.headers = headers


class TokensRateLimited(RateLimited):
    error_type = "tokens"


@dataclass(frozen=True)
class CallerLimits:
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    concurrent_requests: int | None = None

    @classmethod
    def from_policy(cls, result: Any) -> CallerLimits:
        """Read ``gateway.authz.limits``; a wrong shape fails closed (OPA unavailable)."""
        if not isinstance(result, dict):
            raise DependencyUnavailable("opa", "gateway.authz.limits is not an object")
        values: dict[str, int] = {}
        for name in _NAMES:
            value = result.get(name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 1:
                raise DependencyUnavailable("opa", f"gateway.authz.limits.{name} is not >= 1")
            values[name] = int(value)
        return cls(**values)


class _Bucket:
    """A minute's worth of capacity, refilled continuously."""

    __slots__ = ("capacity", "level", "rate", "stamp")

    def __init__(self, per_minute: int, now: float) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.level = self.capacity
        self.stamp = now

    def refill(self, per_minute: int, now: float) -> None:
        if per_minute != self.capacity:  # the policy changed the limit
            self.level = min(self.level, float(per_minute))
            self.capacity, self.rate = float(per_minute), per_minute / 60.0
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait_s(self, amount: float) -> float:
        """Seconds until ``amount`` (at most the bucket's capacity) is available."""
        missing = min(amount, self.capacity) - self.level
        return 0.0 if missing <= 0 else missing / self.rate


@dataclass
class _Caller:
    requests: _Bucket | None = None
    tokens: _Bucket | None = None
    active: int = 0


class CallerLimiter:
    """In-process counters per subject; ``admit`` before work, ``release`` after."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._callers: OrderedDict[str, _Caller] = OrderedDict()

    def _caller(self, subject: str) -> _Caller:
        caller = self._callers.get(subject)
        if caller is None:
            caller = self._callers[subject] = _Caller()
            self._forget_idle()
        self._callers.move_to_end(subject)
        return caller

    def _forget_idle(self) -> None:
        while len(self._callers) > MAX_TRACKED_CALLERS:
            subject, oldest = next(iter(self._callers.items()))
            if oldest.active:
                break
            del self._callers[subject]

    def admit(self, subject: str, limits: CallerLimits, tokens: int) -> Callable[[], None]:
        """Take one request and ``tokens`` from the caller's budgets or raise RateLimited.

        Returns the release for the concurrency slot (call it once, when the response
        is over)."""
        now = self._clock()
        caller = self._caller(subject)
        if limits.concurrent_requests is not None and caller.active >= limits.concurrent_requests:
            raise RateLimited(
                f"Too many concurrent requests: limit {limits.concurrent_requests}. "
                "Retry when one of your requests has finished.",
                {"retry-after": "1"},
            )
        requests = _bucket(caller, "requests", limits.requests_per_minute, now)
        if requests is not None and (wait := requests.wait_s(1)) > 0:
            raise RateLimited(
                f"Rate limit reached for requests per minute (RPM): limit "
                f"{limits.requests_per_minute}. Please try again in {_seconds(wait)}.",
                _headers("requests", limits.requests_per_minute, requests, wait),
            )
        budget = self._token_budget(caller, limits, tokens, now)
        if requests is not None:
            requests.level -= 1
        if budget is not None:
            budget.level -= min(tokens, budget.capacity)
        caller.active += 1
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                caller.active -= 1

        return release

    def admit_tokens(self, subject: str, limits: CallerLimits, tokens: int) -> None:
        """Take ``tokens`` from the budget of a request already admitted, or raise
        TokensRateLimited (the request itself stays counted)."""
        caller = self._caller(subject)
        budget = self._token_budget(caller, limits, tokens, self._clock())
        if budget is not None:
            budget.level -= min(tokens, budget.capacity)

    @staticmethod
    def _token_budget(
        caller: _Caller, limits: CallerLimits, tokens: int, now: float
    ) -> _Bucket | None:
        """The caller's token bucket if ``tokens`` fit in it now, else TokensRateLimited."""
        budget = _bucket(caller, "tokens", limits.tokens_per_minute, now)
        if budget is None:
            return None
        if tokens > budget.capacity:
            # As OpenAI does: a request larger than the whole per-minute budget can never
            # fit, so it is refused outright instead of waiting for a full bucket.
            raise TokensRateLimited(
                f"Request too large for tokens per minute (TPM): limit "
                f"{limits.tokens_per_minute}, requested {tokens}. "
                "Send a shorter prompt or ask for fewer completion tokens.",
                _headers("tokens", limits.tokens_per_minute, budget, 60.0),
            )
        if (wait := budget.wait_s(tokens)) > 0:
            raise TokensRateLimited(
                f"Rate limit reached for tokens per minute (TPM): limit "
                f"{limits.tokens_per_minute}, requested {tokens}. "
                f"Please try again in {_seconds(wait)}.",
                _headers("tokens", limits.tokens_per_minute, budget, wait),
            )
        return budget

    def charge(self, subject: str, tokens: int) -> None:
        """Correct the token budget by what the upstream reported (may go negative)."""
        caller = self._callers.get(subject)
        if caller is not None and caller.tokens is not None and tokens:
            caller.tokens.level -= tokens


def _bucket(caller: _Caller, kind: str, per_minute: int | None, now: float) -> _Bucket | None:
    if per_minute is None:
        return None
    bucket: _Bucket | None = getattr(caller, kind)
    if bucket is None:
        bucket = _Bucket(per_minute, now)
        setattr(caller, kind, bucket)
    else:
        bucket.refill(per_minute, now)
    return bucket


def _seconds(wait: float) -> str:
    return f"{wait:.3g}s"


def _headers(kind: str, limit: int | None, bucket: _Bucket, wait: float) -> dict[str, str]:
    return {
        "retry-after": str(max(1, math.ceil(wait))),
        f"x-ratelimit-limit-{kind}": str(limit),
        f"x-ratelimit-remaining-{kind}": str(max(0, math.floor(bucket.level))),
        f"x-ratelimit-reset-{kind}": _seconds(wait),
    }


class PolicyLimits:
    """``gateway.authz.limits`` for a principal, cached per exact input and policy revision."""

    def __init__(self, policy: PolicyEngine, revision: PolicyRevision, max_entries: int) -> None:
        self._policy = policy
        self._revision = revision
        self._cache: LruCache[tuple[str, str], CallerLimits] = LruCache(max(1, max_entries))

    async def for_principal(self, principal: Principal) -> CallerLimits:
        subject = principal.as_policy_input()
        key = (await self._revision.cache_key(), canonical_json(subject))
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        response = await self._policy.query(AUTHZ_PACKAGE, "limits", {"subject": subject})
        limits = CallerLimits.from_policy(response["result"])
        self._cache.put(key, limits)
        return limits


def estimate_tokens(body: dict[str, Any]) -> int:
    """What a chat request may cost: its message text plus the completion it asks for."""
    total = 0
    for message in body.get("messages") or ():
        if not isinstance(message, dict):
            continue
        total += 4  # OpenAI's per-message framing
        content = message.get("content")
        if isinstance(content, str):
            total += count_tokens(content)
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    total += count_tokens(part["text"])
    budget = body.get("max_completion_tokens") or body.get("max_tokens")
    if isinstance(budget, int) and not isinstance(budget, bool) and budget > 0:
        total += budget
    return total
