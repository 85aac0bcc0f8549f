"""Per-caller limits from policy data: requests and tokens per minute, requests in flight.

Policy decides the numbers (``gateway.authz.limits``, from ``data.gateway.config.limits``:
the subject's entry, else its most generous group's, else the default); this module
counts. Each per-minute limit is a sliding-window counter (``gateway.rate_window``): a
caller may use up to the limit in any aligned minute, and the previous minute's use
weighs on the current one as it slides out. A refused request is a 429 in OpenAI's
shape (``type`` ``requests`` or ``tokens``, code ``rate_limit_exceeded``) with
``retry-after`` and ``x-ratelimit-*`` headers.

Every authenticated request takes one request and a concurrency slot (the guard in
``gateway.http.admission``); chat also charges tokens (its messages, counted with the
bundled tokenizer, plus the completion budget it asks for), corrected by the usage the
upstream reports for a non-streamed answer.

Per-minute counts are shared by every worker and replica through Elasticsearch
(``gateway.limit_sync``): admission reads local numbers only, and a background sync
writes this replica's counts and reads the others' every ``rate_limit_sync_interval_s``.
Concurrency slots stay per process: they protect the process that holds them.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gateway.errors import DependencyUnavailable, GatewayError
from gateway.hashing import canonical_json
from gateway.identity import Principal
from gateway.lru import LruCache
from gateway.policy import AUTHZ_PACKAGE, PolicyEngine
from gateway.policy_revision import PolicyRevision
from gateway.rate_window import (
    WINDOW_S,
    WindowCount,
    elapsed_fraction,
    estimate,
    wait_s,
    window_of,
)
from gateway.tokens import count_tokens

_NAMES = ("requests_per_minute", "tokens_per_minute", "concurrent_requests")
MAX_TRACKED_CALLERS = 100_000
PREVIOUS_WINDOW_READS_S = 10.0
"""How long into a window the previous one is still read (replicas' final counts for it
arrive within one sync interval of the window's end)."""


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


@dataclass
class _Caller:
    counts: dict[str, WindowCount] = field(default_factory=dict)
    """Per limit kind (``requests``, ``tokens``)."""
    active: int = 0


@dataclass(frozen=True)
class SyncItem:
    """One caller's count of one limit kind in one window, for ``gateway.limit_sync``."""

    subject: str
    kind: str
    window: int
    mine: int | None
    """This replica's count to write, or None to only read the others'."""


class CallerLimiter:
    """Per-subject counters; ``admit`` before work, the returned release after.

    Alone (``shared=False``) it counts this process's requests only. Shared, a sync
    (``gateway.limit_sync``) feeds it the other replicas' counts; a caller's counts that
    no sync has covered yet, or all counts while the syncs fail (``stale_after_s``), are
    held to ``limit / replicas`` of this replica's own use: never more permissive than an
    even share of the limit among the replicas last seen."""

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        *,
        shared: bool = False,
        stale_after_s: float = 5.0,
    ) -> None:
        self._clock = clock
        self._callers: OrderedDict[str, _Caller] = OrderedDict()
        self.shared = shared
        self._stale_after_s = stale_after_s
        self._synced_at: float | None = None
        self._failing = False
        self.sync_rounds = 0
        """Successful syncs so far (two more than now: one ran wholly after now)."""
        self.replicas = 1
        """Live replicas last seen in the shared engine (this one included)."""

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

    def view_is_fresh(self) -> bool:
        """The last sync succeeded within ``stale_after_s``."""
        synced = self._synced_at
        return synced is not None and self._clock() - synced <= self._stale_after_s

    def needs_sync(self, subject: str, limits: CallerLimits, tokens: int = 0) -> bool:
        """Whether the admission should wait for one sync instead of guessing.

        Only while shared and the engine answers: before any sync (the replica count is
        not known yet), or when a limit whose counts no sync has read would refuse this
        request on the even share ``limit / replicas`` alone (a sync may show room). A
        request that fits the even share is admitted at once: a caller's first request
        after a pause does not pay a sync round."""
        if not self.shared or (self._failing and not self.view_is_fresh()):
            return False
        caller = self._caller(subject)
        now = self._clock()
        wait = False
        for kind, limit, cost in (("requests", limits.requests_per_minute, 1),
                                  ("tokens", limits.tokens_per_minute, tokens)):  # fmt: skip
            if limit is None:
                continue
            count = _count(caller, kind, now)  # registered: the next sync reads it
            if count.known:
                continue
            fraction = elapsed_fraction(now)
            wait |= self._synced_at is None or any(
                estimate(previous, current, fraction) + cost > budget
                for previous, current, budget in self._bounds(count, limit)
            )
        return wait

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
        requests = self._check(caller, "requests", limits.requests_per_minute, 1, now)
        budget = self._check_tokens(caller, limits, tokens, now)
        if requests is not None:
            requests.mine += 1
        if budget is not None:
            budget.mine += tokens
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
        budget = self._check_tokens(caller, limits, tokens, self._clock())
        if budget is not None:
            budget.mine += tokens

    def _check_tokens(
        self, caller: _Caller, limits: CallerLimits, tokens: int, now: float
    ) -> WindowCount | None:
        limit = limits.tokens_per_minute
        if limit is not None and tokens > limit:
            # As OpenAI does: a request larger than the whole per-minute budget can never
            # fit, so it is refused outright instead of waiting.
            raise TokensRateLimited(
                f"Request too large for tokens per minute (TPM): limit {limit}, requested "
                f"{tokens}. Send a shorter prompt or ask for fewer completion tokens.",
                _headers("tokens", limit, 0, 60.0),
            )
        return self._check(caller, "tokens", limit, tokens, now)

    def _check(
        self, caller: _Caller, kind: str, limit: int | None, cost: int, now: float
    ) -> WindowCount | None:
        """The caller's count of ``kind`` if ``cost`` more fits now, else RateLimited."""
        if limit is None:
            return None
        count = _count(caller, kind, now)
        fraction = elapsed_fraction(now)
        over = [
            (wait_s(previous, current, fraction, cost, budget), budget - used)
            for previous, current, budget in self._bounds(count, limit)
            if (used := estimate(previous, current, fraction)) + cost > budget
        ]
        if not over:
            return count
        wait, remaining = max(over)
        error = TokensRateLimited if kind == "tokens" else RateLimited
        unit = "tokens per minute (TPM)" if kind == "tokens" else "requests per minute (RPM)"
        asked = f", requested {cost}" if kind == "tokens" else ""
        raise error(
            f"Rate limit reached for {unit}: limit {limit}{asked}. "
            f"Please try again in {_seconds(wait)}.",
            _headers(kind, limit, remaining, wait),
        )

    def _bounds(self, count: WindowCount, limit: int) -> list[tuple[float, float, float]]:
        """Each (previous, current, budget) the request must fit, as this replica may
        count them now.

        Without a fresh view, this replica's own use is held to the even share; the
        others' counts it last learned still bind with the whole limit (within a window
        they only grow, so a stale count is a lower bound, never a reason to admit)."""
        if not self.shared:
            return [(count.mine_previous, count.mine, float(limit))]
        total = (count.mine_previous + count.others_previous, count.mine + count.others, limit)
        if count.known and self.view_is_fresh():
            return [total]
        share = (count.mine_previous, count.mine, limit / max(1, self.replicas))
        return [share, total] if count.known else [share]

    def charge(self, subject: str, tokens: int) -> None:
        """Correct the token count by what the upstream reported (may lower it)."""
        caller = self._callers.get(subject)
        count = caller.counts.get("tokens") if caller is not None else None
        if count is not None and tokens:
            count.roll(window_of(self._clock()))
            count.mine += tokens

    # The sync's side (gateway.limit_sync).

    def to_sync(self) -> list[SyncItem]:
        """Every live count's current window (and its previous one, while that can still
        change): this replica's count where Elasticsearch does not hold it yet, else a
        read of the others'. Idle counts are forgotten here."""
        now = self._clock()
        window = window_of(now)
        early = elapsed_fraction(now) * WINDOW_S < PREVIOUS_WINDOW_READS_S
        items: list[SyncItem] = []
        for subject, caller in list(self._callers.items()):
            for kind, count in list(caller.counts.items()):
                count.roll(window)
                if count.idle() and count.known:
                    del caller.counts[kind]
                    continue
                unsent = dict(count.unsent())
                items.append(SyncItem(subject, kind, window, unsent.get(window)))
                # The previous window only changes until every replica has synced its
                # final count: read it early in this window, write it while unsent.
                if window - 1 in unsent or early:
                    items.append(SyncItem(subject, kind, window - 1, unsent.get(window - 1)))
        return items

    def learned(
        self, results: list[tuple[SyncItem, int]], replicas: int | None, *, contacted: bool = True
    ) -> None:
        """A sync succeeded: per item, the other replicas' total in its window (and the
        live replica count, when it was read). ``contacted``: it reached Elasticsearch
        (an idle round sends nothing, which proves nothing about the engine)."""
        for item, others in results:
            caller = self._callers.get(item.subject)
            count = caller.counts.get(item.kind) if caller is not None else None
            if count is None:
                continue
            count.learn(item.window, others, item.mine)
            count.known = True
        if replicas is not None:
            self.replicas = max(1, replicas)
        if contacted:
            self._synced_at = self._clock()
        self._failing = False
        self.sync_rounds += 1

    def sync_failed(self) -> None:
        self._failing = True


def _count(caller: _Caller, kind: str, now: float) -> WindowCount:
    window = window_of(now)
    count = caller.counts.get(kind)
    if count is None:
        count = caller.counts[kind] = WindowCount(window)
    else:
        count.roll(window)
    return count


def _seconds(wait: float) -> str:
    return f"{wait:.3g}s"


def _headers(kind: str, limit: int, remaining: float, wait: float) -> dict[str, str]:
    return {
        "retry-after": str(max(1, math.ceil(round(wait, 6)))),
        f"x-ratelimit-limit-{kind}": str(limit),
        f"x-ratelimit-remaining-{kind}": str(max(0, math.floor(remaining))),
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
