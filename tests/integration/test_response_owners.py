"""The responses owner registry in Elasticsearch: who owns which relayed response id,
seen alike by every replica (real Elasticsearch; two gateway apps on one cluster)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from gateway.app import create_app
from gateway.elastic import ChunkIndex
from gateway.errors import DependencyUnavailable
from gateway.hashing import sha256_hex
from gateway.responses.owners import OwnerConflict, ResponseOwners, owners_mapping
from gateway.settings import Settings

from ..conftest import ALICE, BOB
from .conftest import FakeUpstream

pytestmark = pytest.mark.integration


@pytest.fixture
async def replicas(settings: Settings) -> AsyncIterator[tuple[ResponseOwners, ResponseOwners]]:
    """Two registries over two clients: two replicas sharing one cluster."""
    async with (
        ChunkIndex.from_settings(settings) as one,
        ChunkIndex.from_settings(settings) as two,
        ResponseOwners(one.client, settings.index_prefix) as first,
        ResponseOwners(two.client, settings.index_prefix) as second,
    ):
        yield first, second


async def test_an_id_recorded_by_one_replica_is_owned_on_the_other_at_once(
    replicas: tuple[ResponseOwners, ResponseOwners],
) -> None:
    """No refresh needed: the other replica's realtime GET sees the owner, and only them."""
    one, two = replicas
    await one.record("alice", "resp_1", "ab" * 32)
    assert await two.owns("alice", "resp_1")
    assert not await two.owns("bob", "resp_1")
    assert not await two.owns("alice", "resp_unknown")


async def test_the_first_owner_keeps_an_id(
    replicas: tuple[ResponseOwners, ResponseOwners],
) -> None:
    """Recording the same owner again is fine; another caller is refused and never
    overwrites the entry."""
    one, two = replicas
    await one.record("alice", "resp_2")
    await two.record("alice", "resp_2")
    with pytest.raises(OwnerConflict) as raised:
        await two.record("bob", "resp_2")
    assert raised.value.status_code == 503
    assert "alice" not in str(raised.value)
    assert "bob" not in str(raised.value)
    assert await one.owns("alice", "resp_2")
    assert not await one.owns("bob", "resp_2")


async def test_concurrent_records_of_one_id_leave_exactly_one_owner(
    replicas: tuple[ResponseOwners, ResponseOwners],
) -> None:
    """Two replicas racing to record one id for two callers: exactly one wins, the other
    is refused, and the winner is the owner everywhere."""
    one, two = replicas
    results = await asyncio.gather(
        one.record("alice", "resp_race"), two.record("bob", "resp_race"), return_exceptions=True
    )
    assert sorted(type(r).__name__ for r in results) == ["NoneType", "OwnerConflict"]
    winner = "alice" if results[0] is None else "bob"
    loser = "bob" if winner == "alice" else "alice"
    assert await one.owns(winner, "resp_race")
    assert await two.owns(winner, "resp_race")
    assert not await one.owns(loser, "resp_race")


async def test_forget_deletes_only_the_callers_own_entry(
    replicas: tuple[ResponseOwners, ResponseOwners],
) -> None:
    """Another caller's forget leaves the entry; the owner's removes it on every replica."""
    one, two = replicas
    await one.record("alice", "resp_3")
    await two.forget("bob", "resp_3")
    assert await one.owns("alice", "resp_3")
    await two.forget("alice", "resp_3")
    assert not await one.owns("alice", "resp_3")
    await two.forget("alice", "resp_3")  # already gone: nothing to do


async def test_odd_and_long_ids_are_stored_and_looked_up_safely(
    replicas: tuple[ResponseOwners, ResponseOwners],
) -> None:
    """Ids longer than Elasticsearch's 512-byte ``_id`` or holding ``/``, ``?``, ``#`` are
    owned like any other and never answered for a different id."""
    one, two = replicas
    long_id = "resp_" + "x" * 2000
    odd = "resp/../_doc?x=1#y"
    await one.record("alice", long_id)
    await one.record("alice", odd)
    assert await two.owns("alice", long_id)
    assert await two.owns("alice", odd)
    assert not await two.owns("alice", long_id[:-1])
    assert not await two.owns("alice", "resp")


