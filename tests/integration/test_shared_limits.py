"""Per-minute limits shared by replicas through the real Elasticsearch (two app instances
on one stack, as two replicas or two workers would be)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import yaml
from litestar import Litestar
from litestar.testing import AsyncTestClient

from gateway.app import create_app
from gateway.elastic import ChunkIndex
from gateway.errors import GatewayError
from gateway.identity import hash_key, new_key
from gateway.limit_sync import LimitSync, count_doc_id
from gateway.limits import CallerLimiter, CallerLimits, RateLimited
from gateway.rate_window import window_of

pytestmark = pytest.mark.integration


@pytest.fixture
def caller(stack_env: dict[str, str], tmp_path: Path) -> Iterator[tuple[str, str, Path, Any]]:
    """A fresh subject and key; ``set_limits`` writes its entry into OPA's data."""
    subject = f"shared-limits-{uuid.uuid4().hex[:8]}"
    key = new_key()
    keys_file = tmp_path / "keys.yaml"
    entry = {"id": subject, "sha256": hash_key(key), "subject": subject, "groups": ["sales"]}
    keys_file.write_text(yaml.safe_dump({"keys": [entry]}))
    url = f"{stack_env['GATEWAY_OPA_URL']}/v1/data/gateway/config/limits/subjects/{subject}"

    def set_limits(limits: dict[str, int]) -> None:
        httpx.put(url, json=limits, timeout=5).raise_for_status()

    yield subject, key, keys_file, set_limits
    httpx.delete(url, timeout=5)


def _replica(settings_for: Any, keys_file: Path, audit_dir: Path) -> Litestar:
    return create_app(
        settings_for(
            api_keys_file=keys_file,
            audit_dir=audit_dir,
            message_pii_analysis=False,
            finetune_pii_scan=False,
            rate_limit_sync_interval_s=0.1,
        )
    )


async def _synced(*apps: Litestar) -> None:
    """Wait until every app has run one sync round that started after this call (the
    apps run on the test client's own loop: watch their round counters)."""
    limiters = [app.state.services.limiter for app in apps]
    targets = [limiter.sync_rounds + 2 for limiter in limiters]
    deadline = time.monotonic() + 20
    while any(lim.sync_rounds < t for lim, t in zip(limiters, targets, strict=True)):
        assert time.monotonic() < deadline, "no sync round within 20 s"
        await asyncio.sleep(0.02)


def _es(stack_env: dict[str, str]) -> httpx.Client:
    auth = (
        stack_env.get("GATEWAY_ELASTICSEARCH_USERNAME", ""),
        stack_env.get("GATEWAY_ELASTICSEARCH_PASSWORD", ""),
    )
    return httpx.Client(base_url=stack_env["GATEWAY_ELASTICSEARCH_URL"], auth=auth, timeout=10)


async def test_two_replicas_share_one_callers_requests_per_minute(
    settings_for: Any,
    caller: tuple[str, str, Path, Any],
    tmp_path: Path,
    stack_env: dict[str, str],
) -> None:
    """Requests alternating between two replicas: the caller gets its limit once in all
    (not once per replica); the counts sit in <prefix>-ratelimits-v1, one per replica,
    under a hashed id with no subject stored."""
    subject, key, keys_file, set_limits = caller
    set_limits({"requests_per_minute": 4})
    one = _replica(settings_for, keys_file, tmp_path / "audit-1")
    two = _replica(settings_for, keys_file, tmp_path / "audit-2")
    headers = {"Authorization": f"Bearer {key}"}
    started = window_of(time.time())
    statuses: list[int] = []
    async with AsyncTestClient(app=one) as first, AsyncTestClient(app=two) as second:
        for turn in range(8):
            client = first if turn % 2 == 0 else second
            statuses.append((await client.get("/v1/models", headers=headers)).status_code)
            await _synced(one, two)
        prefix = one.state.services.settings.index_prefix
        replicas = {one.state.services.limit_sync.replica, two.state.services.limit_sync.replica}
    assert statuses == [200, 200, 200, 200, 429, 429, 429, 429]
    counts: dict[str, int] = {}
    with _es(stack_env) as es:  # the run may cross a minute boundary: both windows
        for window in {started, window_of(time.time())}:
            doc_id = count_doc_id(subject, "requests", window)
            stored = es.get(f"/{prefix}-ratelimits-v1/_doc/{doc_id}").json()
            if stored["found"]:
                assert subject not in str(stored["_source"])
                for replica, n in stored["_source"]["counts"].items():
                    counts[replica] = counts.get(replica, 0) + n
    assert set(counts) == replicas
    assert sum(counts.values()) == 4


