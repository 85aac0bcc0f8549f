"""One caller's use of one per-minute limit: a sliding-window counter shared by replicas.

Time is cut into minutes aligned on the epoch (``window = floor(t / 60)``), so every
replica agrees on the windows (clocks kept by NTP are enough). The use over "the last
minute" at time ``t`` is estimated as ``previous x (1 - f) + current`` where ``f`` is
the fraction of the current window already gone: the sliding-window counter of
Cloudflare's and Redis's limiters, exact in any aligned window (``current <= limit``) and
never more than twice the limit over any 60 seconds (a token bucket's bound too).

Each window's count is the sum of every replica's own count. This replica's part is
exact and local; the others' part is what the last sync (``gateway.limit_sync``) read
from Elasticsearch, so admission needs no round trip.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

WINDOW_S = 60.0


def window_of(now: float) -> int:
    return math.floor(now / WINDOW_S)


def elapsed_fraction(now: float) -> float:
    """How much of the current window is gone, in [0, 1)."""
    return (now % WINDOW_S) / WINDOW_S


def estimate(previous: float, current: float, fraction: float) -> float:
    return max(0.0, previous) * (1.0 - fraction) + max(0.0, current)


def wait_s(previous: float, current: float, fraction: float, cost: float, budget: float) -> float:
    """Seconds until ``cost`` more fits under ``budget`` if nothing else is used.

    Within this window the estimate only falls as the previous window's weight does;
    if the current window alone is too full, the wait runs into the next window, where
    this window becomes the previous one."""
    previous, current = max(0.0, previous), max(0.0, current)
    room = budget - cost
    if estimate(previous, current, fraction) <= room:
        return 0.0
    if current <= room and previous > 0:
        return ((1.0 - (room - current) / previous) - fraction) * WINDOW_S
    if room < 0:  # never fits on this budget: say "after the next window"
        return (2.0 - fraction) * WINDOW_S
    next_fraction = max(0.0, 1.0 - room / current) if current > 0 else 0.0
    return (1.0 - fraction + next_fraction) * WINDOW_S


@dataclass
class WindowCount:
    """This replica's and the other replicas' use in the current and previous window."""

    window: int
    mine: int = 0
    mine_previous: int = 0
    others: int = 0
    others_previous: int = 0
    known: bool = False
    """The others' counts came from a sync that ran after this count was created."""
    acknowledged: dict[int, int] = field(default_factory=dict)
    """Per window, the count of this replica that Elasticsearch holds."""

    def roll(self, window: int) -> None:
        """Move to ``window``: the current counts become the previous ones (or zeros)."""
        if window <= self.window:
            return
        if window == self.window + 1:
            self.mine_previous, self.others_previous = self.mine, self.others
        else:
            self.mine_previous = self.others_previous = 0
        self.mine = self.others = 0
        self.window = window
        for old in [w for w in self.acknowledged if w < window - 1]:
            del self.acknowledged[old]

    def idle(self) -> bool:
        return not (self.mine or self.mine_previous or self.others or self.others_previous)

    def unsent(self) -> list[tuple[int, int]]:
        """(window, this replica's count) that Elasticsearch does not hold yet."""
        own = ((self.window, self.mine), (self.window - 1, self.mine_previous))
        return [(w, n) for w, n in own if self.acknowledged.get(w, 0) != n]

    def learn(self, window: int, others: int, acknowledged: int | None) -> None:
        """What a sync read for ``window``: the other replicas' total (and ours, if sent)."""
        if acknowledged is not None:
            self.acknowledged[window] = acknowledged
        if window == self.window:
            self.others = others
        elif window == self.window - 1:
            self.others_previous = others