async def test_without_the_index_nothing_is_owned_and_record_creates_it(
    settings: Settings,
) -> None:
    """Before the index exists a lookup answers "not owned" (404 upstream of it, never an
    error shown as someone's response); the first record creates it with its mapping."""
    async with ChunkIndex.from_settings(settings) as index:
        owners = ResponseOwners(index.client, settings.index_prefix)
        assert not await owners.owns("alice", "resp_4")
        await owners.forget("alice", "resp_4")
        await owners.record("alice", "resp_4")
        assert await owners.owns("alice", "resp_4")
        mapping = await index.client.indices.get_mapping(index=owners.index)
        assert mapping[owners.index]["mappings"]["dynamic"] == "strict"


async def test_an_index_from_before_the_files_field_gains_it_in_place(
    settings: Settings,
) -> None:
    """An index created with the mapping of old (no ``files``): its entries hold no files,
    and on start the field is added in place, so new entries record theirs."""
    async with ChunkIndex.from_settings(settings) as index:
        owners = ResponseOwners(index.client, settings.index_prefix)
        old = owners_mapping()
        del old["properties"]["files"]
        await index.client.indices.create(index=owners.index, mappings=old)
        await index.client.index(
            index=owners.index,
            id=sha256_hex("resp_old"),
            document={"response_id": "resp_old", "owner": "alice", "created_at": 1},
        )
        async with ResponseOwners(index.client, settings.index_prefix) as started:
            assert await started.held("alice", "resp_old") == ()
            await started.record("alice", "resp_new", files=["file-1", "file-2"])
            assert await started.held("alice", "resp_new") == ("file-1", "file-2")
            assert await started.held("bob", "resp_new") is None


async def test_an_unreachable_cluster_fails_closed(settings_for: Any) -> None:
    """Elasticsearch down: recording and checking ownership are 503s, never "owned"."""
    from .conftest import closed_port_url

    settings = settings_for(elasticsearch_url=closed_port_url())
    async with ChunkIndex.from_settings(settings) as index:
        owners = ResponseOwners(index.client, settings.index_prefix)
        for attempt in (
            owners.owns("alice", "resp_5"),
            owners.record("alice", "resp_5"),
            owners.forget("alice", "resp_5"),
        ):
            with pytest.raises(DependencyUnavailable):
                await attempt


async def test_two_gateways_share_response_ownership(
    settings_for: Any, tmp_path: Any, fake_upstream: FakeUpstream
) -> None:
    """A response created through one gateway is its owner's through the other: GET there
    is 200 for alice, 404 for bob; alice continues and deletes it there, and then it is
    gone on the first too."""
    first = settings_for(audit_dir=tmp_path / "audit-1")
    second = settings_for(audit_dir=tmp_path / "audit-2")
    assert first.index_prefix == second.index_prefix
    alice, bob = {"Authorization": f"Bearer {ALICE}"}, {"Authorization": f"Bearer {BOB}"}
    ask = {"model": "gpt-4o-mini", "input": "hello", "metadata": {"gateway_retrieval": "off"}}
    async with (
        AsyncTestClient(app=create_app(first)) as one,
        AsyncTestClient(app=create_app(second)) as two,
    ):
        created = await one.post("/v1/responses", json=ask, headers=alice)
        assert created.status_code == 200, created.text
        response_id = created.json()["id"]

        own = await two.get(f"/v1/responses/{response_id}", headers=alice)
        assert own.status_code == 200, own.text
        assert own.json()["id"] == response_id
        other = await two.get(f"/v1/responses/{response_id}", headers=bob)
        assert other.status_code == 404
        assert other.json()["error"]["type"] == "not_found_error"

        chained = await two.post(
            "/v1/responses", json={**ask, "previous_response_id": response_id}, headers=alice
        )
        assert chained.status_code == 200, chained.text
        refused = await two.post(
            "/v1/responses", json={**ask, "previous_response_id": response_id}, headers=bob
        )
        assert refused.status_code == 404

        deleted = await two.delete(f"/v1/responses/{response_id}", headers=alice)
        assert deleted.status_code == 200, deleted.text
        gone = await one.get(f"/v1/responses/{response_id}", headers=alice)
        assert gone.status_code == 404
