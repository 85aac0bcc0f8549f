from gateway.lru import LruCache


async def test_least_recently_used_is_evicted_and_misses_are_fetched_once() -> None:
    """A read refreshes an entry; the oldest goes; get_many fetches only misses, in order."""
    cache: LruCache[str, int] = LruCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1
    cache.put("c", 3)
    assert cache.get("b") is None
    fetched: list[list[str]] = []

    async def fetch(items: list[str]) -> list[int]:
        fetched.append(items)
        return [len(i) for i in items]

    assert await cache.get_many(["c", "xy", "a"], ["-", "xy", "-"], fetch) == [3, 2, 1]
    assert fetched == [["xy"]]
    assert await LruCache[str, int](0).get_many(["k"], ["abc"], fetch) == [3]
