"""A bounded least-recently-used cache, and batched lookups through it.

Used for everything the gateway remembers per request input: compiled filters, OPA
decisions, PII spans of callers' messages.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
T = TypeVar("T")


class LruCache(Generic[K, V]):
    """At most ``max_entries`` values (0: remembers nothing)."""

    def __init__(self, max_entries: int) -> None:
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._max_entries = max_entries

    def get(self, key: K) -> V | None:
        value = self._entries.get(key)
        if value is not None:
            self._entries.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        if self._max_entries == 0:
            return
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    async def get_many(
        self,
        keys: Sequence[K],
        items: Sequence[T],
        fetch: Callable[[list[T]], Awaitable[Sequence[V]]],
    ) -> list[V]:
        """The value for each key; the items of missing keys are fetched in one call.

        Results come from this call's own lookups, never from a second cache read: an
        entry evicted meanwhile cannot turn into a missing answer.
        """
        known: dict[K, V] = {}
        missing: dict[K, T] = {}
        for key, item in zip(keys, items, strict=True):
            hit = self.get(key)
            if hit is not None:
                known[key] = hit
            else:
                missing[key] = item
        if missing:
            fetched = await fetch(list(missing.values()))
            for key, value in zip(missing, fetched, strict=True):
                known[key] = value
                self.put(key, value)
        return [known[key] for key in keys]