async def test_two_replicas_share_one_callers_tokens_per_minute(
    settings_for: Any, caller: tuple[str, str, Path, Any], tmp_path: Path
) -> None:
    """Tokens charged on one replica are spent on the other: a chat that fits the limit
    alone is refused on the second replica after the first used most of it."""
    _subject, key, keys_file, set_limits = caller
    set_limits({"tokens_per_minute": 300})
    one = _replica(settings_for, keys_file, tmp_path / "audit-1")
    two = _replica(settings_for, keys_file, tmp_path / "audit-2")
    headers = {"Authorization": f"Bearer {key}", "x-gateway-retrieval": "off"}

    def body(words: int) -> dict[str, Any]:
        content = "word " * words
        return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}]}

    async with AsyncTestClient(app=one) as first, AsyncTestClient(app=two) as second:
        used = await first.post("/v1/chat/completions", json=body(200), headers=headers)
        await _synced(one, two)
        refused = await second.post("/v1/chat/completions", json=body(150), headers=headers)
    assert used.status_code == 200, used.text
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"]["type"] == "tokens"
    assert int(refused.headers["retry-after"]) >= 1


class _Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


async def test_old_windows_are_swept_and_counts_survive_sync(settings: Any) -> None:
    """A sync writes this replica's count; once the window is minutes old, the sweep
    deletes its document (on a distribution without _delete_by_query too)."""
    clock = _Clock()
    limiter = CallerLimiter(clock)
    async with (
        ChunkIndex.from_settings(settings) as index,
        LimitSync(limiter, index.client, settings.index_prefix, interval_s=60, clock=clock) as sync,
    ):
        limiter.needs_sync("dave", CallerLimits(requests_per_minute=5))
        limiter.admit("dave", CallerLimits(requests_per_minute=5), 0)()
        await sync.round()
        doc_id = count_doc_id("dave", "requests", window_of(clock.now))
        stored = await index.client.get(index=sync.index, id=doc_id)
        assert stored["_source"]["counts"] == {sync.replica: 1}
        await index.client.indices.refresh(index=sync.index)
        clock.now += 5 * 60
        await sync.round()
        assert not await index.client.exists(index=sync.index, id=doc_id)


class _InFlight:
    """The Elasticsearch client, counting its calls in flight at once (the most seen)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.now = 0
        self.most = 0

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if name == "indices":
            return _InFlight._Nested(attribute, self)
        return self._counted(attribute) if callable(attribute) else attribute

    def _counted(self, call: Any) -> Any:
        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.now += 1
            self.most = max(self.most, self.now)
            try:
                return await call(*args, **kwargs)
            finally:
                self.now -= 1

        return counted

    class _Nested:
        def __init__(self, namespace: Any, owner: _InFlight) -> None:
            self._namespace, self._owner = namespace, owner

        def __getattr__(self, name: str) -> Any:
            return self._owner._counted(getattr(self._namespace, name))


async def test_rounds_started_together_run_one_after_the_other(settings: Any) -> None:
    """A round beside the loop's waits for it: a late write of an old window could
    otherwise land after a newer round swept it (seen as a flaky sweep under load)."""
    clock = _Clock()
    limiter = CallerLimiter(clock)
    async with ChunkIndex.from_settings(settings) as index:
        client = _InFlight(index.client)
        async with LimitSync(
            limiter, cast(Any, client), settings.index_prefix, interval_s=60, clock=clock
        ) as sync:
            limiter.needs_sync("frank", CallerLimits(requests_per_minute=5))
            limiter.admit("frank", CallerLimits(requests_per_minute=5), 0)()
            await asyncio.gather(sync.round(), sync.round())
    assert client.most == 1


async def test_elasticsearch_unreachable_falls_back_to_an_even_share(settings_for: Any) -> None:
    """With the shared engine unreachable, rounds fail, no admission waits on it, and the
    replica admits at most limit / replicas-last-seen of its own traffic."""
    settings = settings_for(elasticsearch_url="http://127.0.0.1:9", elasticsearch_timeout_s=1)
    clock = _Clock()
    limiter = CallerLimiter(clock, stale_after_s=2)
    limiter.replicas = 2  # as if two replicas had been seen before the outage
    limits = CallerLimits(requests_per_minute=6)
    async with (
        ChunkIndex.from_settings(settings) as index,
        LimitSync(limiter, index.client, settings.index_prefix, interval_s=60, clock=clock) as sync,
    ):
        with pytest.raises(GatewayError):
            await sync.round()
        assert not limiter.needs_sync("erin", limits)
        started = time.monotonic()
        for _ in range(3):
            limiter.admit("erin", limits, 0)()
        with pytest.raises(RateLimited):
            limiter.admit("erin", limits, 0)
        assert time.monotonic() - started < 0.5
